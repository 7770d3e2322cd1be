"""Reading dead letters without consuming them: `nami dlq peek` and `nami dlq export`.

SQS has no "peek". The usual way, used here: receive with a visibility timeout (the *hold*),
so that the next receive returns other messages and the scan moves forward, then set the
visibility of every received message back to 0 (ChangeMessageVisibility) so it is at once
available again. Receiving with VisibilityTimeout=0 instead would hand the same first
messages back on every call: the scan could neither move past them nor know it was complete.

What a peek costs: each message's ApproximateReceiveCount grows by one (harmless: a
dead-letter queue has no redrive policy of its own, so no count moves it anywhere). If nami
is killed during a peek, the held messages reappear by themselves after the hold; nothing is
lost. FIFO queues return the messages of one message group only in order, and nothing more of
a group while some of it is held: Nami's ingress uses one group per pipeline, so a peek of a
FIFO DLQ sees at most its first 10 messages (export says so when it could not see them all).
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nami_action.aws.queues import (
    BATCH,
    QueueMessage,
    queue_depth,
    receive_messages,
    release_messages,
)
from nami_action.aws.session import Aws
from nami_action.envelope import IncomingRequest, MalformedEnvelope, decode_envelope
from nami_action.errors import NamiError
from nami_action.runtime.deadletters import OUTCOME_ATTRIBUTE, REASON_ATTRIBUTE
from nami_action.runtime.router import ROUTES_ATTRIBUTE

DEFAULT_HOLD = 120  # seconds a scanned message stays hidden before it is released
PREVIEW_BYTES = 200
NO_NEWS_LIMIT = 3  # receives in a row that bring nothing unseen end a scan


class EmptyQueue(NamiError):
    """Nothing to show, export or move."""


@dataclass(frozen=True)
class DeadLetter:
    """One dead-lettered message, its envelope decoded when it is one."""

    message: QueueMessage
    envelope: IncomingRequest | None
    malformed: str | None  # why the body is not an envelope

    @property
    def outcome(self) -> str | None:
        """`rejected` or `malformed` when the runtime moved it here (else its receives ran out)."""
        return self.message.message_attributes.get(OUTCOME_ATTRIBUTE, {}).get("StringValue")

    @property
    def reason(self) -> str | None:
        return self.message.message_attributes.get(REASON_ATTRIBUTE, {}).get("StringValue")

    @property
    def owed_routes(self) -> str | None:
        """A router's put-back copy: the routes it still owes (`nami-routes`), else None."""
        return self.message.message_attributes.get(ROUTES_ATTRIBUTE, {}).get("StringValue")

    @classmethod
    def of(cls, message: QueueMessage) -> DeadLetter:
        try:
            return cls(message, decode_envelope(message.body), None)
        except MalformedEnvelope as exc:
            return cls(message, None, str(exc) or "not an envelope")

    def as_dict(self) -> dict[str, Any]:
        """The archived form: SQS metadata plus the envelope with its body in base64."""
        record: dict[str, Any] = {
            "messageId": self.message.message_id,
            "receiveCount": self.message.receive_count,
            "attributes": dict(sorted(self.message.attributes.items())),
            "messageAttributes": self.message.message_attributes,
        }
        if self.outcome:
            record["outcome"], record["reason"] = self.outcome, self.reason
        if self.envelope is not None:
            e = self.envelope
            record["envelope"] = {
                "id": e.request_id,
                "receivedAt": e.received_at_ms,
                "sourceIp": e.source_ip,
                "method": e.method,
                "path": e.path,
                "query": e.query,
                "headers": e.headers,
                "body": base64.b64encode(e.body).decode("ascii"),
            }
        else:
            record["malformed"] = self.malformed
            record["rawBody"] = self.message.body
        return record


def scan(
    aws: Aws,
    queue_url: str,
    *,
    limit: int | None = None,
    hold: int = DEFAULT_HOLD,
    wait_seconds: int = 1,
    on_batch: Callable[[int], None] | None = None,
) -> list[DeadLetter]:
    """Every message of the queue (or the first `limit`), each once, none consumed."""
    seen: dict[str, QueueMessage] = {}
    handles: list[str] = []
    quiet = 0
    try:
        while limit is None or len(seen) < limit:
            want = BATCH if limit is None else min(BATCH, limit - len(seen))
            batch = receive_messages(
                aws,
                queue_url,
                max_messages=want,
                visibility_timeout=hold,
                wait_seconds=wait_seconds,
            )
            if not batch:
                break
            handles += [m.receipt_handle for m in batch]
            new = [m for m in batch if m.message_id not in seen]
            # A message seen before is back because its hold ran out (a very long scan):
            # keep going until receives bring nothing new.
            quiet = 0 if new else quiet + 1
            if quiet >= NO_NEWS_LIMIT:
                break
            for message in new:
                seen[message.message_id] = message
            if on_batch:
                on_batch(len(seen))
    finally:
        if handles:
            release_messages(aws, queue_url, handles)
    return [DeadLetter.of(m) for m in seen.values()][: limit if limit is not None else None]


