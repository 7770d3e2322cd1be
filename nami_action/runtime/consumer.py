"""One batch of SQS records in, per-webhook outcomes and the failed message ids out.

Every record ends in exactly one outcome (docs/where-a-webhook-can-end-up.md):
handled, failed (retried), rejected or malformed (moved to the DLQ with the reason, then
done), duplicate (an earlier copy was handled); with `forward:`, forwarded instead of handled,
or refused (the destination's 4xx: moved to the DLQ with its answer); a `routes:` pipeline's
router: routed (sent to each matched route's queue) or unrouted (moved to the DLQ with the
reason, or dropped with `unrouted: drop`). One JSON log line per record, and one CloudWatch
Embedded Metric Format line per batch with the counts.

`Routed` counts webhooks, once each: when the router first sends one to its routes. A copy it
put back for the routes still owed is logged as `routed` again (with `putBackCopy`), where
it went, but not counted again: a webhook that two routes got, one of them 30 s later, is
one `Routed`, as a webhook sent to two routes at once is.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from .config import DedupeConfig, RuntimeConfig
from .deadletters import DeadLetters
from .dedupe import Markers, event_id
from .forward import Refused, RetryLater
from .router import (
    ROUTES_ATTRIBUTE,
    UNROUTED_REASON,
    Routed,
    Router,
    owed_routes,
    record_attributes,
)
from .verify import MISMATCH, VerifySettings, verify
from .webhook import MalformedEnvelope, Webhook, decode_envelope

# Without a Lambda context (tests, local runs) a claimed marker is leased for Lambda's maximum.
MAX_LAMBDA_SECONDS = 900
ERROR_LIMIT = 1000  # characters of an exception message kept in the log line
FIFO_HELD = "not processed: an earlier record of this FIFO batch failed"
# A burst of forged signatures must not become a burst of secret reads: one re-read serves
# every mismatch within this many seconds.
REREAD_EVERY = 1.0

HANDLED, FAILED, REJECTED, MALFORMED, DUPLICATE = (
    "handled",
    "failed",
    "rejected",
    "malformed",
    "duplicate",
)
OUTCOMES = (HANDLED, FAILED, REJECTED, MALFORMED, DUPLICATE)
# `forward:` pipelines: the destination answered 2xx, or refused it for good (dead-lettered).
FORWARDED, REFUSED = "forwarded", "refused"
FORWARD_OUTCOMES = (FORWARDED, FAILED, REJECTED, MALFORMED, DUPLICATE, REFUSED)
# `routes:` pipelines' router: sent to each matched route's queue, or matched none.
ROUTED, UNROUTED = "routed", "unrouted"
ROUTER_OUTCOMES = (ROUTED, UNROUTED, FAILED, REJECTED, MALFORMED)
# What a log line's `outcome` can be.
ALL_OUTCOMES = (*OUTCOMES, FORWARDED, REFUSED, ROUTED, UNROUTED)
METRICS_NAMESPACE = "Nami"


class Retries(Protocol):
    """Delays a failed record's next attempt (SqsRetries in Lambda)."""

    def postpone(self, record: Mapping[str, Any], retry_after: int | None = None) -> int | None:
        """Hide the record for its scheduled delay (no sooner than `retry_after`); return it
        (None: left to the visibility timeout). Raises when that failed."""
        ...


class SecretsUnreadable(RuntimeError):
    """The verify secrets could not be read again after a mismatch."""


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
    retry_in: int | None = None  # seconds until the next attempt, when a schedule set it
    retry_error: str | None = None  # why the schedule could not be applied
    retry_after: int | None = None  # a `forward` destination's Retry-After, in seconds
    routes: list[str] | None = None  # the router: the routes it went to
    # The router: a copy it put back, owing some routes (counted when first routed, not again)
    put_back_copy: bool = False

    @property
    def counted(self) -> bool:
        """Whether the batch's metrics count it (see the module's docstring)."""
        return not (self.put_back_copy and self.outcome == ROUTED)

    @property
    def failed(self) -> bool:
        return self.outcome == FAILED


