"""The PDF extractor: page-bounded chunks with offsets, and every way a PDF can refuse.

PDFs are written by hand here (a few objects and an xref table), so each test
shows exactly what the file holds; pypdf only encrypts them.
"""

from __future__ import annotations

import importlib.util
import io
import os
import random
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from mmsearch_documents import PdfExtractor, joined, page_of
from mmsearch_text import PlainTextExtractor
from support import CountingEncoder, PluginObject

from mmsearch import ExtractSettings, Library, Segment, SkipFile, Source
from mmsearch.index.extraction import extract_file
from mmsearch.plugins import load_plugins

# -- writing PDFs ---------------------------------------------------------------------------

_IMAGE = (
    b"<< /Type /XObject /Subtype /Image /Width 2 /Height 2 /ColorSpace /DeviceGray "
    b"/BitsPerComponent 8 /Length 4 >>\nstream\n\x00\xff\xff\x00\nendstream"
)


def _escape(text: str) -> bytes:
    raw = text.encode("latin-1")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def _content(lines: Sequence[str] | None) -> bytes:
    """A page's drawing operators: lines of 12 pt Helvetica, or (None) only an image."""
    if lines is None:
        return b"q 200 0 0 200 100 400 cm /Im1 Do Q"
    shown = b" ".join(b"(" + _escape(line) + b") Tj T*" for line in lines)
    return b"BT /F1 12 Tf 14 TL 72 720 Td " + shown + b" ET"


def _page_objects(index: int, lines: Sequence[str] | None) -> list[bytes]:
    content = _content(lines)
    page = (
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << "
        f"/Font << /F1 3 0 R >> /XObject << /Im1 4 0 R >> >> /Contents {6 + 2 * index} 0 R >>"
    )
    stream = f"<< /Length {len(content)} >>\nstream\n".encode() + content + b"\nendstream"
    return [page.encode(), stream]


def make_pdf(pages: Sequence[Sequence[str] | None]) -> bytes:
    """A PDF with one page per entry: its lines of text, or None for an image-only page."""
    kids = " ".join(f"{5 + 2 * i} 0 R" for i in range(len(pages)))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        _IMAGE,
    ]
    for index, lines in enumerate(pages):
        objects += _page_objects(index, lines)
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    trailer = f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    return bytes(out + trailer.encode())


def encrypt(raw: bytes, user_password: str, algorithm: str = "RC4-128") -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(raw)))
    writer.encrypt(user_password, owner_password="owner-secret", algorithm=algorithm)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# -- helpers --------------------------------------------------------------------------------

REPORT = [
    ["Annual report 2025", "The harbour budget grew by a third."],
    ["Page two is about the kitchen garden.", "Tomatoes, beans and basil."],
]


def _write(tmp_path: Path, raw: bytes, name: str = "doc.pdf") -> Path:
    path = tmp_path / name
    path.write_bytes(raw)
    return path


def _source(path: Path, **settings: Any) -> Source:
    raw = os.fsencode(path)
    return Source(raw, os.fsdecode(raw), os.path.getsize(raw), ExtractSettings(**settings))


def _segments(path: Path, **settings: Any) -> list[Segment]:
    return list(PdfExtractor().extract(_source(path, **settings)))


def _skip(path: Path, **settings: Any) -> SkipFile:
    with pytest.raises(SkipFile) as caught:
        _segments(path, **settings)
    return caught.value


def _page_texts(path: Path) -> list[str]:
    from pypdf import PdfReader

    return [page.extract_text() for page in PdfReader(path).pages]


# -- chunks and offsets ---------------------------------------------------------------------


