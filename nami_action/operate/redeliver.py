"""`nami redeliver`: ask GitHub to send again what a repository webhook failed to deliver.

GitHub does not retry a failed delivery (any answer but 2xx, or no answer within 10 s): a 429
from a throttled stage or a capped function URL, a 5xx while SQS refused, a deploy's pause in
between, and the webhook is gone unless someone redelivers it. This reads the hook's
deliveries in a time window and redelivers each event (GUID) none of whose attempts succeeded,
once per event, oldest first. An event that was already redelivered successfully is skipped;
redelivered copies carry the same X-GitHub-Delivery, so a pipeline with
`dedupe: {header: X-GitHub-Delivery}` drops a copy of one that had arrived after all.
https://docs.github.com/en/webhooks/testing-and-troubleshooting-webhooks/redelivering-webhooks
https://docs.github.com/en/rest/repos/webhooks#list-deliveries-for-a-repository-webhook
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from nami_action.github.api import GitHubClient, GitHubError


@dataclass(frozen=True)
class Delivery:
    id: int
    guid: str  # the event: every redelivery of it shares the GUID (X-GitHub-Delivery)
    delivered_at: datetime
    status_code: int  # 0: no answer (timeout, connection failed)
    event: str = ""

    @property
    def succeeded(self) -> bool:
        return 200 <= self.status_code < 300


@dataclass
class RedeliverResult:
    seen: int = 0  # deliveries read in the window
    failed: list[Delivery] = field(default_factory=list)  # events to send again, oldest first
    redelivered: list[Delivery] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def parse_delivery(item: dict[str, object]) -> Delivery | None:
    """A delivery from the API's JSON, or None when it lacks what deciding needs."""
    try:
        when = datetime.fromisoformat(str(item["delivered_at"]).replace("Z", "+00:00"))
        return Delivery(
            id=int(str(item["id"])),
            guid=str(item["guid"]),
            delivered_at=when,
            status_code=int(str(item.get("status_code") or 0)),
            event=str(item.get("event") or ""),
        )
    except (KeyError, ValueError):
        return None


def failed_events(
    pages: Iterable[list[dict[str, object]]], since: datetime, until: datetime
) -> tuple[int, list[Delivery]]:
    """(deliveries in [since, until], the latest attempt of each event none of whose attempts
    in the window succeeded), oldest event first. Pages come newest first: reading stops at
    the first page that reaches back past `since`."""
    attempts: dict[str, list[Delivery]] = {}
    seen = 0
    for page in pages:
        deliveries = [d for d in (parse_delivery(item) for item in page) if d is not None]
        for delivery in deliveries:
            if since <= delivery.delivered_at <= until:
                attempts.setdefault(delivery.guid, []).append(delivery)
                seen += 1
        if any(d.delivered_at < since for d in deliveries):
            break
    failed = [
        max(tries, key=lambda d: d.delivered_at)
        for tries in attempts.values()
        if not any(d.succeeded for d in tries)
    ]
    return seen, sorted(failed, key=lambda d: min(t.delivered_at for t in attempts[d.guid]))


def redeliver(
    client: GitHubClient,
    hook_id: int,
    since: datetime,
    until: datetime,
    *,
    dry_run: bool = False,
    progress: Callable[[Delivery], None] = lambda delivery: None,
) -> RedeliverResult:
    seen, failed = failed_events(client.hook_deliveries(hook_id), since, until)
    result = RedeliverResult(seen=seen, failed=failed)
    if dry_run:
        return result
    for delivery in failed:
        try:
            client.redeliver(hook_id, delivery.id)
        except GitHubError as exc:
            result.errors.append(f"{delivery.guid}: {exc}")
            continue
        result.redelivered.append(delivery)
        progress(delivery)
    return result
