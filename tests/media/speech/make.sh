#!/usr/bin/env bash
# Regenerates the committed speech recordings (needs espeak-ng, sox and the project's .venv):
#   meeting.ogg   a greeting, silence, then the budget sentence starting at exactly 8.0 s
#   weather.ogg   an unrelated sentence, another voice
#   question.ogg  a question about the budget sentence, worded differently, another voice
# espeak-ng speaks, sox resamples, pads and joins, PyAV encodes Ogg Opus (sox has no Opus).
set -euo pipefail
cd "$(dirname "$0")"
python=${PYTHON:-../../../.venv/bin/python}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

say() {  # say VOICE NAME TEXT: 16 kHz mono 16-bit WAV in $tmp/NAME.wav
    espeak-ng -v "$1" -s 150 -w "$tmp/$2.raw.wav" "$3"
    sox "$tmp/$2.raw.wav" -r 16000 -c 1 -b 16 "$tmp/$2.wav"
}

say en-us greeting "Good morning everyone, thanks for joining the call today."
say en-us budget "The budget for the new library building has been approved by the city council."
say en-gb-x-rp weather "Tomorrow will be sunny and warm, with a light breeze from the west."
say en-gb question "When did the council agree to pay for the new library?"

# The greeting padded with silence to 8.0 s, so the budget sentence starts at 8.0 s.
sox -n -r 16000 -c 1 -b 16 "$tmp/silence.wav" trim 0 8
sox "$tmp/greeting.wav" "$tmp/silence.wav" "$tmp/greeting8.wav" trim 0 8
sox "$tmp/greeting8.wav" "$tmp/budget.wav" "$tmp/meeting.wav" pad 0 1
sox "$tmp/weather.wav" "$tmp/weather1.wav" pad 0.5 1
sox "$tmp/question.wav" "$tmp/question1.wav" pad 0.5 1

for name in meeting weather1 question1; do
    "$python" encode_opus.py "$tmp/$name.wav" "${name%1}.ogg"
done
ls -l ./*.ogg