@dataclass
class Consumer:
    """The webhook-mode loop: decode, verify, dedupe, call, report."""

    config: RuntimeConfig
    function: Callable[..., Any]
    verify_settings: VerifySettings | None = None
    markers: Markers | None = None
    dead_letters: DeadLetters | None = None
    retries: Retries | None = None  # consumer.retry; None: the queue's visibility timeout
    # Reads the verify secrets again, bypassing any cache (raises when they are unusable).
    reread_secrets: Callable[[], VerifySettings] | None = None
    router: Router | None = None  # `routes:`: route instead of calling a function
    clock: Callable[[], float] = time.time
    emit: Callable[[str], None] = print_line
    _timer: Callable[[], float] = field(default=time.perf_counter, repr=False)
    _reread_at: float = field(default=float("-inf"), repr=False)
    _reread_error: str | None = field(default=None, repr=False)

    def __call__(self, event: Mapping[str, Any], context: Any = None) -> Any:
        if self.config.mode == "sqs":
            return self.function(event, context)  # the user owns the whole batch
        return self.run_batch(event, context)

    def run_batch(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        lease_until = int(self.clock() + _remaining_seconds(context)) + 1
        failures: list[dict[str, str]] = []
        counts: Counter[str] = Counter()
        for record in event.get("Records") or []:
            if failures and _is_fifo(record):
                # FIFO order: after a failure, later records must not overtake it. AWS asks
                # to stop and return every unprocessed record as failed too.
                outcome = Outcome(FAILED, str(record.get("messageId", "")), reason=FIFO_HELD)
            else:
                outcome = self.run_record(record, lease_until)
            if outcome.failed:
                self._postpone(record, outcome)
            if outcome.counted:
                counts[outcome.outcome] += 1
            self.emit(self.log_line(outcome))
            if outcome.failed:
                failures.append({"itemIdentifier": outcome.message_id})
        outcomes = OUTCOMES if self.config.forward is None else FORWARD_OUTCOMES
        if self.router is not None:
            outcomes = ROUTER_OUTCOMES
        self.emit(metrics_line(self.config.stack, counts, int(self.clock() * 1000), outcomes))
        return {"batchItemFailures": failures}

    def _postpone(self, record: Mapping[str, Any], outcome: Outcome) -> None:
        """Apply the retry schedule. Whatever happens the record stays failed (reported in
        batchItemFailures): a refused ChangeMessageVisibility only means the retry comes
        after the queue's visibility timeout instead, never that the webhook is lost."""
        if self.retries is None:
            return
        try:
            outcome.retry_in = self.retries.postpone(record, outcome.retry_after)
        except Exception as exc:
            outcome.retry_error = _describe(exc)

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
            # Can never succeed: retrying would only burn receives. Kept in the DLQ instead.
            return self._dead_letter(record, Outcome(MALFORMED, message_id, reason=str(exc)))
        try:
            reason = self._verify(webhook)
        except Exception as exc:
            # The secret could not be re-read: our problem, not the sender's. Retry.
            return Outcome(FAILED, message_id, webhook.id, error=_describe(exc))
        if reason is not None:
            return self._dead_letter(record, Outcome(REJECTED, message_id, webhook.id, reason))
        if self.router is not None:
            try:
                return self._route(self.router, record, webhook, message_id)
            except Exception as exc:
                # Only this record is retried: failing the batch would route its
                # batch-mates again (duplicates in their routes' queues).
                return Outcome(FAILED, message_id, webhook.id, error=_describe(exc))
        if self.config.dedupe is None or self.markers is None:
            outcome = self._call(webhook, message_id)
        else:
            outcome = self._call_once(
                webhook, message_id, self.config.dedupe, self.markers, lease_until
            )
        if outcome.outcome == REFUSED:
            return self._dead_letter(record, outcome)
        return outcome

    def _route(
        self, router: Router, record: Mapping[str, Any], webhook: Webhook, message_id: str
    ) -> Outcome:
        """Send to each matched route's queue; a webhook no route matched is kept in the DLQ
        (or, with `unrouted: drop`, counted and logged only)."""
        names = router.choose(record, webhook)
        owed = owed_routes(record)
        # Owed routes a later deploy removed: the routes that remain got the webhook; say so.
        removed = [name for name in owed or [] if name not in router.queues]
        if not names and owed is not None:
            # A put-back copy owing only routes since removed from nami.yaml: the routes that
            # remain got it. Kept (whatever `unrouted` says) with the routes it still owes.
            reason = no_longer_routes(owed)
            return self._dead_letter(
                record, Outcome(UNROUTED, message_id, webhook.id, reason=reason)
            )
        if not names:
            if self.config.unrouted == "drop":
                reason = f"{UNROUTED_REASON}; dropped (unrouted: drop)"
                return Outcome(UNROUTED, message_id, webhook.id, reason=reason)
            unrouted = Outcome(UNROUTED, message_id, webhook.id, reason=UNROUTED_REASON)
            return self._dead_letter(record, unrouted)
        routed = router.route(record, names)
        unparked = None  # why a copy owing the failed routes was not moved to the DLQ
        if not routed.done and routed.sent:
            unparked = self._park_copy(record, routed)
        if routed.done:
            outcome = Outcome(ROUTED, message_id, webhook.id, error=routed.error)
            if routed.requeued:
                outcome.reason = f"put back for {', '.join(routed.owed)}"
        elif routed.sent and unparked is None:
            outcome = Outcome(ROUTED, message_id, webhook.id, error=routed.error)
            outcome.reason = (
                f"not put back for {', '.join(routed.owed)}: "
                "a copy owing them moved to the dead-letter queue"
            )
        else:
            reason = f"not routed to {', '.join(routed.owed)}"
            if routed.sent:
                reason += f"; {', '.join(routed.sent)} got it and may see it again"
            error = routed.error
            if unparked is not None:
                error = f"{error}; not moved to the dead-letter queue: {unparked}"
            outcome = Outcome(FAILED, message_id, webhook.id, reason=reason, error=error)
        if removed:
            gone = no_longer_routes(removed)
            outcome.reason = f"{outcome.reason}; {gone}" if outcome.reason else gone
        outcome.routes = routed.sent
        outcome.put_back_copy = owed is not None
        return outcome

    def _park_copy(self, record: Mapping[str, Any], routed: Routed) -> str | None:
        """Move a copy owing the routes a send failed for to the DLQ, marked with them, when
        it could not be put back (e.g. too large with its `nami-routes`: SQS counts message
        attributes in a queue's maximum size, while a DLQ takes 1 MiB): the routes that got
        it then do not get it again. None when stored, else why not."""
        if self.dead_letters is None:
            return "no dead-letter queue configured (NAMI_DEAD_LETTER_QUEUE_URL)"
        marked = record_attributes({ROUTES_ATTRIBUTE: ",".join(routed.owed)})
        copy = {**record, "messageAttributes": marked}
        reason = f"not routed to {', '.join(routed.owed)} ({routed.error}); got it: "
        try:
            self.dead_letters.send(copy, FAILED, reason + ", ".join(routed.sent))
        except Exception as exc:
            return _describe(exc)
        return None

    def _verify(self, webhook: Webhook) -> str | None:
        """None when accepted, else the reason. A mismatch re-reads the secret once first:
        it may have been rotated since this container read it."""
        if self.verify_settings is None:
            return None
        received_at = webhook.received_at.timestamp()
        result = verify(self.verify_settings, webhook.headers, webhook.body, received_at)
        if result.ok or result.reason != MISMATCH or self.reread_secrets is None:
            return None if result.ok else result.reason
        now = self.clock()
        if now - self._reread_at >= REREAD_EVERY:
            self._reread_at = now
            try:
                self.verify_settings = self.reread_secrets()
                self._reread_error = None
            except Exception as exc:
                self._reread_error = _describe(exc)
        if self._reread_error is not None:
            # The secret may have changed and cannot be read: retry rather than reject.
            raise SecretsUnreadable(self._reread_error)
        result = verify(self.verify_settings, webhook.headers, webhook.body, received_at)
        return None if result.ok else result.reason

    def _dead_letter(self, record: Mapping[str, Any], outcome: Outcome) -> Outcome:
        """Move a record that can never succeed to the DLQ; only then is it done."""
        reason = outcome.reason or outcome.outcome
        if self.dead_letters is None:
            error = "no dead-letter queue configured (NAMI_DEAD_LETTER_QUEUE_URL)"
        else:
            try:
                self.dead_letters.send(record, outcome.outcome, reason)
                return outcome
            except Exception as exc:
                error = _describe(exc)
        # Not stored elsewhere: keep it in the queue (retried, then SQS's own redrive).
        return Outcome(
            FAILED,
            outcome.message_id,
            outcome.webhook_id,
            reason=f"{outcome.outcome} ({reason}) but not moved to the dead-letter queue",
            error=error,
        )

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
            claim = markers.claim(key, now, int(now) + dedupe.window, lease_until)
        except Exception as exc:
            # Unsure whether it was seen: retry later rather than risk a double or a drop.
            return Outcome(FAILED, message_id, webhook.id, error=_describe(exc), event_id=eid)
        if claim.duplicate:
            return Outcome(DUPLICATE, message_id, webhook.id, event_id=eid)
        if claim.owner is None:
            # An earlier copy is running, or crashed and its lease has not run out: it may
            # never finish, so this copy is retried (a later delivery takes the claim over).
            why = f"an earlier copy of event {eid} has not finished ({claim.status or 'unknown'})"
            return Outcome(FAILED, message_id, webhook.id, reason=why, event_id=eid)
        outcome = self._call(webhook, message_id)
        outcome.event_id = eid
        try:
            if outcome.failed or outcome.outcome == REFUSED:
                # So the retry (or a redrive of a refused one) is processed, not skipped.
                markers.release(key, claim.owner)
            else:
                markers.complete(key, claim.owner)
        except Exception as exc:
            # The lease runs out at the invocation deadline, so a retry still gets through.
            outcome.reason = f"dedupe marker not updated: {_describe(exc)}"
        return outcome

    def _call(self, webhook: Webhook, message_id: str) -> Outcome:
        try:
            self.function(webhook)
        except Refused as exc:
            return Outcome(REFUSED, message_id, webhook.id, reason=str(exc))
        except RetryLater as exc:
            failed = Outcome(FAILED, message_id, webhook.id, reason=str(exc))
            failed.retry_after = exc.retry_after
            return failed
        except BaseException as exc:
            # BaseException too: a handler's sys.exit() must fail its record, not the batch
            # (or, in `nami dev`, the worker thread). KeyboardInterrupt is no exception to
            # this: Lambda never sends SIGINT, and `nami dev` runs handlers in worker threads
            # (Python delivers Ctrl-C to the main thread, where nami dev stops gracefully),
            # so here it can only come from the handler's own code.
            return Outcome(FAILED, message_id, webhook.id, error=_describe(exc))
        return Outcome(
            HANDLED if self.config.forward is None else FORWARDED, message_id, webhook.id
        )

    def log_line(self, outcome: Outcome) -> str:
        line: dict[str, Any] = {
            "pipeline": self.config.pipeline,
            "id": outcome.webhook_id,
            "messageId": outcome.message_id,
            "outcome": outcome.outcome,
            "durationMs": outcome.duration_ms,
        }
        optional = {
            "eventId": outcome.event_id,
            "reason": outcome.reason,
            "error": outcome.error,
            "retryIn": outcome.retry_in,
            "retryError": outcome.retry_error,
            "retryAfter": outcome.retry_after,
            "routes": outcome.routes,
            "putBackCopy": outcome.put_back_copy or None,
        }
        line.update({k: v for k, v in optional.items() if v is not None})
        return json.dumps(line, ensure_ascii=False, separators=(",", ":"))


def metrics_line(
    stack: str,
    counts: Mapping[str, int],
    timestamp_ms: int,
    outcomes: tuple[str, ...] = OUTCOMES,
) -> str:
    """One CloudWatch Embedded Metric Format line: the batch's count per outcome.

    CloudWatch Logs turns it into metrics without any API call from the function.
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
    """
    names = [outcome.capitalize() for outcome in outcomes]
    document: dict[str, Any] = {
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [
                {
                    "Namespace": METRICS_NAMESPACE,
                    "Dimensions": [["Pipeline"]],
                    "Metrics": [{"Name": name, "Unit": "Count"} for name in names],
                }
            ],
        },
        "Pipeline": stack,
    }
    document.update({name: counts.get(o, 0) for name, o in zip(names, outcomes, strict=True)})
    return json.dumps(document, separators=(",", ":"))


def no_longer_routes(owed: list[str]) -> str:
    """Why a put-back copy skips routes it owes: a later deploy removed them."""
    return f"owed to {', '.join(owed) or 'no route'}, no longer among this pipeline's routes"


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
