"""A tiny GitHub REST client over urllib: issue comments (the sticky one) and PR lookup.

Only what the Action needs, so no dependency: list comments (paginated), create, update,
find the comment carrying a hidden marker *and written by this token's account*, labels,
the deploy branch's head, and the pull requests a range of commits was merged by.
5xx answers and rate limits are retried after the wait GitHub asks for (Retry-After, else
x-ratelimit-reset, else a short backoff), as GitHub's REST guide says:
https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api
Failures become one NamiError saying which permission the workflow is missing.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from nami_action import __version__
from nami_action.errors import NamiError

API_VERSION = "2022-11-28"
PER_PAGE = 100
MAX_PAGES = 50  # 5,000 comments: beyond that something else is wrong
TIMEOUT_SECONDS = 30
ATTEMPTS = 4  # one call and up to three retries
LONGEST_WAIT_SECONDS = 60.0  # a longer wait than this fails the call instead
# GET /user answers 403 for an app installation token; the job's GITHUB_TOKEN is one, and
# its comments are written by this account (as marocchino/sticky-pull-request-comment
# finds its own comments: author == the token's viewer login).
ACTIONS_BOT = "github-actions[bot]"
UpsertResult = Literal["created", "updated", "unchanged"]
# Listing and redelivering a repository webhook's deliveries: the repository permission
# "Webhooks" (read and write), or a classic token's admin:repo_hook scope.
HOOKS_PERMISSION = "webhooks: write (classic token: admin:repo_hook)"


class GitHubError(NamiError):
    """A GitHub API call failed; the message says what to change."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Comment:
    id: int
    body: str
    user: str = ""


@dataclass(frozen=True)
class Response:
    status: int
    data: Any
    headers: dict[str, str]


