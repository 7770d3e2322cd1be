"""One batch of SQS records in, per-webhook outcomes and the failed message ids out."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .config import DedupeConfig, RuntimeConfig
from .dedupe import Markers, event_id
from .verify import VerifySettings, verify
from .webhook import MalformedEnvelope, Webhook, decode_envelope

# Without a Lambda context (tests, local runs) a claimed marker is leased for Lambda's maximum.
MAX_LAMBDA_SECONDS = 900
ERROR_LIMIT = 1000  # characters of an exception message kept in the log line
FIFO_HELD = "not processed: an earlier record of this FIFO batch failed"


def print_line(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


@dataclass
class Outcome:
    """What happened to one record; becomes one JSON log line."""

    outcome: str
    message_id: str
    webhook_id: str | None = None
    reason: str | None = None
    error: str | None = None
    event_id: str | None = None
    duration_ms: float = 0.0

    @property
    def failed(self) -> bool:
        return self.outcome == "failed"


@dataclass
class Consumer:
    """The webhook-mode loop: decode, verify, dedupe, call, report."""

    config: RuntimeConfig
    function: Callable[..., Any]
    verify_settings: VerifySettings | None = None
    markers: Markers | None = None
    clock: Callable[[], float] = time.time
    emit: Callable[[str], None] = print_line
    _timer: Callable[[], float] = field(default=time.perf_counter, repr=False)

    def __call__(self, event: Mapping[str, Any], context: Any = None) -> Any:
        if self.config.mode == "sqs":
            return self.function(event, context)  # the user owns the whole batch
        return self.run_batch(event, context)

    def run_batch(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        lease_until = int(self.clock() + _remaining_seconds(context)) + 1
        failures: list[dict[str, str]] = []
        for record in event.get("Records") or []:
            if failures and _is_fifo(record):
                # FIFO order: after a failure, later records must not overtake it. AWS asks
                # to stop and return every unprocessed record as failed too.
                outcome = Outcome("failed", str(record.get("messageId", "")), reason=FIFO_HELD)
            else:
                outcome = self.run_record(record, lease_until)
            self.emit(self.log_line(outcome))
            if outcome.failed:
                failures.append({"itemIdentifier": outcome.message_id})
        return {"batchItemFailures": failures}

    def run_record(self, record: Mapping[str, Any], lease_until: int) -> Outcome:
        started = self._timer()
        outcome = self._outcome(record, lease_until)
        outcome.duration_ms = round((self._timer() - started) * 1000, 3)
        return outcome

    def _outcome(self, record: Mapping[str, Any], lease_until: int) -> Outcome:
        message_id = str(record.get("messageId", ""))
        try:
            webhook = _decode(record, message_id)
        except MalformedEnvelope as exc:
            # Can never succeed: retrying would only park it in the DLQ later. Dropped, logged.
            return Outcome("malformed", message_id, reason=str(exc))
        checked = self._verify(webhook)
        if checked is not None:
            return Outcome("rejected", message_id, webhook.id, reason=checked)
        if self.config.dedupe is None or self.markers is None:
            return self._call(webhook, message_id)
        return self._call_once(webhook, message_id, self.config.dedupe, self.markers, lease_until)

    def _verify(self, webhook: Webhook) -> str | None:
        """None when accepted, else the reason."""
        if self.verify_settings is None:
            return None
        result = verify(self.verify_settings, webhook.headers, webhook.body, self.clock())
        return None if result.ok else result.reason

    def _call_once(
        self,
        webhook: Webhook,
        message_id: str,
        dedupe: DedupeConfig,
        markers: Markers,
        lease_until: int,
    ) -> Outcome:
        eid = event_id(webhook, dedupe.header, dedupe.json_path)
        key = f"{self.config.pipeline}#{eid}"
        now = self.clock()
        try:
            owner = markers.claim(key, now, int(now) + dedupe.window, lease_until)
        except Exception as exc:
            # Unsure whether it was seen: retry later rather than risk a double or a drop.
            return Outcome("failed", message_id, webhook.id, error=_describe(exc), event_id=eid)
        if owner is None:
            return Outcome("duplicate", message_id, webhook.id, event_id=eid)
        outcome = self._call(webhook, message_id)
        outcome.event_id = eid
        try:
            if outcome.failed:
                markers.release(key, owner)  # so the retry is processed, not skipped
            else:
                markers.complete(key, owner)
        except Exception as exc:
            # The lease runs out at the invocation deadline, so a retry still gets through.
            outcome.reason = f"dedupe marker not updated: {_describe(exc)}"
        return outcome

    def _call(self, webhook: Webhook, message_id: str) -> Outcome:
        try:
            self.function(webhook)
        except Exception as exc:
            return Outcome("failed", message_id, webhook.id, error=_describe(exc))
        return Outcome("ok", message_id, webhook.id)

    def log_line(self, outcome: Outcome) -> str:
        line: dict[str, Any] = {
            "pipeline": self.config.pipeline,
            "id": outcome.webhook_id,
            "messageId": outcome.message_id,
            "outcome": outcome.outcome,
            "durationMs": outcome.duration_ms,
        }
        optional = {"eventId": outcome.event_id, "reason": outcome.reason, "error": outcome.error}
        line.update({k: v for k, v in optional.items() if v is not None})
        return json.dumps(line, ensure_ascii=False, separators=(",", ":"))


def _decode(record: Mapping[str, Any], message_id: str) -> Webhook:
    body = record.get("body")
    if not isinstance(body, str):
        raise MalformedEnvelope("SQS record has no body")
    attributes = record.get("attributes") or {}
    count = str(attributes.get("ApproximateReceiveCount", "1"))
    return decode_envelope(body, message_id, int(count) if count.isdigit() else 1)


def _is_fifo(record: Mapping[str, Any]) -> bool:
    return str(record.get("eventSourceARN", "")).endswith(".fifo")


def _remaining_seconds(context: Any) -> float:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return remaining() / 1000 if callable(remaining) else MAX_LAMBDA_SECONDS


def _describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= ERROR_LIMIT else text[: ERROR_LIMIT - 1] + "…"
