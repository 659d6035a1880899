"""The REST API against a real server: the CLI's JSON shapes, items, media, jobs, errors."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

from conftest import MMSEARCH, Served, cli_env, make_library, request, start_server, stop_server


def _cli_json(served: Served, *args: str) -> Any:
    done = subprocess.run(
        [*MMSEARCH, "--db", str(served.db), *args, "--json", "--no-server"],
        check=True, capture_output=True, env=cli_env(served.db.parent), text=True,
    )  # fmt: skip
    return json.loads(done.stdout)


def _without_timings(shaped: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in shaped.items() if k != "timings_ms"}


def test_search_answers_exactly_what_the_cli_prints_with_item_ids(served: Served) -> None:
    status, _, body = served.get("/api/v1/search?q=red+car&k=5")
    assert status == 200
    assert _without_timings(body) == _without_timings(
        _cli_json(served, "query", "red car", "-k", "5")
    )
    assert body["results"][0]["path"].endswith("car.txt")
    assert all(isinstance(hit["item_id"], int) for hit in body["results"])


def test_filters_and_options_are_the_cli_flags(served: Served) -> None:
    status, _, body = served.get("/api/v1/search?q=red&type=image&show_weak=true&k=3")
    assert status == 200
    assert body["results"] and {h["modality"] for h in body["results"]} == {"image"}
    assert body["plan"]["options"]["keep_weak"] is True


def test_bad_query_is_a_400_with_the_parsers_caret(served: Served) -> None:
    status, _, body = served.get("/api/v1/search?q=%22unclosed")
    assert status == 400
    assert "Bad query" in body["error"]["message"] and "^" in body["error"]["message"]


def test_an_item_comes_with_its_segments_and_its_file_with_ranges(served: Served) -> None:
    _, _, found = served.get("/api/v1/search?q=budget+library+council&type=audio&show_weak=true")
    hit = found["results"][0]
    status, _, item = served.get(f"/api/v1/items/{hit['item_id']}")
    assert status == 200 and item["path"].endswith("meeting.ogg")
    assert any(s["start"] and s["start"] > 5 for s in item["segments"])
    status, headers, part = served.get(f"/media/{hit['item_id']}", {"Range": "bytes=0-99"})
    assert status == 206 and len(part) == 100
    assert part == (served.media / "meeting.ogg").read_bytes()[:100]
    assert headers["content-range"].startswith("bytes 0-99/")


def test_thumbnails_are_made_once_and_remade_when_the_file_changes(served: Served) -> None:
    _, _, found = served.get("/api/v1/search?q=red&type=image&show_weak=true&k=1")
    item_id = found["results"][0]["item_id"]
    status, headers, data = served.get(f"/thumb/{item_id}?size=128")
    assert status == 200 and headers["content-type"] == "image/jpeg" and data[:2] == b"\xff\xd8"
    cached = list(served.db.with_name("catalog.db.thumbs").glob(f"{item_id}-*"))
    assert len(cached) == 1
    status, _, _ = served.get("/thumb/999999")
    assert status == 404


def test_audio_and_text_get_icons(served: Served) -> None:
    _, _, found = served.get("/api/v1/search?q=budget&show_weak=true&k=10")
    kinds = {h["modality"]: h["item_id"] for h in found["results"]}
    for modality in ("audio", "text"):
        status, headers, data = served.get(f"/thumb/{kinds[modality]}")
        assert status == 200 and headers["content-type"] == "image/svg+xml" and b"<svg" in data


def test_unknown_item_is_a_404_that_says_what_to_do(served: Served) -> None:
    status, _, body = served.get("/api/v1/items/424242")
    assert status == 404 and "run the search again" in body["error"]["message"]


def test_status_and_plugins_are_the_cli_shapes(served: Served) -> None:
    status, _, body = served.get("/api/v1/status")
    assert status == 200 and body == _cli_json(served, "status")
    status, _, plugins = served.get("/api/v1/plugins")
    assert status == 200 and {"plugins", "failed"} <= set(plugins)


def test_openapi_schema_lists_the_v1_routes(served: Served) -> None:
    status, _, schema = served.get("/api/v1/openapi.json")
    assert status == 200
    for route in ("/api/v1/search", "/api/v1/items/{item_id}", "/api/v1/index",
                  "/api/v1/jobs/{job_id}", "/media/{item_id}", "/thumb/{item_id}"):  # fmt: skip
        assert route in schema["paths"]


def _multipart(fields: list[tuple[str, str, bytes | str]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    out = b""
    for name, filename, value in fields:
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"'.encode()
        if filename:
            out += f'; filename="{filename}"\r\nContent-Type: application/octet-stream'.encode()
        out += b"\r\n\r\n" + (value.encode() if isinstance(value, str) else value) + b"\r\n"
    return out + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def test_example_upload_finds_the_same_image_and_names_the_clients_path(served: Served) -> None:
    example = served.media / "photos" / "red.png"
    body, kind = _multipart([("image", "red.png", example.read_bytes()),
                             ("spec", "", "/somewhere/red.png")])  # fmt: skip
    status, _, found = request(served.url + "/api/v1/search?k=3", body, {"Content-Type": kind})
    assert status == 200, found
    assert found["results"][0]["path"].endswith("photos/red.png")
    assert found["query"]["examples"] == ["/somewhere/red.png"]


def test_index_job_runs_reports_progress_and_streams_events(tmp_path: Path) -> None:
    db, media = make_library(tmp_path)
    served = start_server(db, media, home=tmp_path / "home")
    try:
        (media / "new.txt").write_text("A green bicycle leaning on the fence.")
        data = json.dumps({"paths": [str(media)]}).encode()
        status, _, job = request(served.url + "/api/v1/index", data,
                                 {"Content-Type": "application/json"})  # fmt: skip
        assert status == 202 and job["state"] in ("queued", "running", "done")
        status, headers, events = served.get(f"/api/v1/jobs/{job['job_id']}/events")
        assert status == 200 and headers["content-type"].startswith("text/event-stream")
        assert b"event: end" in events
        _, _, final = served.get(f"/api/v1/jobs/{job['job_id']}")
        assert final["state"] == "done" and final["report"]["indexed"] == 1
        _, _, found = served.get("/api/v1/search?q=green+bicycle")
        assert found["results"][0]["path"].endswith("new.txt")
        status, _, missing = request(served.url + "/api/v1/index",
                                     json.dumps({"paths": [str(tmp_path / "nope")]}).encode(),
                                     {"Content-Type": "application/json"})  # fmt: skip
        assert status == 400 and "not a folder" in missing["error"]["message"]
    finally:
        assert stop_server(served) == 0
    assert not db.with_name("catalog.db.server.json").exists()


def test_read_only_server_refuses_index_jobs_with_409(tmp_path: Path) -> None:
    db, media = make_library(tmp_path)
    served = start_server(db, media, "--read-only", home=tmp_path / "home")
    try:
        status, _, body = request(served.url + "/api/v1/index",
                                  json.dumps({"paths": [str(media)]}).encode(),
                                  {"Content-Type": "application/json"})  # fmt: skip
        assert status == 409 and "--read-only" in body["error"]["message"]
    finally:
        stop_server(served)


def test_a_cancelled_job_keeps_its_committed_batches_and_the_next_run_finishes(
    tmp_path: Path,
) -> None:
    db, media = make_library(tmp_path)
    many = media / "many"
    many.mkdir()
    for i in range(2000):
        (many / f"n{i:04d}.txt").write_text(f"Note number {i} about walrus{i}.")
    served = start_server(db, media, home=tmp_path / "home")
    try:
        body = json.dumps({"paths": [str(media)]}).encode()
        _, _, job = request(
            served.url + "/api/v1/index", body, {"Content-Type": "application/json"}
        )
        while True:  # cancel once the first batch is in
            _, _, seen = served.get(f"/api/v1/jobs/{job['job_id']}")
            if seen["done"] or seen["state"] != "running":
                break
        status, _, _ = request(served.url + f"/api/v1/jobs/{job['job_id']}", method="DELETE")
        assert status == 200
        served.get(f"/api/v1/jobs/{job['job_id']}/events")  # returns when the job ended
        _, _, final = served.get(f"/api/v1/jobs/{job['job_id']}")
        assert final["state"] == "cancelled", final
        assert 0 < final["done"] < 2000 and final["done"] % 64 == 0  # whole batches only
        _, _, again = request(
            served.url + "/api/v1/index", body, {"Content-Type": "application/json"}
        )
        served.get(f"/api/v1/jobs/{again['job_id']}/events")
        _, _, second = served.get(f"/api/v1/jobs/{again['job_id']}")
        assert second["state"] == "done"
        assert second["report"]["indexed"] == 2000 - final["done"]
    finally:
        stop_server(served)
