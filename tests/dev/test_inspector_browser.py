"""The inspector in a real browser: Chromium (Debian's `chromium`, installed by `make browser`)
driven by Playwright. Webhooks sent after the page opened appear without a reload, with their
outcome and reason; filters, replay, copy and redrive work; a sender's markup stays text.

This test never skips: without a browser it fails and says how to get one.
Set NAMI_INSPECTOR_SCREENSHOT=docs/inspector.png to refresh the screenshot (README, nami-dev page).
"""

from __future__ import annotations

import io
import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from nami_action.config import load_config
from nami_action.dev.app import DEFAULT_PORT, DevApp, DevOptions

from .helpers import Project, post, wait_for
from .inspector_support import PIPELINES, SECRET, github_signature, rows

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
WAIT_MS = 20_000
XSS_HEADER = "<img src=x onerror=\"window.__xss='header'\">"
XSS_BODY = {"n": 9, "html": "<script>window.__xss='body'</script><img src=x onerror=alert(1)>"}
_SHOT = os.environ.get("NAMI_INSPECTOR_SCREENSHOT")
SCREENSHOT = Path(_SHOT).absolute() if _SHOT else None  # before the test changes directory
XSS_QUERY = "/orders?q=<svg/onload=window.__xss='query'>"


def find_chromium() -> str:
    """NAMI_CHROMIUM, else a Chromium on PATH; fails (never skips) without one."""
    given = os.environ.get("NAMI_CHROMIUM")
    found = given or next((p for name in BROWSERS if (p := shutil.which(name))), None)
    if not found:
        pytest.fail(
            "no Chromium for the inspector's browser test: run `make browser` (as root it "
            "runs apt-get install chromium), or set NAMI_CHROMIUM=/path/to/chrome",
            pytrace=False,
        )
    return found


def playwright_api() -> Any:
    try:
        from playwright import sync_api
    except ImportError:
        pytest.fail("playwright is missing: `make install` installs the test extra", pytrace=False)
    return sync_api