def test_each_page_is_chunked_and_offsets_point_into_the_joined_text(tmp_path: Path) -> None:
    path = _write(tmp_path, make_pdf(REPORT))
    segments = _segments(path)
    whole = joined(_page_texts(path))
    assert [s.content for s in segments] == [
        "Annual report 2025\nThe harbour budget grew by a third.",
        "Page two is about the kitchen garden.\nTomatoes, beans and basil.",
    ]
    for segment in segments:
        assert (segment.kind, segment.modality, segment.start, segment.end) == (
            "text",
            "text",
            None,
            None,
        )
        assert segment.text == segment.content == whole[segment.char_start : segment.char_end]
    assert [page_of(_page_texts(path), s.char_start or 0) for s in segments] == [1, 2]


def test_small_chunks_never_cross_a_page_and_lose_no_word(tmp_path: Path) -> None:
    rng = random.Random(5)
    words = ["budget", "harbour", "garden", "kitchen", "invoice", "station", "meeting", "quarter"]
    # Lines without sentence ends, of uneven lengths: page ends fall anywhere in a chunk.
    pages = [
        [" ".join(rng.choices(words, k=rng.randint(3, 12))) for _ in range(5)] for _ in range(6)
    ]
    path = _write(tmp_path, make_pdf(pages))
    texts = _page_texts(path)
    segments = _segments(path, text_chunk_chars=80)
    assert len(segments) > len(pages)
    previous_end = 0
    for segment in segments:
        start, end = segment.char_start or 0, segment.char_end or 0
        assert previous_end <= start < end and end - start <= 80
        assert page_of(texts, start) == page_of(texts, end - 1)
        previous_end = end
    chunked = " ".join(s.content for s in segments).split()
    assert chunked == " ".join(" ".join(lines) for lines in pages).split()


def test_image_only_page_between_text_pages_keeps_page_numbers(tmp_path: Path) -> None:
    path = _write(tmp_path, make_pdf([["First page words"], None, ["Third page words"]]))
    texts = _page_texts(path)
    segments = _segments(path)
    assert [s.content for s in segments] == ["First page words", "Third page words"]
    assert [page_of(texts, s.char_start or 0) for s in segments] == [1, 3]


def test_pdf_is_found_through_the_engine(db_path: Path, tmp_path: Path) -> None:
    root = tmp_path / "media"
    root.mkdir()
    _write(root, make_pdf(REPORT), "report.pdf")
    (root / "notes.txt").write_text("Swimming in the blue sea every morning.")
    plugin = PluginObject([PdfExtractor(), PlainTextExtractor()], [CountingEncoder()])
    with Library.open(db_path, registry=load_plugins(plugin, discover=False)) as lib:
        report = lib.index(root)
        assert (report.indexed, report.skipped, report.failed) == (2, [], []), report.to_json()
        [hit] = lib.query("kitchen garden tomatoes", k=1)
        assert hit.path.endswith("report.pdf")
        assert hit.text is not None and "Tomatoes, beans and basil." in hit.text
        with lib.catalog.engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT rowid FROM segments_fts WHERE segments_fts MATCH 'harbour'"
            ).fetchall()
        assert len(rows) == 1


def test_pdf_named_otherwise_is_read_by_its_signature(tmp_path: Path) -> None:
    path = _write(tmp_path, make_pdf(REPORT), "scan-0001.dat")
    outcome = extract_file([PlainTextExtractor(), PdfExtractor()], _source(path))
    assert outcome.status == "done", outcome.detail
    assert outcome.extractor is not None and outcome.extractor.name == "pdf"


# -- encryption -----------------------------------------------------------------------------


def test_empty_user_password_is_opened(tmp_path: Path) -> None:
    path = _write(tmp_path, encrypt(make_pdf(REPORT), ""))
    assert [s.content.split("\n")[0] for s in _segments(path)] == [
        "Annual report 2025",
        "Page two is about the kitchen garden.",
    ]


def test_password_protected_pdf_is_skipped_with_what_to_do(tmp_path: Path) -> None:
    skip = _skip(_write(tmp_path, encrypt(make_pdf(REPORT), "secret")))
    assert skip.reason == "encrypted"
    assert "protected by a password" in skip.detail and "copy without the password" in skip.detail


