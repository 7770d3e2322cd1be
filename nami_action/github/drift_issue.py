"""One GitHub issue that tracks drift: opened when `nami drift` finds some, edited in place
while it lasts (never a second one), closed with a comment once everything is clean.

The issue is found by its label and the hidden marker at the top of its body, and only if
this token's account wrote it (anyone can paste the marker into an issue of their own).
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import Any, Literal

from nami_action.drift.model import DriftReport
from nami_action.drift.render import MARKER, drift_markdown
from nami_action.github.api import PER_PAGE, GitHubClient

DEFAULT_LABEL = "nami-drift"
SyncResult = Literal["created", "updated", "unchanged", "closed", "clean", "skipped"]
NEED = "issues: write"


@dataclass(frozen=True)
class Issue:
    number: int
    body: str
    user: str


class IssueClient(GitHubClient):
    """The issue calls drift needs, on top of the Action's client (retries, errors)."""

    def open_issues(self, label: str) -> list[Issue]:
        query = urllib.parse.urlencode({"state": "open", "labels": label, "per_page": PER_PAGE})
        response = self._get(f"/issues?{query}", doing="listing drift issues", need=NEED)
        return [
            Issue(
                int(item["number"]),
                str(item.get("body") or ""),
                str((item.get("user") or {}).get("login", "")),
            )
            for item in response.data or []
            if isinstance(item, dict) and "pull_request" not in item  # the list holds PRs too
        ]

    def create_issue(self, title: str, body: str, label: str) -> int:
        response = self._request(
            "POST",
            self._url("/issues"),
            {"title": title, "body": body, "labels": [label]},
            doing="opening the drift issue",
            need=NEED,
        )
        return int(response.data["number"])

    def edit_issue(self, number: int, fields: dict[str, Any]) -> None:
        self._request(
            "PATCH",
            self._url(f"/issues/{number}"),
            fields,
            doing=f"editing issue #{number}",
            need=NEED,
        )

    def find_drift_issue(self, label: str) -> Issue | None:
        author = self.own_login().lower()
        for issue in self.open_issues(label):
            if issue.body.startswith(MARKER) and issue.user.lower() == author:
                return issue
        return None


def sync_drift_issue(
    client: IssueClient, report: DriftReport, *, label: str = DEFAULT_LABEL, run_url: str = ""
) -> tuple[SyncResult, int | None]:
    """Open, edit or close the drift issue for this report. A report with errors leaves the
    issue alone: an unchecked pipeline is not a clean one."""
    if report.errors:
        return "skipped", None
    existing = client.find_drift_issue(label)
    if not report.drifted:
        if existing is None:
            return "clean", None
        client.create_comment(
            existing.number,
            "No drift any more: every pipeline matches its template"
            + (f" ([run]({run_url}))." if run_url else "."),
        )
        client.edit_issue(existing.number, {"state": "closed", "state_reason": "completed"})
        return "closed", existing.number
    body = drift_markdown(report) + (
        f"\nLast checked by [this run]({run_url}).\n" if run_url else ""
    )
    if existing is None:
        title = f"Drift in {report.project} ({report.region})"
        return "created", client.create_issue(title, body, label)
    if existing.body == body:
        return "unchanged", existing.number
    client.edit_issue(existing.number, {"body": body})
    return "updated", existing.number