@pytest.fixture
def app(
    make_project: Callable[..., Project], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[DevApp]:
    """nami dev on the test pipelines; for the screenshot, as a user starts it
    (`nami dev nami.yaml`, port 8787)."""
    project = make_project(PIPELINES)
    monkeypatch.chdir(project.config.parent)
    options = DevOptions(
        port=DEFAULT_PORT if SCREENSHOT else 0,
        data_dir=project.data,
        env={},
        secrets={"github": SECRET},
    )
    dev = DevApp(load_config(Path(project.config.name)), options, out=io.StringIO())
    dev.start()
    try:
        yield dev
    finally:
        dev.stop()


def test_the_inspector_shows_webhooks_live_and_keeps_sender_markup_inert(
    app: DevApp, tmp_path: Path
) -> None:
    chromium = find_chromium()
    sync_api = playwright_api()
    expect = sync_api.expect
    expect.set_options(timeout=WAIT_MS)
    assert app.inspector is not None
    seen = tmp_path / "seen.jsonl"
    args = ["--no-sandbox"] if os.geteuid() == 0 else []  # Chromium refuses root otherwise
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=args)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 860})
            page = context.new_page()
            problems: list[str] = []
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("dialog", lambda dialog: (problems.append(dialog.message), dialog.dismiss()))
            page.goto(app.inspector.url)
            expect(page.locator("#status")).to_contain_text("live")
            expect(page.locator("#none")).to_be_visible()

            # Sent after the page opened: they must appear without a reload.
            good, bad = b'{"n": 1, "action": "opened"}', b'{"n": 2, "action": "closed"}'
            assert post(app.url, "/github", good, github_signature(good))[0] == 202
            assert post(app.url, "/github", bad, github_signature(bad, "forged"))[0] == 202
            assert post(app.url, "/orders", b'{"n": 3, "fail": true}')[0] == 202
            assert post(app.url, "/orders", b'{"n": 4, "sku": "A-17"}')[0] == 202
            webhooks = page.locator("#webhooks tbody tr")

            def with_outcome(outcome: str) -> Any:
                return webhooks.filter(has=page.locator(f"span.badge.o-{outcome}"))

            expect(webhooks).to_have_count(4)
            dead_letters = page.locator("#dlq-body")
            expect(dead_letters).to_contain_text("signature mismatch")
            expect(dead_letters).to_contain_text(
                "received 2 times, never handled; last error: RuntimeError: asked to fail"
            )
            expect(with_outcome("handled")).to_have_count(2)
            rejected = with_outcome("rejected")
            expect(rejected).to_contain_text("failed: signature mismatch")
            expect(with_outcome("dead-lettered")).to_have_count(1)

            # The screenshot: a rejected and a dead-lettered webhook, one selected.
            rejected.click()
            expect(page.locator("#detail-body pre.body")).to_contain_text('"action": "closed"')
            shot = SCREENSHOT or tmp_path / "inspector.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

            # Filters
            page.select_option("#f-pipeline", "github")
            expect(webhooks).to_have_count(2)
            page.select_option("#f-outcome", "rejected")
            expect(webhooks).to_have_count(1)
            page.select_option("#f-pipeline", "")
            page.select_option("#f-outcome", "dead")
            expect(webhooks).to_have_count(2)  # the rejected and the dead-lettered one
            page.select_option("#f-outcome", "")
            expect(webhooks).to_have_count(4)

            # Replay the handled GitHub webhook: a new row, handled, the handler ran twice.
            with_outcome("handled").filter(has_text="/github").click()
            page.click("#detail-body button.replay")
            expect(webhooks).to_have_count(5)
            expect(webhooks.first).to_contain_text("replay of #")
            wait_for(lambda: seen.read_text().count('"n": 1,') == 2, what="the replay handled")

            # Copy as curl / nami send: what lands on the clipboard is the command shown.
            context.grant_permissions(["clipboard-read", "clipboard-write"])
            page.click("#detail-body button.copy-curl")
            expect(page.locator("#toast")).to_contain_text("copied")
            clipboard = page.evaluate("navigator.clipboard.readText()")
            assert clipboard == page.locator("#detail-body pre.curl").text_content()
            assert clipboard.startswith("printf '%s' ") and "--data-binary @-" in clipboard
            page.click("#detail-body button.copy-send")
            send = page.evaluate("navigator.clipboard.readText()")
            assert "| nami send github --config " in send

            # A sender's markup in a header, the body and the query stays text.
            xss = json.dumps(XSS_BODY).encode()
            assert post(app.url, XSS_QUERY, xss, {"X-Note": XSS_HEADER})[0] == 202
            expect(webhooks).to_have_count(6)
            webhooks.first.click()
            detail = page.locator("#detail-body")
            expect(detail.locator("pre.body")).to_contain_text(XSS_BODY["html"])
            expect(detail.locator("td", has_text="X-Note").locator("xpath=..")).to_contain_text(
                XSS_HEADER
            )
            expect(detail).to_contain_text("?q=%3Csvg%2Fonload%3Dwindow.__xss%3D%27query%27%3E")
            expect(webhooks.first.locator("span.badge")).to_have_text("handled")
            assert detail.locator("img, script, svg").count() == 0
            assert page.locator("body img, body svg").count() == 0
            assert page.evaluate("window.__xss") is None

            # Redrive: the orders dead letter goes back to its queue (and fails again).
            page.click("#dlq-body button.redrive[data-pipeline='orders']")
            expect(page.locator("#toast")).to_contain_text("1 dead letter(s) of orders moved")
            expect(with_outcome("redriven")).to_have_count(1)
            expect(webhooks.filter(has_text="redrive of #")).to_have_count(1)
            assert rows(app)  # the API still answers
            assert problems == []
        finally:
            browser.close()
