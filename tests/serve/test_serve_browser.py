"""The page in headless Chromium (Debian's package, driven by Playwright; never downloaded).

Skipped, with the reason in the summary, where /usr/bin/chromium or Playwright is missing
(.ci/run installs both where apt is available).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Served

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip

if not os.access(CHROMIUM, os.X_OK):
    pytest.skip(
        f"no Chromium at {CHROMIUM}: install Debian's chromium package (.ci/run does, "
        "where apt is available)",
        allow_module_level=True,
    )
sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is missing")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        context = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=ARGS
        )
        yield context
        context.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    opened = browser.new_page()
    yield opened
    opened.close()


def _search(page: Any, served: Served, text: str) -> None:
    page.goto(served.url + "/")
    page.fill("#q", text)
    page.press("#q", "Enter")


def test_a_query_shows_the_right_files_thumbnail_first(
    page: Any, served: Served, tmp_path: Path
) -> None:
    _search(page, served, "sunflower field")
    first = page.locator("#images article").first
    first.wait_for()
    assert first.get_attribute("data-path").endswith("photos/sunflower_field.png")
    image = first.locator("img")
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=image.element_handle()
    )
    page.screenshot(path=str(tmp_path / "results.png"), full_page=True)
    assert (tmp_path / "results.png").stat().st_size > 1000
    timings = page.evaluate("window.mmsearchTimings")
    print(f"first results painted {timings[0]:.0f} ms after Enter")  # reported, not asserted


def test_an_audio_hit_plays_from_its_moment(page: Any, served: Served) -> None:
    _search(page, served, "budget library council type:audio")
    row = page.locator("#rows article").first
    row.wait_for()
    assert row.get_attribute("data-path").endswith("meeting.ogg")
    audio = row.locator("audio")
    start = float(audio.get_attribute("data-start"))
    assert start > 5  # the sentence about the library is at about 00:08
    page.wait_for_function(
        "a => a.readyState >= 1 && a.currentTime > 0", arg=audio.element_handle()
    )
    assert abs(audio.evaluate("a => a.currentTime") - start) <= 2
    assert "library" in row.locator(".snippet").inner_text().lower()


def test_more_like_this_searches_by_the_hit(page: Any, served: Served) -> None:
    _search(page, served, "sunflower field")
    first = page.locator("#images article").first
    first.wait_for()
    path = first.get_attribute("data-path")
    first.locator("button.more").click()
    page.wait_for_function(
        "p => document.querySelector('#images article')?.dataset.path === p"
        " && document.querySelector('#message').textContent.includes('result')",
        arg=path,
    )


def test_nonsense_says_no_confident_match_with_weak_hits_behind_a_click(
    page: Any, served: Served
) -> None:
    _search(page, served, "zzqx vorpal flibbertigibbet")
    message = page.locator("#message.none")
    message.wait_for()
    assert "No confident match" in message.inner_text()
    assert page.locator("article").count() == 0
    page.click("#show-weak")
    page.locator("article").first.wait_for()


def test_the_query_in_the_address_runs_and_the_keyboard_reaches_why(
    page: Any, served: Served
) -> None:
    page.goto(served.url + "/?q=red+car")
    page.locator("article").first.wait_for()
    page.focus("#q")
    for _ in range(12):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "Why?":
            break
    page.keyboard.press("Enter")
    assert page.locator("pre.why:not([hidden])").first.is_visible()


def test_a_probable_answer_is_shown_marked_probably_not_hidden(
    page: Any, served: Served
) -> None:
    """The server's own answer to a query without a confident hit, its best weak hit marked
    probable (as the gate marks one, tests/test_gate.py): the page shows that hit, as the CLI
    prints "probably: ...", and keeps the other weak hits behind the click."""
    import json

    def probable(route: Any) -> None:
        answer = route.fetch()
        body = answer.json()
        assert not body["results"] and body["best_weak"] is not None
        body["best_weak"]["level"] = "probable"
        route.fulfill(response=answer, body=json.dumps(body))

    page.route("**/api/v1/search?*", probable)
    _search(page, served, "zzqx vorpal flibbertigibbet")
    message = page.locator("#message.probable")
    message.wait_for()
    shown = page.locator("article.probable")
    assert shown.count() == 1
    name = shown.get_attribute("data-path").rsplit("/", 1)[-1]
    assert message.inner_text().startswith(f"Probably: {name}.")
    assert "probably" in shown.locator(".meta").inner_text()
    assert page.locator("#show-weak").is_visible()
    page.unroute("**/api/v1/search?*")
    page.click("#show-weak")
    page.locator("article.weak").first.wait_for()
