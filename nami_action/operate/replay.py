"""`nami replay`: put webhooks exported by `nami dlq export` back into a pipeline's queue.

Exactly once per exported message, across interruptions and re-runs, with the journal of
`nami dlq redrive` (operate/redrive.py): each copy SQS confirmed is appended (fsynced) as
`sent <DLQ message id>` to `.nami/redrive/replay-<queue>-<hash>.journal` beside nami.yaml,
before anything else happens; a later run skips every id listed there, whichever file it
comes from. The journal is kept after a complete replay, so replaying the same file again sends
nothing. As for redrive, the one window left is a process killed between SQS storing a batch
and the journal line (up to 10 webhooks sent twice, which `dedupe` and idempotent handlers
absorb); FIFO copies carry the DLQ message id as MessageDeduplicationId, so SQS drops such a
second copy within its 5 minutes.

The whole file is read and checked first: a line that is not an exported webhook is one error
with its line number, and nothing is sent.

A router's put-back copy (`nami-routes`: the routes it still owes, runtime/router.py) is
replayed with that attribute, so it goes to those routes only, as a redrive would send it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nami_action.aws.queues import BATCH, QueueMessage, send_messages
from nami_action.aws.session import Aws
from nami_action.envelope import IncomingRequest, encode_envelope
from nami_action.errors import NamiError
from nami_action.operate.pipelines import DeployedPipeline, queue_name_of
from nami_action.operate.redrive import JOURNAL_FOLDER, Journal, copy_of
from nami_action.runtime.deadletters import CARRIED_ATTRIBUTES
from nami_action.runtime.router import string_attributes

Progress = Callable[[int, int], None]  # sent so far, to send in all


@dataclass(frozen=True)
class Exported:
    """One line of a `nami dlq export` file that can be replayed."""

    message_id: str
    body: str  # the envelope, as the ingress stores it
    group_id: str | None
    # What the webhook still is (a put-back copy's owed routes): SQS MessageAttributes.
    carried: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass
class ReplayOptions:
    dry_run: bool = False
    journal_folder: Path = JOURNAL_FOLDER
    # A test seam: called after each confirmed (and journaled) batch with the count so far.
    after_send: Callable[[int], None] | None = None


@dataclass
class ReplayResult:
    sent: int  # copies stored in the queue by this run (dry run: that would be)
    already: int  # replayed by an earlier run (in the journal): skipped
    unreplayable: int  # exported as malformed (no envelope): would only be dead-lettered again
    journal: Path
    dry_run: bool = False


def read_export(path: Path) -> tuple[list[Exported], int]:
    """The replayable webhooks of an export file, and how many lines hold no envelope."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise NamiError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from exc
    found: list[Exported] = []
    malformed = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict) or not isinstance(record.get("messageId"), str):
                raise ValueError("not an exported webhook (no `messageId`)")
            if "envelope" not in record:
                malformed += 1
                continue
            found.append(_exported(record))
        except (ValueError, TypeError, KeyError, binascii.Error) as exc:
            raise NamiError(
                f"{path}:{number}: {exc} (expected a line of `nami dlq export`)"
            ) from None
    return found, malformed


def _exported(record: dict[str, Any]) -> Exported:
    e = record["envelope"]
    if not isinstance(e, dict):
        raise ValueError("`envelope` is not an object")
    request = IncomingRequest(
        method=str(e["method"]),
        path=str(e["path"]),
        query=dict(e.get("query") or {}),
        headers=dict(e.get("headers") or {}),
        body=base64.b64decode(str(e.get("body", "")), validate=True),
        source_ip=str(e.get("sourceIp", "")),
        request_id=str(e["id"]),
        received_at_ms=int(e["receivedAt"]),
    )
    attributes = record.get("attributes") or {}
    group = attributes.get("MessageGroupId") if isinstance(attributes, dict) else None
    return Exported(record["messageId"], encode_envelope(request), group, _carried(record))


def _carried(record: dict[str, Any]) -> dict[str, dict[str, str]]:
    """The exported message attributes a replay keeps (as export wrote them: SQS's shape)."""
    exported = record.get("messageAttributes") or {}
    if not isinstance(exported, dict):
        raise ValueError("`messageAttributes` is not an object")
    kept = {}
    for name in CARRIED_ATTRIBUTES:
        value = exported.get(name)
        text = value.get("StringValue") if isinstance(value, dict) else None
        if isinstance(text, str) and text:
            kept[name] = text
    return string_attributes(kept)


def replay_journal(folder: Path, queue_url: str) -> Journal:
    """One journal per destination queue: a DLQ message id is replayed there once, whichever
    export file it comes from."""
    digest = hashlib.sha256(queue_url.encode()).hexdigest()[:12]
    return Journal(folder / f"replay-{queue_name_of(queue_url)}-{digest}.journal")


def replay(
    aws: Aws,
    target: DeployedPipeline,
    source: Path,
    options: ReplayOptions,
    progress: Progress = lambda sent, total: None,
) -> ReplayResult:
    webhooks, malformed = read_export(source)
    journal = replay_journal(options.journal_folder, target.queue_url)
    todo = [w for w in webhooks if w.message_id not in journal.pending]
    todo = list({w.message_id: w for w in todo}.values())  # an id twice in a file: once
    result = ReplayResult(0, len(webhooks) - len(todo), malformed, journal.path, options.dry_run)
    if options.dry_run:
        result.sent = len(todo)
        return result
    for start in range(0, len(todo), BATCH):
        batch = todo[start : start + BATCH]
        copies = [copy_of(_as_message(w), target.fifo) for w in batch]
        stored, refused = send_messages(aws, target.queue_url, copies)
        journal.sent(stored)
        result.sent += len(stored)
        progress(result.sent, len(todo))
        if options.after_send:
            options.after_send(result.sent)
        if refused:
            reasons = "; ".join(sorted(set(refused.values()))[:3])
            raise NamiError(
                f"SQS refused {len(refused)} webhook(s) ({reasons}); replayed {result.sent} "
                "before stopping. Run the same command again: what was sent is skipped"
            )
    return result


def _as_message(webhook: Exported) -> QueueMessage:
    """The exported webhook as redrive's copy_of takes it: the copy carries `nami-redrive-of`
    (the DLQ message id) and, on FIFO, that id as its deduplication id. Not the DLQ's
    `nami-outcome`/`nami-reason`: those said why it left the queue, not what it is now; but
    what it still is (a put-back copy's owed routes) goes with it."""
    attributes = {"MessageGroupId": webhook.group_id} if webhook.group_id else {}
    return QueueMessage(webhook.message_id, "", webhook.body, attributes, dict(webhook.carried))