@pytest.mark.skipif(
    importlib.util.find_spec("cryptography") is None,
    reason="AES needs cryptography (pypdf[crypto]), which mmsearch-documents declares",
)
def test_aes_encryption_with_empty_password_is_opened(tmp_path: Path) -> None:
    path = _write(tmp_path, encrypt(make_pdf(REPORT), "", algorithm="AES-256"))
    assert len(_segments(path)) == 2


def test_aes_without_cryptography_says_what_to_install_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError

    def needs_cryptography(_reader: Any, _password: str) -> Any:
        raise DependencyError("cryptography>=3.1 is required for AES algorithm")

    monkeypatch.setattr(PdfReader, "decrypt", needs_cryptography)
    skip = _skip(_write(tmp_path, encrypt(make_pdf(REPORT), "")))
    assert (skip.reason, skip.once) == ("missing decoder", True)
    assert "pip install 'pypdf[crypto]'" in skip.detail


# -- files that hold no usable text ---------------------------------------------------------


def test_scan_without_text_layer_is_skipped(tmp_path: Path) -> None:
    skip = _skip(_write(tmp_path, make_pdf([None, None])))
    assert skip.reason == "no text layer"
    assert "OCR of PDFs is not supported yet" in skip.detail


def test_text_layer_of_control_codes_is_skipped(tmp_path: Path) -> None:
    # A font without a character map: the "text" is glyph numbers.
    skip = _skip(_write(tmp_path, make_pdf([["\x01\x02\x03\x04\x05\x06\x07\x08" * 30]])))
    assert skip.reason == "unreadable text layer"


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda raw: raw[: len(raw) // 2], id="truncated"),
        pytest.param(lambda raw: b"%PDF-1.4\n" + random.Random(1).randbytes(3000), id="garbage"),
        pytest.param(lambda raw: b"%PDF-1.7\n", id="header only"),
    ],
)
def test_damaged_pdf_is_skipped_as_corrupt(tmp_path: Path, damage: Any) -> None:
    path = _write(tmp_path, damage(make_pdf(REPORT)))
    outcome = extract_file([PdfExtractor()], _source(path))
    assert (outcome.status, outcome.reason) == ("skipped", "corrupt document"), outcome.detail
    assert outcome.detail is not None and "open it in a PDF viewer" in outcome.detail


# -- limits ---------------------------------------------------------------------------------


def test_page_limit_skips_long_documents_and_says_how_to_raise_it(tmp_path: Path) -> None:
    path = _write(tmp_path, make_pdf([["one"], ["two"], ["three"]]))
    skip = _skip(path, options={"pdf_max_pages": "2"})
    assert skip.reason == "too large"
    assert "3 pages, over the 2-page limit" in skip.detail and "--set pdf_max_pages" in skip.detail
    assert len(_segments(path, options={"pdf_max_pages": "3"})) == 3


def test_bad_page_limit_is_one_message_for_the_run(tmp_path: Path) -> None:
    skip = _skip(_write(tmp_path, make_pdf(REPORT)), options={"pdf_max_pages": "many"})
    assert (skip.reason, skip.once) == ("bad setting", True)
    assert "pdf_max_pages must be a whole number" in skip.detail


def test_text_over_the_size_limit_is_skipped(tmp_path: Path) -> None:
    pages = [["word " * 20] for _ in range(5)]
    skip = _skip(_write(tmp_path, make_pdf(pages)), max_text_bytes=300)
    assert skip.reason == "too large" and "--max-text-mb" in skip.detail


def test_registering_the_plugin_does_not_import_pypdf() -> None:
    script = (
        "import sys\n"
        "from mmsearch.plugins import load_plugins\n"
        "assert any(e.name == 'pdf' for e in load_plugins().extractors)\n"
        "assert 'pypdf' not in sys.modules\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMSEARCH_")}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
