"""The inspector's JSON API on a running `nami dev` (real HTTP, SQLite and runtime): what it
shows for accepted, rejected and dead-lettered webhooks, replay and redrive, the copied
commands, and the guards that keep other web pages and other host names out."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from nami_action.dev.app import DevApp
from nami_action.dev.consumers import DevError
from nami_action.envelope import decode_envelope

from .helpers import Project, post, wait_for
from .inspector_support import API, PIPELINES, SECRET, api, github_signature, request, rows


def by_outcome(app: DevApp, *wanted: str) -> dict[str, dict[str, Any]]:
    """Wait until rows with these outcomes exist; the newest row of each outcome."""
    found: dict[str, dict[str, Any]] = {}

    def seen() -> bool:
        found.clear()
        for row in rows(app):
            found[row["outcome"]] = row
        return all(outcome in found for outcome in wanted)

    wait_for(seen, what=f"webhooks {wanted} in the inspector")
    return found


def send_three(app: DevApp) -> None:
    good, bad = b'{"n": 1}', b'{"n": 2}'
    assert post(app.url, "/github", good, github_signature(good))[0] == 202
    assert post(app.url, "/github", bad, github_signature(bad, "wrong"))[0] == 202
    assert post(app.url, "/orders", b'{"n": 3, "fail": true}')[0] == 202


def test_accepted_rejected_and_dead_lettered_webhooks_show_what_happened(
    make_project: Callable[..., Project], start_app: Callable[..., DevApp]
) -> None:
    app = start_app(make_project(PIPELINES), secrets={"github": SECRET})
    send_three(app)
    found = by_outcome(app, "handled", "rejected", "dead-lettered")
    handled, rejected, dead = found["handled"], found["rejected"], found["dead-lettered"]
    assert (handled["verification"], handled["attempts"], handled["dead"]) == (
        "ok (github)",
        1,
        False,
    )
    assert rejected["verification"] == "failed: signature mismatch"
    assert (rejected["reason"], rejected["dead"], rejected["pipeline"]) == (
        "signature mismatch",
        True,
        "github",
    )
    assert dead["attempts"] == 2 and dead["dead"] and dead["verification"] == "off"
    assert dead["reason"] == (
        "received 2 times, never handled; last error: RuntimeError: asked to fail"
    )
    status, state = api(app, "GET", "webhooks")
    assert {p["name"]: p["dead"] for p in state["pipelines"]} == {"github": 1, "orders": 1}
    # Only what changed since a version comes back: nothing, until something happens.
    status, later = api(
        app, "GET", f"webhooks?after={state['version']}&instance={state['instance']}"
    )
    assert (status, later["webhooks"], later["reset"]) == (200, [], False)

    status, detail = api(app, "GET", f"webhook?key={handled['key']}")
    assert status == 200
    assert ["X-GitHub-Event", "push"] in detail["headers"]
    assert detail["body"] == {
        "kind": "json",
        "text": '{\n  "n": 1\n}',
        "size": 8,
        "truncated": False,
    }


def test_replay_stores_the_same_envelope_again_and_redrive_empties_the_dead_letters(
    make_project: Callable[..., Project], start_app: Callable[..., DevApp]
) -> None:
    project = make_project(PIPELINES)
    app = start_app(project, secrets={"github": SECRET})
    send_three(app)
    found = by_outcome(app, "handled", "dead-lettered")

    status, answer = api(app, "POST", "replay", {"key": found["handled"]["key"]})
    assert (status, answer["pipeline"]) == (202, "github")
    wait_for(lambda: project.numbers().count(1) == 2, what="the replay handled")
    replay = next(r for r in rows(app) if r["messageId"] == answer["messageId"])
    assert replay["origin"] == f"replay of #{found['handled']['key']}"
    original = app.inspector.history.get(found["handled"]["key"])  # type: ignore[union-attr]
    copy = app.inspector.history.get(replay["key"])  # type: ignore[union-attr]
    assert original is not None and copy is not None and copy.envelope == original.envelope

    dead_key = found["dead-lettered"]["key"]
    status, moved = api(app, "POST", "redrive", {"pipeline": "orders"})
    assert (status, moved["moved"]) == (202, 1)
    by_key = {r["key"]: r for r in rows(app)}
    assert by_key[dead_key]["outcome"] == "redriven" and not by_key[dead_key]["dead"]
    # The copy fails again and is dead-lettered again, as a row of its own.
    wait_for(
        lambda: any(r["origin"] == f"redrive of #{dead_key}" and r["dead"] for r in rows(app)),
        what="the redriven copy dead-lettered again",
    )


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/octet-stream", bytes(range(256))),
        ("text/plain", 'it\'s 100% \\ "quoted" $HOME `x` \n\tünïcode @file'.encode()),
    ],
)
def test_copied_commands_send_the_same_bytes(
    make_project: Callable[..., Project],
    start_app: Callable[..., DevApp],
    content_type: str,
    body: bytes,
) -> None:
    project = make_project(PIPELINES)
    app = start_app(project)
    headers = {"Content-Type": content_type, "X-Quote": 'it\'s "odd" $(id)'}
    assert post(app.url, "/orders?x=1&y=a%20b", body, headers)[0] == 202
    wait_for(lambda: len(rows(app)) == 1, what="the webhook")
    key = rows(app)[0]["key"]
    _, detail = api(app, "GET", f"webhook?key={key}")

    printf = detail["send"].split(" | ", 1)[0]
    assert subprocess.run(["sh", "-c", printf], capture_output=True, check=True).stdout == body
    nami = f"{shlex.quote(sys.executable)} -m nami_action"
    commands = [detail["send"].replace("| nami send", f"| {nami} send", 1)]
    if shutil.which("curl"):  # the printf half above is checked either way
        commands.append(detail["curl"])
    for number, command in enumerate(commands, start=2):
        done = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        wait_for(lambda n=number: len(rows(app)) == n, what="the copied request")  # type: ignore[misc]
        latest = max(rows(app), key=lambda r: r["key"])
        entry = app.inspector.history.get(latest["key"])  # type: ignore[union-attr]
        assert entry is not None and entry.envelope is not None
        sent = decode_envelope(entry.envelope)
        assert sent.body == body
        assert (sent.path, sent.query) == ("/orders", {"x": "1", "y": "a b"})
        assert sent.headers["X-Quote"] == headers["X-Quote"]
        assert sent.headers["Content-Type"] == content_type


def test_other_hosts_other_pages_and_plain_forms_are_refused(
    make_project: Callable[..., Project], start_app: Callable[..., DevApp]
) -> None:
    app = start_app(make_project(PIPELINES))
    port = app.url.rsplit(":", 1)[1]
    assert post(app.url, "/orders", b'{"n": 1}')[0] == 202
    wait_for(lambda: len(rows(app)) == 1, what="the webhook")
    key = rows(app)[0]["key"]
    replay = json.dumps({"key": key}).encode()

    # DNS rebinding: a name that resolves to 127.0.0.1 is still not this machine's name.
    for host in ("evil.example", f"evil.example:{port}", "127.0.0.1:1"):
        status, _, _ = request(app, "GET", "/_nami/", headers={"Host": host})
        assert status == 421, host
        status, _, _ = request(app, "GET", "/_nami/api/webhooks", headers={"Host": host, **API})
        assert status == 421, host
    for host in (f"localhost:{port}", f"127.0.0.1:{port}"):
        assert request(app, "GET", "/_nami/", headers={"Host": host})[0] == 200

    refused = [
        ({}, "application/json", 403),  # no X-Nami-Inspector: a cross-origin fetch cannot add it
        ({**API, "Origin": "http://evil.example"}, "application/json", 403),
        ({**API, "Origin": "null"}, "application/json", 403),
        ({**API, "Sec-Fetch-Site": "cross-site"}, "application/json", 403),
        ({**API}, "text/plain", 415),  # what a form or a no-cors fetch can send
    ]
    host = {"Host": f"127.0.0.1:{port}"}
    for headers, content_type, expected in refused:
        sent = {**host, **headers, "Content-Type": content_type}
        status, _, _ = request(app, "POST", "/_nami/api/replay", replay, sent)
        assert status == expected, headers
    assert request(app, "GET", "/_nami/api/replay", headers={**host, **API})[0] == 405
    assert len(rows(app)) == 1  # nothing was replayed
    same_origin = {**host, **API, "Origin": f"http://127.0.0.1:{port}"}
    ok = request(
        app,
        "POST",
        "/_nami/api/replay",
        replay,
        {**same_origin, "Sec-Fetch-Site": "same-origin", "Content-Type": "application/json"},
    )
    assert ok[0] == 202

    status, page_headers, page = request(app, "GET", "/_nami/", headers=host)
    csp = page_headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe" not in csp and "script-src 'sha256-" in csp
    assert page_headers["X-Content-Type-Options"] == "nosniff"
    assert b"innerHTML" not in page and b"http://" not in page and b"https://" not in page


def test_a_pipeline_path_under_the_inspector_is_refused(
    make_project: Callable[..., Project], start_app: Callable[..., DevApp]
) -> None:
    project = make_project(PIPELINES.replace("orders:\n", "orders:\n  path: /_nami/orders\n"))
    with pytest.raises(DevError, match="taken by the nami dev inspector"):
        start_app(project)


def test_a_webhook_the_function_url_refused_is_shown_but_not_replayable(
    make_project: Callable[..., Project], start_app: Callable[..., DevApp]
) -> None:
    edge = "edge:\n  ingress: function-url\n  verify: {scheme: github, secret: ssm:/x/y}\n"
    edge += "  consumer: {code: consumer, handler: HANDLER}\n"
    app = start_app(make_project(PIPELINES + edge), secrets={"edge": SECRET})
    body = b'{"n": 5}'
    assert post(app.url, "/edge?a=1", body, github_signature(body, "forged"))[0] == 401
    assert post(app.url, "/edge", body, github_signature(body))[0] == 202
    found = by_outcome(app, "rejected", "handled")
    refused = found["rejected"]
    assert refused["verification"] == (
        "failed: signature rejected: signature mismatch (at the endpoint, not stored)"
    )
    assert (refused["pipeline"], refused["attempts"], refused["dead"]) == ("edge", 0, False)
    assert refused["replayable"] is False and found["handled"]["replayable"] is True
    _, detail = api(app, "GET", f"webhook?key={refused['key']}")
    assert detail["body"]["text"] == '{\n  "n": 5\n}' and detail["query"] == {"a": "1"}
    assert api(app, "POST", "replay", {"key": refused["key"]})[0] == 409
