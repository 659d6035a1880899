"""The sound extractor: a companion that adds sound windows to recordings and videos."""

from __future__ import annotations

from typing import ClassVar

from mmsearch import Extractor, MediaType, Modality, Segment, Source


class SoundExtractor(Extractor):
    """Sound windows of the audio of a file another extractor identified.

    Speech keeps its own path: mmsearch-whisper identifies recordings (its
    ``whisper-video`` reads videos' sound tracks) and writes their transcripts into the
    library's text space; this extractor runs beside it on the same files
    (``contributes_to``) and adds ``sound`` segments for the CLAP space, so "a dog
    barking" finds the bark and "happy birthday" the words. It runs only in libraries
    with a space that embeds sounds (``produces``; ``mmsearch index DIR --space clap``),
    and reads the files indexed before that space was added on the next run.
    """

    name: ClassVar[str] = "clap-sound"
    media_type: ClassVar[MediaType] = "audio"
    extensions: ClassVar[frozenset[str]] = frozenset()
    contributes_to: ClassVar[frozenset[MediaType]] = frozenset({"audio", "video"})
    produces: ClassVar[frozenset[Modality] | None] = frozenset({"audio"})

    def extract(self, source: Source) -> list[Segment]:
        """The audible windows; SkipFile("no audio"/"silent") costs only this part."""
        from mmsearch_clap.sound import sound_windows

        return sound_windows(source)