def peek(aws: Aws, queue_url: str, limit: int, *, hold: int = DEFAULT_HOLD) -> list[DeadLetter]:
    letters = scan(aws, queue_url, limit=limit, hold=hold)
    if not letters:
        raise EmptyQueue(f"the dead-letter queue {queue_url} is empty")
    return letters


@dataclass(frozen=True)
class ExportResult:
    path: Path
    count: int
    expected: int  # ApproximateNumberOfMessages before the export


def export(
    aws: Aws,
    queue_url: str,
    out: Path,
    *,
    hold: int = DEFAULT_HOLD,
    on_batch: Callable[[int], None] | None = None,
) -> ExportResult:
    """Write every dead letter, once each, as one JSON object per line. The file appears only
    when complete (written beside it, then renamed)."""
    depth = queue_depth(aws, queue_url)
    expected = depth.visible if depth else 0
    letters = scan(aws, queue_url, hold=hold, on_batch=on_batch)
    if not letters:
        raise EmptyQueue(f"the dead-letter queue {queue_url} is empty: nothing to export")
    write_letters(letters, out)
    return ExportResult(out, len(letters), expected)


def write_letters(letters: list[DeadLetter], out: Path) -> None:
    """One JSON object per line; the file appears only when complete."""
    folder = out.parent if str(out.parent) else Path(".")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{out.name}.", dir=folder)
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            for letter in letters:
                stream.write(json.dumps(letter.as_dict(), ensure_ascii=True) + "\n")
        os.replace(temporary, out)
    except OSError as exc:
        raise NamiError(f"cannot write {out}: {exc.strerror or exc}") from exc


# --- rendering -----------------------------------------------------------------------------


def printable(data: bytes, limit: int = PREVIEW_BYTES) -> str:
    """The first `limit` bytes as text a terminal shows safely (controls escaped)."""
    text = data[:limit].decode("utf-8", "replace")
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    if len(data) > limit:
        shown += f"... (+{len(data) - limit} bytes)"
    return shown


def _ms_iso(milliseconds: int | str | None) -> str:
    try:
        moment = datetime.fromtimestamp(int(milliseconds or 0) / 1000, UTC)
    except (TypeError, ValueError, OverflowError):
        return "?"
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def letter_text(letter: DeadLetter, *, peek_counted: bool = True) -> str:
    m = letter.message
    counted = " (this peek included)" if peek_counted else ""
    lines = [
        f"message {m.message_id}: receive count {m.receive_count}{counted}, "
        f"queued {_ms_iso(m.attributes.get('SentTimestamp'))}"
    ]
    if letter.outcome:
        lines.append(
            f"  {letter.outcome} by the consumer: {printable((letter.reason or '').encode())}"
        )
    else:
        lines.append("  its receives ran out (the handler failed, or the consumer could not start)")
    if letter.owed_routes:
        # The other routes got it: a resend by the provider would reach them twice.
        routes = printable(", ".join(letter.owed_routes.split(",")).encode())
        lines.append(f"  put-back copy, owed to: {routes} (redrive it; the other routes got it)")
    e = letter.envelope
    if e is None:
        lines.append(f"  malformed (not a Nami envelope: {letter.malformed})")
        lines.append(f"  raw ({len(m.body.encode())} bytes): {printable(m.body.encode())}")
        return "\n".join(lines) + "\n"
    lines.append(f"  webhook {e.request_id}: {e.method} {e.path} at {_ms_iso(e.received_at_ms)}")
    for name, value in e.headers.items():
        lines.append(f"  {printable(name.encode(), 100)}: {printable(value.encode())}")
    lines.append(f"  body ({len(e.body)} bytes): {printable(e.body)}")
    return "\n".join(lines) + "\n"


def letters_text(letters: list[DeadLetter], *, peek_counted: bool = True) -> str:
    return "\n".join(letter_text(letter, peek_counted=peek_counted) for letter in letters)
