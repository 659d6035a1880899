"""Security: loopback by default, token, Host allowlist, no paths from requests, caps."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from conftest import MMSEARCH, Served, cli_env, make_library, request, start_server, stop_server


def test_path_traversal_serves_nothing(served: Served) -> None:
    for path in ("/media/..%2f..%2f..%2fetc%2fpasswd", "/media/../../etc/passwd",
                 "/thumb/..%2Fcatalog.db", "/static/..%2f..%2fcli%2fapp.py",
                 "/static/../serve/app.py", "/media/1%2f..%2f..%2fetc%2fpasswd"):  # fmt: skip
        status, _, body = served.get(path)
        assert status in (400, 404), (path, status)
        assert b"root:" not in (body if isinstance(body, bytes) else json.dumps(body).encode())


def test_a_foreign_host_header_is_refused(served: Served) -> None:
    status, _, body = served.get("/api/v1/status", {"Host": "evil.example:8765"})
    assert status == 400 and "DNS rebinding" in body["error"]["message"]
    status, _, _ = served.get("/", {"Host": "attacker.test"})
    assert status == 400


def test_no_cors_headers_unless_asked(served: Served) -> None:
    _, headers, _ = served.get("/api/v1/status", {"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in headers


MULTIPART = {"Content-Type": "multipart/form-data; boundary=b"}


def test_an_oversized_upload_is_refused_before_it_is_read(tmp_path: Path) -> None:
    db, media = make_library(tmp_path)
    served = start_server(db, media, "--max-upload-mb", "0.01", home=tmp_path / "home")
    try:
        body = b'--b\r\nContent-Disposition: form-data; name="image"; filename="x.png"\r\n\r\n'
        body += b"\0" * 200_000 + b"\r\n--b--\r\n"
        status, _, answer = request(served.url + "/api/v1/search", body, MULTIPART)
        assert status == 413 and "upload cap" in answer["error"]["message"]
        small = b"\0" * 30_000  # under the header check's slack, over the cap while read
        body = (b"--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"x.png\""
                b"\r\n\r\n" + small + b"\r\n--b--\r\n")  # fmt: skip
        status, _, answer = request(served.url + "/api/v1/search", body, MULTIPART)
        assert status == 413, answer
    finally:
        stop_server(served)


def test_a_query_over_the_length_cap_is_refused(served: Served) -> None:
    status, _, body = served.get("/api/v1/search?q=" + "a" * 3000)
    assert status == 400 and "at most" in body["error"]["message"]


def test_with_a_token_every_request_must_carry_it(tmp_path: Path) -> None:
    db, media = make_library(tmp_path)
    served = start_server(db, media, "--token", "s3cret-token", home=tmp_path / "home")
    try:
        for path in ("/api/v1/status", "/api/v1/search?q=car", "/media/1", "/thumb/1", "/"):
            status, _, _ = served.get(path)
            assert status == 401, path
        status, _, _ = served.get("/api/v1/status", {"Authorization": "Bearer wrong"})
        assert status == 401
        status, _, _ = served.get("/api/v1/status", {"Authorization": "Bearer s3cret-token"})
        assert status == 200
        status, headers, _ = served.get("/?token=s3cret-token")
        assert status == 200 and "mmsearch_token=" in headers["set-cookie"]
    finally:
        stop_server(served)


def test_binding_beyond_loopback_needs_a_token(tmp_path: Path) -> None:
    done = subprocess.run(
        [*MMSEARCH, "--db", str(tmp_path / "c.db"), "serve", "--host", "0.0.0.0"],
        capture_output=True, text=True, env=cli_env(tmp_path), timeout=60,
    )  # fmt: skip
    assert done.returncode == 2 and "--token" in done.stderr
    assert not (tmp_path / "c.db").exists()
