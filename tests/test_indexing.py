"""Indexing: incremental re-scans, moves, removals, and every hostile input named in the design."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support import CountingEncoder, PoisonEncoder, make_registry, running_as_root, save_image

from mmsearch import IndexOptions, Library
from mmsearch.errors import LockedError
from mmsearch.store.locations import lock_path
from mmsearch.store.locking import writer_lock


def _statuses(db_path: Path) -> dict[str, tuple[str, str | None]]:
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute("SELECT display, status, reason FROM items").fetchall()
    return {display: (status, reason) for display, status, reason in rows}


def _vector_ids(db_path: Path) -> set[int]:
    with sqlite3.connect(db_path) as conn:
        return {r[0] for r in conn.execute("SELECT segment_id FROM vectors")}


def test_first_run_indexes_every_supported_file(library: Library, media: Path) -> None:
    report = library.index(media)
    assert report.indexed == 5
    assert report.skipped == [] and report.failed == []
    space = library.catalog.active_space()
    assert space is not None and space.encoder_id == "counting"
    assert library.store(space).ids() == _vector_ids(library.db_path)


def test_rescan_reads_nothing_when_nothing_changed(
    library: Library, media: Path, counting_encoder: CountingEncoder
) -> None:
    library.index(media)
    calls_before = counting_encoder.inputs
    report = library.index(media)
    assert (report.indexed, report.unchanged, report.removed) == (0, 5, 0)
    assert counting_encoder.inputs == calls_before


def test_changed_file_is_reindexed_and_its_old_vectors_dropped(
    library: Library, media: Path
) -> None:
    library.index(media)
    before = _vector_ids(library.db_path)
    target = media / "car.txt"
    target.write_text("A blue bicycle leaning on a wall, much longer than before.")
    os.utime(target, ns=(1, 1))
    report = library.index(media)
    assert (report.indexed, report.unchanged) == (1, 4)
    after = _vector_ids(library.db_path)
    assert len(after) == len(before) and after != before
    hits = library.query("blue bicycle", k=1)
    assert hits[0].path.endswith("car.txt")
    space = library.catalog.active_space()
    assert space is not None and library.store(space).ids() == after


def test_deleted_file_leaves_catalog_and_index(library: Library, media: Path) -> None:
    library.index(media)
    (media / "car.txt").unlink()
    report = library.index(media)
    assert report.removed == 1
    assert all(not h.path.endswith("car.txt") for h in library.query("red car harbour", k=10))
    space = library.catalog.active_space()
    assert space is not None and library.store(space).ids() == _vector_ids(library.db_path)


def test_moved_file_keeps_its_vectors_without_re_encoding(
    library: Library, media: Path, counting_encoder: CountingEncoder
) -> None:
    library.index(media)
    before = _vector_ids(library.db_path)
    calls_before = counting_encoder.inputs
    (media / "archive").mkdir()
    (media / "car.txt").rename(media / "archive" / "old-car.txt")
    report = library.index(media)
    assert (report.moved, report.indexed, report.removed) == (1, 0, 0)
    assert counting_encoder.inputs == calls_before
    assert _vector_ids(library.db_path) == before
    assert library.query("red car harbour", k=1)[0].path.endswith("archive/old-car.txt")


def test_report_json_has_the_stable_shape(library: Library, media: Path) -> None:
    (media / "empty.txt").write_bytes(b"")
    payload = library.index(media).to_json()
    assert {"indexed", "unchanged", "moved", "removed", "skipped", "failed", "seconds"} <= set(
        payload
    )
    assert payload["skipped"] == {"empty file": 1}
    assert payload["failed"] == []


# -- hostile input: skip, say why, count, keep going -------------------------------------


def test_zero_byte_file_is_skipped_with_a_reason(library: Library, media: Path) -> None:
    (media / "empty.jpg").write_bytes(b"")
    report = library.index(media)
    assert report.indexed == 5
    [problem] = report.skipped
    assert problem.path.endswith("empty.jpg") and problem.reason == "empty file"
    assert _statuses(library.db_path)["empty.jpg"] == ("skipped", "empty file")


def test_truncated_image_is_skipped_and_the_rest_indexed(library: Library, media: Path) -> None:
    good = save_image(media / "photo.jpg", (10, 200, 10), size=(400, 300), quality=95)
    data = good.read_bytes()
    (media / "truncated.jpg").write_bytes(data[: len(data) // 2])
    report = library.index(media)
    assert report.indexed == 6
    assert [(p.path.rsplit("/", 1)[-1], p.reason) for p in report.skipped] == [
        ("truncated.jpg", "corrupt image")
    ]
    assert "re-copy" in report.skipped[0].detail


def test_bit_flipped_image_never_crashes_the_run(library: Library, media: Path) -> None:
    data = bytearray(save_image(media / "photo.png", (1, 2, 3), size=(300, 200)).read_bytes())
    for offset in range(60, len(data), 97):
        data[offset] ^= 0x5A
    (media / "flipped.png").write_bytes(bytes(data))
    report = library.index(media)
    assert report.failed == []
    flipped = _statuses(library.db_path)["flipped.png"]
    assert flipped[0] in ("done", "skipped")


def test_wrong_extension_text_named_jpg_is_skipped(library: Library, media: Path) -> None:
    (media / "notes.jpg").write_text("these are notes, not a photo")
    report = library.index(media)
    assert [p.reason for p in report.skipped] == ["wrong extension"]
    assert "rename" in report.skipped[0].detail


def test_wrong_extension_png_named_txt_is_read_as_an_image(library: Library, media: Path) -> None:
    save_image(media / "picture.png", (0, 0, 0)).rename(media / "picture.txt")
    report = library.index(media)
    assert report.indexed == 6 and report.skipped == []
    with sqlite3.connect(library.db_path) as conn:
        media_type = conn.execute(
            "SELECT media_type FROM items WHERE display = 'picture.txt'"
        ).fetchone()[0]
    assert media_type == "image"


def test_decompression_bomb_over_the_configurable_cap_is_skipped(
    library: Library, media: Path
) -> None:
    save_image(media / "big.png", (5, 5, 5), size=(2000, 1000))  # 2 MP
    options = IndexOptions()
    settings = type(options.settings)(max_image_megapixels=1.5)
    report = library.index(media, settings=settings)
    assert [(p.reason, "--max-image-megapixels" in p.detail) for p in report.skipped] == [
        ("too large", True)
    ]
    # Raising the cap lets it in; the skip was not recorded as permanent.
    os.utime(media / "big.png")
    again = library.index(media, settings=type(settings)(max_image_megapixels=3))
    assert again.indexed == 1


def test_symlink_loop_does_not_hang_and_is_not_followed(library: Library, media: Path) -> None:
    (media / "holiday" / "loop").symlink_to(media, target_is_directory=True)
    (media / "self").symlink_to(".", target_is_directory=True)
    report = library.index(media)
    assert report.indexed == 5


def test_symlink_loop_with_follow_symlinks_visits_each_folder_once(
    library: Library, media: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "elsewhere.txt").write_text("a note kept outside the root")
    (media / "linked").symlink_to(outside, target_is_directory=True)
    (outside / "back").symlink_to(media, target_is_directory=True)
    report = library.index(media, options=IndexOptions(follow_symlinks=True))
    assert report.indexed == 6
    assert "symlink loop" in {p.reason for p in report.skipped}


def test_unreadable_folder_is_reported_and_its_indexed_files_kept(
    library: Library, media: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    library.index(media)
    locked = media / "holiday"
    os.chmod(locked, 0)
    try:
        if running_as_root():
            # Root reads anything; make the folder unreadable the way the OS would.
            real_scandir = os.scandir

            def scandir(path: bytes | str) -> object:
                if os.fsencode(path) == os.fsencode(locked):
                    raise PermissionError(13, "Permission denied", str(path))
                return real_scandir(path)

            monkeypatch.setattr(os, "scandir", scandir)
        report = library.index(media)
    finally:
        os.chmod(locked, 0o755)
    assert report.removed == 0, "files under an unreadable folder are not deleted"
    [problem] = report.skipped
    assert problem.reason == "unreadable folder" and "chmod" in problem.detail
    assert library.query("swimming blue sea", k=1)[0].path.endswith("diary.txt")


def test_non_utf8_file_name_is_indexed_and_shown_escaped(library: Library, media: Path) -> None:
    raw = os.fsencode(media) + b"/caf\xe9 menu.txt"
    with open(raw, "wb") as handle:
        handle.write(b"espresso and croissants")
    report = library.index(media)
    assert report.indexed == 6
    [hit] = library.query("espresso croissants", k=1)
    assert hit.path.endswith("caf\\xe9 menu.txt")
    hit.path.encode("utf-8")  # printable and JSON-safe


@pytest.mark.parametrize("mode", ["raise", "nan", "shape"])
def test_encoder_failing_on_one_item_fails_only_that_item(
    db_path: Path, media: Path, mode: str
) -> None:
    (media / "poison.txt").write_text("this one carries the POISON marker")
    encoder = PoisonEncoder(mode)
    with Library.open(db_path, registry=make_registry(encoder)) as lib:
        report = lib.index(media)
        assert report.indexed == 5
        assert [f.path.rsplit("/", 1)[-1] for f in report.failed] == ["poison.txt"]
        assert report.failed[0].reason == "encoder error"
        statuses = _statuses(db_path)
        assert statuses["poison.txt"] == ("failed", "encoder error")
        assert statuses["car.txt"] == ("done", None)
        assert lib.query("red car harbour", k=1)[0].path.endswith("car.txt")


def test_failed_file_is_retried_only_when_asked(db_path: Path, media: Path) -> None:
    (media / "poison.txt").write_text("POISON")
    with Library.open(db_path, registry=make_registry(PoisonEncoder("raise"))) as lib:
        lib.index(media)
        assert lib.index(media).failed == []  # unchanged: not read again
    with Library.open(db_path, registry=make_registry(_Poison2())) as lib:
        report = lib.index(media, options=IndexOptions(retry_failed=True))
    assert report.indexed == 1 and report.failed == []


class _Poison2(PoisonEncoder):
    """The same space as PoisonEncoder, fixed: it no longer fails."""

    def __init__(self) -> None:
        super().__init__("raise", marker="\x00never")


def test_second_writer_is_told_who_holds_the_lock(library: Library, media: Path) -> None:
    with writer_lock(lock_path(library.db_path)), pytest.raises(LockedError) as info:
        library.index(media)
    message = str(info.value)
    assert f"pid {os.getpid()}" in message and "Wait for it" in message


def test_nothing_indexed_is_lost_when_a_file_turns_bad(library: Library, media: Path) -> None:
    library.index(media)
    image = media / "red.png"
    image.write_bytes(image.read_bytes()[:30])  # the file itself is damaged now
    report = library.index(media)
    assert [p.reason for p in report.skipped] == ["corrupt image"]
    # The other files are untouched and still searchable.
    assert library.query("budget next year", k=1)[0].path.endswith("budget.md")


def test_images_are_batched_across_files(db_path: Path, tmp_path: Path) -> None:
    root = tmp_path / "many"
    for i in range(20):
        save_image(root / f"{i:02d}.png", (i * 10, 0, 0))
    encoder = CountingEncoder()
    with Library.open(db_path, registry=make_registry(encoder)) as lib:
        lib.index(root)
    assert max(encoder.calls) == encoder.batch_size


def test_query_by_example_image_finds_that_image(library: Library, media: Path) -> None:
    library.index(media)
    [hit] = library.query(example=media / "red.png", k=1)
    [vector] = [s for s in hit.why["signals"] if s["signal"].startswith("vector:")]
    assert hit.path.endswith("red.png") and vector["raw"] == pytest.approx(1.0, abs=1e-5)
    assert hit.modality == "image" and hit.kind == "image"


def test_stored_vectors_are_float32_unit_length(library: Library, media: Path) -> None:
    report = library.index(media)
    with sqlite3.connect(library.db_path) as conn:
        blobs = [r[0] for r in conn.execute("SELECT data FROM vectors")]
    # The loop below checks nothing unless every segment of the five files was stored.
    assert report.indexed == 5 and report.segments >= 5
    assert len(blobs) == report.segments
    for blob in blobs:
        vector = np.frombuffer(blob, dtype=np.float32)
        assert vector.shape == (256,)
        assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)


def test_large_image_payload_is_rgb(
    library: Library, media: Path, counting_encoder: CountingEncoder
) -> None:
    Image.new("RGBA", (32, 32), (0, 0, 0, 0)).save(media / "clear.png")
    library.index(media)
    images = [c for c in counting_encoder.seen if isinstance(c, Image.Image)]
    assert images and all(im.mode == "RGB" for im in images)