class GitHubClient:
    def __init__(self, token: str, repository: str, api_url: str = "https://api.github.com"):
        if not token:
            raise GitHubError(
                "no GitHub token: pass `github-token` to the action (default: the job's "
                "GITHUB_TOKEN) or set GITHUB_TOKEN"
            )
        if repository.count("/") != 1:
            raise GitHubError(f"GITHUB_REPOSITORY must be owner/name, not {repository!r}")
        self.token = token
        self.repository = repository
        self.api_url = api_url.rstrip("/")
        self._login: str | None = None

    sleep = staticmethod(time.sleep)  # tests replace it to keep retries instant

    def own_login(self) -> str:
        """The account this token writes as: its user (GET /user); for an app installation
        token, which may not read GET /user, GraphQL's `viewer` (the app's bot account), and
        github-actions[bot] (the job's GITHUB_TOKEN) when that cannot be read either."""
        if self._login is None:
            doing = "reading the token's account"
            try:
                user = self._request("GET", f"{self.api_url}/user", doing=doing, need="")
                self._login = str((user.data or {}).get("login") or ACTIONS_BOT)
            except GitHubError as exc:
                if exc.status != 403:
                    raise
                self._login = self._viewer_login() or ACTIONS_BOT
        return self._login

    def _viewer_login(self) -> str | None:
        # GitHub Enterprise Server serves REST at /api/v3 and GraphQL at /api/graphql.
        base = self.api_url.removesuffix("/v3")
        query = {"query": "query { viewer { login } }"}
        try:
            answer = self._request(
                "POST", f"{base}/graphql", query, doing="asking GraphQL", need=""
            )
        except GitHubError:
            return None
        login = ((answer.data or {}).get("data") or {}).get("viewer", {}).get("login")
        return str(login) if login else None

    # ------------------------------------------------------------------ comments

    def list_comments(self, issue: int) -> list[Comment]:
        doing = f"listing the comments of pull request #{issue}"
        return [
            Comment(
                id=int(item["id"]),
                body=str(item.get("body") or ""),
                user=str((item.get("user") or {}).get("login", "")),
            )
            for item in self._pages(
                f"/issues/{issue}/comments?per_page={PER_PAGE}", doing, "pull-requests: read"
            )
        ]

    def pull_files(self, number: int) -> list[str]:
        """The paths a pull request changes (renamed files under both names)."""
        doing = f"listing the files of pull request #{number}"
        paths: list[str] = []
        for item in self._pages(
            f"/pulls/{number}/files?per_page={PER_PAGE}", doing, "contents: read"
        ):
            paths += [str(item[k]) for k in ("filename", "previous_filename") if item.get(k)]
        return paths

    def _pages(self, path: str, doing: str, need: str) -> Iterator[Any]:
        """Every item of a paginated list, following `Link: rel="next"` on this API only."""
        url: str | None = self._url(path)
        for _ in range(MAX_PAGES):
            if url is None:
                break
            response = self._request("GET", url, doing=doing, need=need)
            yield from response.data or []
            url = next_link(response.headers.get("link", ""))
            if url is not None and not url.startswith(self.api_url + "/"):
                raise GitHubError(f"refusing to follow a pagination link off {self.api_url}: {url}")

    def create_comment(self, issue: int, body: str) -> Comment:
        response = self._request(
            "POST",
            self._url(f"/issues/{issue}/comments"),
            {"body": body},
            doing=f"commenting on pull request #{issue}",
            need="pull-requests: write",
        )
        return Comment(id=int(response.data["id"]), body=body)

    def update_comment(self, comment_id: int, body: str) -> Comment:
        self._request(
            "PATCH",
            self._url(f"/issues/comments/{comment_id}"),
            {"body": body},
            doing=f"editing comment {comment_id}",
            need="pull-requests: write",
        )
        return Comment(id=comment_id, body=body)

    def find_comment(self, issue: int, marker: str) -> Comment | None:
        """The sticky comment: it starts with the hidden marker and this token wrote it.

        Anyone can paste the marker into a comment of their own; that one is never edited.
        """
        author = self.own_login().lower()
        for comment in self.list_comments(issue):
            if comment.body.startswith(marker) and comment.user.lower() == author:
                return comment
        return None

    def upsert_comment(self, issue: int, body: str, marker: str) -> tuple[UpsertResult, int]:
        """Create the sticky comment, or edit it in place; an unchanged body is not written."""
        existing = self.find_comment(issue, marker)
        if existing is None:
            return "created", self.create_comment(issue, body).id
        if existing.body == body:
            return "unchanged", existing.id
        self.update_comment(existing.id, body)
        return "updated", existing.id

    # ------------------------------------------------------------------ pulls

    def pulls_for_commit(self, sha: str) -> list[dict[str, Any]]:
        response = self._get(
            f"/commits/{urllib.parse.quote(sha)}/pulls?per_page={PER_PAGE}",
            doing=f"finding the pull request of commit {sha[:7]}",
            need="pull-requests: read",
        )
        data = response.data
        return [p for p in data if isinstance(p, dict)] if isinstance(data, list) else []

    def merged_pulls_for_commit(self, sha: str) -> list[int]:
        """The merged pull requests that brought `sha` in; open ones never count."""
        return [
            int(p["number"])
            for p in self.pulls_for_commit(sha)
            if p.get("merged_at") and isinstance(p.get("number"), int)
        ]

    def merged_pull_for_commit(self, sha: str) -> int | None:
        """The number of the merged pull request of `sha`, or None (never an open one)."""
        return next(iter(self.merged_pulls_for_commit(sha)), None)

    def branch_head(self, branch: str) -> str:
        """The commit at the tip of `branch` now."""
        response = self._get(
            f"/branches/{urllib.parse.quote(branch, safe='')}",
            doing=f"reading the head of branch {branch}",
            need="contents: read",
        )
        return str(((response.data or {}).get("commit") or {}).get("sha") or "")

    def last_successful_run_sha(self, workflow: str, branch: str) -> str | None:
        """The commit of the newest successful push run of `workflow` on `branch`, if any."""
        query = urllib.parse.urlencode(
            {"branch": branch, "event": "push", "status": "success", "per_page": 1}
        )
        response = self._get(
            f"/actions/workflows/{urllib.parse.quote(workflow, safe='')}/runs?{query}",
            doing=f"finding the last successful run of {workflow}",
            need="actions: read",
        )
        runs = (response.data or {}).get("workflow_runs") or []
        return str(runs[0]["head_sha"]) if runs and runs[0].get("head_sha") else None

    def commits_between(self, base: str, head: str) -> list[str]:
        """The commits in `head` and not in `base` (the compare endpoint, up to 250)."""
        response = self._get(
            f"/compare/{urllib.parse.quote(base)}...{urllib.parse.quote(head)}",
            doing=f"comparing {base[:7]}...{head[:7]}",
            need="contents: read",
        )
        commits = (response.data or {}).get("commits") or []
        return [str(c["sha"]) for c in commits if isinstance(c, dict) and c.get("sha")]

    # ------------------------------------------------------------------ labels

    def add_labels(self, issue: int, labels: list[str]) -> None:
        self._request(
            "POST",
            self._url(f"/issues/{issue}/labels"),
            {"labels": labels},
            doing=f"labelling pull request #{issue}",
            need="pull-requests: write",
        )

    def remove_label(self, issue: int, label: str) -> None:
        try:
            self._request(
                "DELETE",
                self._url(f"/issues/{issue}/labels/{urllib.parse.quote(label, safe='')}"),
                doing=f"removing label {label} from #{issue}",
                need="pull-requests: write",
            )
        except GitHubError as exc:
            if exc.status != 404:  # the label was not there
                raise

    # ------------------------------------------------------------------ webhook deliveries

    def hook_deliveries(self, hook_id: int) -> Iterator[list[dict[str, Any]]]:
        """Pages of a repository webhook's deliveries, newest first (cursor pagination).
        https://docs.github.com/en/rest/repos/webhooks#list-deliveries-for-a-repository-webhook"""
        url: str | None = self._url(f"/hooks/{hook_id}/deliveries?per_page={PER_PAGE}")
        doing = f"listing the deliveries of webhook {hook_id}"
        for _ in range(MAX_PAGES):
            if url is None:
                return
            response = self._request("GET", url, doing=doing, need=HOOKS_PERMISSION)
            yield [d for d in response.data or [] if isinstance(d, dict)]
            url = next_link(response.headers.get("link", ""))
            if url is not None and not url.startswith(self.api_url + "/"):
                raise GitHubError(f"refusing to follow a pagination link off {self.api_url}: {url}")

    def redeliver(self, hook_id: int, delivery_id: int) -> None:
        """Ask GitHub to send a delivery again (it answers 202 and sends it soon after).
        https://docs.github.com/en/rest/repos/webhooks#redeliver-a-delivery-for-a-repository-webhook"""
        self._request(
            "POST",
            self._url(f"/hooks/{hook_id}/deliveries/{delivery_id}/attempts"),
            doing=f"redelivering delivery {delivery_id} of webhook {hook_id}",
            need=HOOKS_PERMISSION,
        )

    # ------------------------------------------------------------------ transport

    def _url(self, path: str) -> str:
        return f"{self.api_url}/repos/{self.repository}{path}"

    def _get(self, path: str, *, doing: str, need: str) -> Response:
        """GET a path of this repository (`/branches/main`)."""
        return self._request("GET", self._url(path), doing=doing, need=need)

    def _request(
        self,
        method: str,
        url: str,
        payload: dict[str, Any] | None = None,
        *,
        doing: str,
        need: str,
    ) -> Response:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return self._send(method, url, payload, doing=doing, need=need)
            except _Retry as retry:
                if attempt == ATTEMPTS or retry.wait > LONGEST_WAIT_SECONDS:
                    raise retry.error from None
                self.sleep(retry.wait or 2.0**attempt)
        raise AssertionError("unreachable")

    def _send(
        self,
        method: str,
        url: str,
        payload: dict[str, Any] | None,
        *,
        doing: str,
        need: str,
    ) -> Response:
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", "application/vnd.github+json")
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("X-GitHub-Api-Version", API_VERSION)
        request.add_header("User-Agent", f"nami/{__version__}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                raw = response.read()
                headers = {k.lower(): v for k, v in response.headers.items()}
                return Response(response.status, json.loads(raw) if raw else None, headers)
        except urllib.error.HTTPError as exc:
            headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
            detail = _error_detail(exc)
            error = GitHubError(
                explain(exc.code, headers, doing=doing, need=need, detail=detail), exc.code
            )
            wait = retry_wait(exc.code, headers, detail)
            if wait is not None:
                raise _Retry(error, wait) from exc
            raise error from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise GitHubError(
                f"cannot reach the GitHub API at {self.api_url} while {doing}: {reason}"
            ) from exc
        except ValueError as exc:
            raise GitHubError(f"GitHub answered with invalid JSON while {doing}: {exc}") from exc


class _Retry(Exception):
    def __init__(self, error: GitHubError, wait: float) -> None:
        super().__init__(str(error))
        self.error, self.wait = error, wait


def rate_limited(status: int, headers: dict[str, str], detail: str) -> bool:
    return status in (403, 429) and (
        headers.get("x-ratelimit-remaining") == "0"
        or "retry-after" in headers
        or "rate limit" in detail.lower()
    )


def retry_wait(
    status: int, headers: dict[str, str], detail: str, now: float | None = None
) -> float | None:
    """Seconds to wait before retrying (0: back off on our own), or None: do not retry."""
    if not (status >= 500 or rate_limited(status, headers, detail)):
        return None
    if headers.get("retry-after", "").strip().isdigit():
        return float(headers["retry-after"])
    reset = headers.get("x-ratelimit-reset", "").strip()
    if headers.get("x-ratelimit-remaining") == "0" and reset.isdigit():
        return max(0.0, float(reset) - (time.time() if now is None else now)) + 1
    return 0.0


def explain(status: int, headers: dict[str, str], *, doing: str, need: str, detail: str) -> str:
    """One sentence for a failed call: what happened and which permission fixes it."""
    said = f" (GitHub said: {detail})" if detail else ""
    if status == 401:
        return (
            f"GitHub rejected the token (401) while {doing}{said}: pass a valid `github-token` "
            "(the default is the job's GITHUB_TOKEN)"
        )
    if rate_limited(status, headers, detail):
        return f"GitHub API rate limit reached while {doing}{said}; retry later"
    if status == 403:
        return (
            f"the GitHub token may not do this (403) while {doing}{said}: give the job "
            f"`permissions: {need}` (pull requests from forks only get a read-only token)"
        )
    if status == 404:
        return (
            f"not found (404) while {doing}{said}: check the repository and number, and that "
            f"the token can see the repository (`permissions: {need}`; contents: read for "
            "private repositories)"
        )
    return f"GitHub API error {status} while {doing}{said}"


def _error_detail(exc: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(exc.read() or b"{}")
    except (ValueError, OSError):
        return ""
    if isinstance(body, dict):
        return str(body.get("message", ""))
    return ""


_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="([^"]+)"')


def next_link(header: str) -> str | None:
    """The rel="next" URL of a Link header (GitHub pagination), or None."""
    for url, rel in _LINK.findall(header or ""):
        if "next" in rel.split():
            return str(url)
    return None
