"""`nami redeliver` against a local HTTP server standing in for GITHUB_API_URL: it lists a
hook's deliveries page by page (cursor links, newest first), and redelivers once each event
in the window none of whose attempts succeeded."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner

from nami_action.cli import cli

from .github_fakes import REPO, TOKEN, JsonHandler

HOOK = 7
NOW = datetime.now(UTC).replace(microsecond=0)


def delivery(id: int, guid: str, minutes_ago: int, status: int) -> dict[str, Any]:
    """One item as GitHub lists it (status_code 0: no answer within 10 s)."""
    return {
        "id": id,
        "guid": guid,
        "delivered_at": (NOW - timedelta(minutes=minutes_ago)).isoformat().replace("+00:00", "Z"),
        "redelivery": False,
        "duration": 0.3,
        "status": "OK" if 200 <= status < 300 else "failed",
        "status_code": status,
        "event": "push",
        "action": None,
    }


DELIVERIES = [  # newest first, as the API answers
    delivery(11, "a", 5, 200),  # a redelivery of `a` that worked: nothing to do
    delivery(10, "a", 10, 500),
    delivery(9, "b", 20, 429),  # throttled: GitHub never retries it
    delivery(8, "c", 30, 202),
    delivery(7, "d", 40, 0),  # timed out
    delivery(6, "e", 45, 502),  # `e` failed twice: redelivered once, its latest attempt
    delivery(5, "e", 50, 503),
    delivery(4, "f", 180, 500),  # before the window
    delivery(3, "g", 300, 500),  # on a page that must not even be read
]


class FakeHooks:
    def __init__(self, page_size: int = 3) -> None:
        self.page_size = page_size
        self.pages_read: list[int] = []
        self.redelivered: list[int] = []
        self.fail_redelivery: set[int] = set()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self
        base = f"/repos/{REPO}/hooks/{HOOK}/deliveries"

        class Handler(JsonHandler):
            def _authorised(self) -> bool:
                if self.headers.get("Authorization") == f"Bearer {TOKEN}":
                    return True
                self._send(401, {"message": "Bad credentials"})
                return False

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if not self._authorised():
                    return
                if parts.path != base:
                    self._send(404, {"message": "Not Found"})
                    return
                cursor = int(parse_qs(parts.query).get("cursor", ["0"])[0])
                fake.pages_read.append(cursor)
                page = DELIVERIES[cursor : cursor + fake.page_size]
                headers = {}
                if cursor + fake.page_size < len(DELIVERIES):
                    after = cursor + fake.page_size
                    headers["Link"] = f'<{fake.url}{base}?per_page=3&cursor={after}>; rel="next"'
                self._send(200, page, headers)

            def do_POST(self) -> None:
                parts = urlsplit(self.path)
                if not self._authorised():
                    return
                prefix, _, rest = parts.path.partition(base + "/")
                number, _, tail = rest.partition("/")
                if prefix or tail != "attempts":
                    self._send(404, {"message": "Not Found"})
                    return
                if int(number) in fake.fail_redelivery:
                    self._send(422, {"message": "Validation Failed"})
                    return
                fake.redelivered.append(int(number))
                self._send(202, {})

        return Handler

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hooks() -> Iterator[FakeHooks]:
    fake = FakeHooks()
    yield fake
    fake.close()


def run(hooks: FakeHooks, *args: str, token: str = TOKEN) -> Any:
    env = {"GITHUB_TOKEN": token, "GITHUB_API_URL": hooks.url}
    base = ["redeliver", "--repo", REPO, "--hook", str(HOOK)]
    return CliRunner().invoke(cli, [*base, *args], env=env)


def test_failed_events_in_the_window_are_redelivered_once_each_oldest_first(
    hooks: FakeHooks,
) -> None:
    done = run(hooks, "--since", "2h")
    assert done.exit_code == 0, done.output
    assert hooks.redelivered == [6, 7, 9]  # e (its latest attempt), d, b
    assert hooks.pages_read == [0, 3, 6]  # stopped at the page reaching back past --since
    assert "failed event(s); redelivered 3" in done.output


def test_a_dry_run_lists_and_sends_nothing(hooks: FakeHooks) -> None:
    done = run(hooks, "--since", "2h", "--dry-run")
    assert done.exit_code == 0, done.output
    assert hooks.redelivered == []
    assert [line.split()[1] for line in done.output.splitlines()[:3]] == ["e", "d", "b"]
    assert "would redeliver 3" in done.output


def test_an_absolute_window(hooks: FakeHooks) -> None:
    since = (NOW - timedelta(minutes=42)).isoformat()
    until = (NOW - timedelta(minutes=15)).isoformat()
    done = run(hooks, "--since", since, "--until", until)
    assert done.exit_code == 0, done.output
    assert hooks.redelivered == [7, 9]  # d, b; e began before the window, a after it


def test_a_refused_redelivery_is_reported_and_the_others_still_sent(hooks: FakeHooks) -> None:
    hooks.fail_redelivery = {7}
    done = run(hooks, "--since", "2h")
    assert done.exit_code == 1
    assert hooks.redelivered == [6, 9]
    assert "error: d:" in done.output and "Traceback" not in done.output


@pytest.mark.parametrize(
    ("args", "token", "message"),
    [
        (["--since", "2h"], "wrong", "rejected the token (401)"),
        (["--since", "2h"], "", "no GitHub token"),
        (["--since", "yesterday"], TOKEN, "neither a duration"),
        (["--since", "1h", "--until", "2026-01-01T00:00:00"], TOKEN, "must be before"),
    ],
)
def test_bad_input_is_one_clear_error(
    hooks: FakeHooks, args: list[str], token: str, message: str
) -> None:
    done = run(hooks, *args, token=token)
    assert done.exit_code != 0
    assert message in done.output and "Traceback" not in done.output
    assert hooks.redelivered == []


def test_a_window_reaching_before_1970_is_every_delivery(hooks: FakeHooks) -> None:
    # Was: a traceback (OverflowError from timedelta) before any request.
    done = run(hooks, "--since", "99999999999999999999d")
    assert done.exit_code == 0, done.output
    assert hooks.redelivered == [3, 4, 6, 7, 9]  # g and f too: nothing is before 1970


@pytest.mark.parametrize("repo", ["", "acme", "acme/shop/x", "acme/..", "acme/shop?x=1"])
def test_a_repository_that_is_not_owner_name_is_a_usage_error(hooks: FakeHooks, repo: str) -> None:
    # Was: "GITHUB_REPOSITORY must be owner/name" (an option the user did not set), exit 1,
    # and `acme/..` or a query string went into the API's URL path.
    env = {"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": hooks.url}
    done = CliRunner().invoke(cli, ["redeliver", "--repo", repo, "--hook", "7"], env=env)
    assert done.exit_code == 2
    assert f"Invalid value for '--repo': {repo!r} is not a repository: write owner/name" in (
        done.output
    )
    assert hooks.pages_read == []


def test_an_enterprise_managed_user_owner_is_a_repository(hooks: FakeHooks) -> None:
    # Was refused: EMU user names are `handle_shortcode`, and such users own repositories.
    env = {"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": hooks.url}
    args = ["redeliver", "--repo", "mona_octocorp/hooks", "--hook", "7"]
    done = CliRunner().invoke(cli, args, env=env)
    assert done.exit_code != 2, done.output
    assert "is not a repository" not in done.output
