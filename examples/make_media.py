"""Rebuild examples/media from what ships in installed packages (run once; the output is committed).

Photos: scikit-image's and scikit-learn's sample pictures (licences in
examples/media/LICENSES.md), under camera names so that a search finds them by what they
show, not by their names; at most 800 px, JPEG quality 85. The voice memo: espeak-ng
(`apt-get install espeak-ng`), 16 kHz mono. The PDF: a two-page text PDF written here by
hand (no PDF library needed). Run from the repository root::

    .venv/bin/python examples/make_media.py
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
from PIL import Image

MEDIA = Path(__file__).resolve().parent / "media"
MAX_SIDE = 800

PHOTOS: tuple[tuple[str, str], ...] = (
    ("skimage:chelsea", "IMG_2041.jpg"),
    ("skimage:coffee", "IMG_2044.jpg"),
    ("skimage:rocket", "IMG_2107.jpg"),
    ("skimage:astronaut", "IMG_2301.jpg"),
    ("skimage:brick", "IMG_2210.jpg"),
    ("sklearn:china.jpg", "DSC_0311.jpg"),
    ("sklearn:flower.jpg", "DSC_0318.jpg"),
)

MEMO = (
    "Reminder for Thursday. The dentist moved my appointment to ten in the morning. "
    "Bring the insurance card, and ask about the whitening price."
)

PDF_PAGES: tuple[tuple[str, ...], ...] = (
    (
        "Lease renewal, flat 4, 18 Harbour Road",
        "The rent rises from 950 to 990 pounds a month from the first of June.",
        "The deposit stays with the tenancy deposit scheme.",
    ),
    (
        "Page two: repairs",
        "The landlord will replace the kitchen window before the renewal date.",
        "Boiler service is due in September.",
    ),
)


def _picture(source: str) -> Image.Image:
    package, name = source.split(":")
    if package == "skimage":
        import skimage.data

        pixels = getattr(skimage.data, name)()
        return Image.fromarray(np.asarray(pixels)).convert("RGB")
    from sklearn.datasets import load_sample_image

    return Image.fromarray(load_sample_image(name)).convert("RGB")


def write_photos() -> None:
    """The sample pictures, resized, as JPEG under camera names."""
    folder = MEDIA / "photos"
    folder.mkdir(parents=True, exist_ok=True)
    for source, name in PHOTOS:
        image = _picture(source)
        image.thumbnail((MAX_SIDE, MAX_SIDE))
        image.save(folder / name, quality=85)


def write_memo() -> None:
    """The voice memo, spoken by espeak-ng."""
    folder = MEDIA / "recordings"
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / "voice_memo_0412.wav"
    subprocess.run(["espeak-ng", "-v", "en-gb", "-s", "150", "-w", str(out), MEMO], check=True)
    # espeak-ng writes 22,050 Hz; whisper wants 16 kHz, so store it that way (smaller too).
    import wave

    with wave.open(str(out)) as w:
        rate, frames = w.getframerate(), w.readframes(w.getnframes())
    samples = np.frombuffer(frames, dtype=np.int16).astype(np.float64)
    times = np.arange(0, len(samples) / rate, 1 / 16000)
    resampled = np.interp(times, np.arange(len(samples)) / rate, samples).astype(np.int16)
    with wave.open(str(out), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(resampled.tobytes())


def _escape(line: str) -> str:
    return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def pdf_bytes(pages: tuple[tuple[str, ...], ...]) -> bytes:
    """A minimal PDF 1.4 with one Helvetica text page per entry."""
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(len(pages)))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for index, lines in enumerate(pages):
        text = " T* ".join(f"({_escape(line)}) Tj" for line in lines)
        stream = f"BT /F1 12 Tf 14 TL 72 720 Td {text} ET".encode()
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {5 + 2 * index} 0 R "
            "/Resources << /Font << /F1 3 0 R >> >> >>".encode()
        )
        objects.append(f"<< /Length {len(stream)} >>\nstream\n".encode() + stream + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return bytes(out)


def write_pdf() -> None:
    """The lease letter as a text PDF."""
    folder = MEDIA / "documents"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "lease_renewal.pdf").write_bytes(pdf_bytes(PDF_PAGES))


if __name__ == "__main__":
    write_photos()
    write_memo()
    write_pdf()
