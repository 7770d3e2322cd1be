"""A tiny GitHub REST client over urllib: issue comments (the sticky one) and PR lookup.

Only what the Action needs, so no dependency: list comments (paginated), create, update,
find the comment carrying a hidden marker, and find the pull request a commit was merged by.
Failures become one NamiError saying which permission the workflow is missing.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Literal

from nami_action import __version__
from nami_action.errors import NamiError

API_VERSION = "2022-11-28"
PER_PAGE = 100
MAX_PAGES = 50  # 5,000 comments: beyond that something else is wrong
TIMEOUT_SECONDS = 30
UpsertResult = Literal["created", "updated", "unchanged"]


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

    # ------------------------------------------------------------------ comments

    def list_comments(self, issue: int) -> list[Comment]:
        comments: list[Comment] = []
        url: str | None = self._url(f"/issues/{issue}/comments?per_page={PER_PAGE}")
        doing = f"listing the comments of pull request #{issue}"
        for _ in range(MAX_PAGES):
            if url is None:
                break
            response = self._request("GET", url, doing=doing, need="pull-requests: read")
            for item in response.data or []:
                comments.append(
                    Comment(
                        id=int(item["id"]),
                        body=str(item.get("body") or ""),
                        user=str((item.get("user") or {}).get("login", "")),
                    )
                )
            url = next_link(response.headers.get("link", ""))
            if url is not None and not url.startswith(self.api_url + "/"):
                raise GitHubError(f"refusing to follow a pagination link off {self.api_url}: {url}")
        return comments

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
        """The first comment containing the hidden marker (the sticky one), if any."""
        for comment in self.list_comments(issue):
            if marker in comment.body:
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
        response = self._request(
            "GET",
            self._url(f"/commits/{urllib.parse.quote(sha)}/pulls?per_page={PER_PAGE}"),
            doing=f"finding the pull request of commit {sha[:7]}",
            need="pull-requests: read",
        )
        data = response.data
        return [p for p in data if isinstance(p, dict)] if isinstance(data, list) else []

    def merged_pull_for_commit(self, sha: str) -> int | None:
        """The number of the pull request that merged `sha` (merged ones first), or None."""
        pulls = self.pulls_for_commit(sha)
        merged = [p for p in pulls if p.get("merged_at")]
        for pull in merged or pulls:
            if isinstance(pull.get("number"), int):
                return int(pull["number"])
        return None

    # ------------------------------------------------------------------ transport

    def _url(self, path: str) -> str:
        return f"{self.api_url}/repos/{self.repository}{path}"

    def _request(
        self,
        method: str,
        url: str,
        payload: dict[str, Any] | None = None,
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
            raise GitHubError(
                explain(exc.code, headers, doing=doing, need=need, detail=detail), exc.code
            ) from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise GitHubError(
                f"cannot reach the GitHub API at {self.api_url} while {doing}: {reason}"
            ) from exc
        except ValueError as exc:
            raise GitHubError(f"GitHub answered with invalid JSON while {doing}: {exc}") from exc


def explain(status: int, headers: dict[str, str], *, doing: str, need: str, detail: str) -> str:
    """One sentence for a failed call: what happened and which permission fixes it."""
    said = f" (GitHub said: {detail})" if detail else ""
    if status == 401:
        return (
            f"GitHub rejected the token (401) while {doing}{said}: pass a valid `github-token` "
            "(the default is the job's GITHUB_TOKEN)"
        )
    if status in (403, 429) and (
        headers.get("x-ratelimit-remaining") == "0" or "rate limit" in detail.lower()
    ):
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
