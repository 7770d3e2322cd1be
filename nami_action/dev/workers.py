"""Workers that drain one pipeline's queue the way the Lambda event source mapping does.

`max_concurrency` threads each receive a batch (up to `batch_size`, waiting up to
`batching_window` to fill it), invoke the consumer with an SQS-shaped event, and delete the
records not reported in batchItemFailures. So at most `max_concurrency` batches are in flight.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from nami_action.config import PipelineConfig
from nami_action.config.forward import concurrency, function_timeout
from nami_action.config.rules import retry_schedule
from nami_action.dev.console import Counters
from nami_action.dev.queue import Message, Store
from nami_action.runtime.consumer import (
    DUPLICATE,
    FORWARDED,
    HANDLED,
    MALFORMED,
    REFUSED,
    REJECTED,
    ROUTED,
    UNROUTED,
)
from nami_action.runtime.retry import RetrySchedule, retry_delay
from nami_action.runtime.router import record_attributes

ACCOUNT = "000000000000"
SENDER_ID = "AROADEVNAMI:apigateway"
MAX_IDLE_WAIT = 1.0  # seconds between checks for messages whose visibility timeout ended
SWEEP_EVERY = 0.25  # seconds: how late an exhausted message may reach the dead letters
DONE_OUTCOMES = frozenset(
    {HANDLED, REJECTED, MALFORMED, DUPLICATE, FORWARDED, REFUSED, ROUTED, UNROUTED}
)

Invoke = Callable[[Mapping[str, Any], Any], Any]


@dataclass(frozen=True)
class Settings:
    """The event source mapping and queue settings of one pipeline."""

    pipeline: str
    function_name: str
    queue_arn: str
    region: str
    batch_size: int
    batching_window: float
    concurrency: int
    visibility_timeout: float
    max_receive_count: int
    timeout: float
    memory: int
    fifo: bool
    retry: RetrySchedule | None = None  # None: a retry comes after visibility_timeout

    @classmethod
    def of(cls, pipeline: PipelineConfig, region: str) -> Settings:
        spec = pipeline.spec
        queue = pipeline.stack_name + (".fifo" if spec.queue.fifo else "")
        return cls(
            pipeline=pipeline.name,
            function_name=f"{pipeline.stack_name}-consumer",
            queue_arn=f"arn:aws:sqs:{region}:{ACCOUNT}:{queue}",
            region=region,
            batch_size=spec.consumer.batch_size,
            batching_window=float(spec.consumer.batching_window),
            # One ordered stream per FIFO queue (group "nami"): one batch at a time.
            concurrency=1 if spec.queue.fifo else concurrency(spec),
            visibility_timeout=float(pipeline.visibility_timeout),
            max_receive_count=spec.queue.max_receive_count,
            timeout=float(function_timeout(spec)),
            memory=spec.consumer.memory,
            fifo=spec.queue.fifo,
            retry=retry_schedule(spec),
        )


@dataclass
class LocalContext:
    """The parts of the Lambda context object handlers and the runtime use."""

    function_name: str
    deadline: float  # time.monotonic() value
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "nami-dev"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


def sqs_event(settings: Settings, messages: list[Message]) -> dict[str, Any]:
    """The event Lambda receives from an SQS event source mapping."""
    return {"Records": [_record(settings, m) for m in messages]}


def _record(settings: Settings, message: Message) -> dict[str, Any]:
    attributes = {
        "ApproximateReceiveCount": str(message.receive_count),
        "SentTimestamp": str(int(message.sent_at * 1000)),
        "SenderId": SENDER_ID,
        "ApproximateFirstReceiveTimestamp": str(int(message.first_received_at * 1000)),
    }
    if settings.fifo:
        attributes["SequenceNumber"] = str(message.seq).rjust(20, "0")
        attributes["MessageGroupId"] = "nami"
        attributes["MessageDeduplicationId"] = message.message_id
    return {
        "messageId": message.message_id,
        "receiptHandle": message.receipt,
        "body": message.body,
        "attributes": attributes,
        "messageAttributes": record_attributes(message.attributes),
        "md5OfBody": hashlib.md5(message.body.encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": settings.queue_arn,
        "awsRegion": settings.region,
    }


def failed_ids(result: Any, messages: list[Message]) -> set[str]:
    """Message ids to keep, from a ReportBatchItemFailures response.

    As in Lambda: no response (or one without the key) is success; a malformed response, or
    an item naming no message of the batch, fails the whole batch.
    """
    if not isinstance(result, Mapping) or result.get("batchItemFailures") is None:
        return set()
    everything = {m.message_id for m in messages}
    items = result["batchItemFailures"]
    if not isinstance(items, list):
        return everything
    wanted: set[str] = set()
    for item in items:
        identifier = item.get("itemIdentifier") if isinstance(item, Mapping) else None
        if identifier not in everything:
            return everything
        wanted.add(identifier)
    return wanted


class PipelineWorkers:
    """The poller threads of one pipeline."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        invoke: Invoke,
        counters: Counters,
        say: Callable[[str], None],
    ) -> None:
        self.settings = settings
        self._store = store
        self._invoke = invoke
        self._counters = counters
        self._say = say
        self._cond = threading.Condition()
        self._generation = 0  # bumped on every notify, so no wake-up is lost
        self._stopping = threading.Event()
        self._outcomes: dict[str, str] = {}
        self._retry_after: dict[str, int] = {}  # a forward destination's Retry-After
        self._uncounted: set[str] = set()
        self._outcomes_lock = threading.Lock()
        self._sweep_lock = threading.Lock()
        self._next_sweep = 0.0
        self._threads = [
            threading.Thread(
                target=self._loop, name=f"nami-dev-{settings.pipeline}-{i}", daemon=True
            )
            for i in range(settings.concurrency)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def notify(self, count: int | None = None) -> None:
        """`count` new messages were stored: wake enough pollers to take them (all if None).

        Waking every poller on every group commit made each of them run a receive query for
        a handful of messages, which cost the endpoint a good share of its throughput."""
        with self._cond:
            self._generation += 1
            if count is None:
                self._cond.notify_all()
            else:
                self._cond.notify(-(-count // self.settings.batch_size))

    def stop(self) -> None:
        """Take no new batch; the batches in flight finish."""
        self._stopping.set()
        self.notify()

    def join(self) -> None:
        for thread in self._threads:
            if thread.ident is not None:  # started (a failed start stops before that)
                thread.join()

    def record_outcome(
        self, message_id: str, outcome: str, retry_after: int | None = None, counted: bool = True
    ) -> None:
        """The runtime's per-record outcome (from its log line), for the counters (unless
        not `counted`: a put-back copy routed, counted when its webhook was first routed)."""
        with self._outcomes_lock:
            self._outcomes[message_id] = outcome
            if not counted:
                self._uncounted.add(message_id)
            if retry_after is not None:
                self._retry_after[message_id] = retry_after

    def _loop(self) -> None:
        while not self._stopping.is_set():
            messages = self._collect()
            if messages:
                self._run(messages)

    def _collect(self) -> list[Message]:
        """A batch: full, or whatever arrived before the batching window closed."""
        messages: list[Message] = []
        window_ends: float | None = None
        while not self._stopping.is_set():
            seen = self._generation
            messages += self._receive(self.settings.batch_size - len(messages))
            if len(messages) >= self.settings.batch_size:
                break
            if messages and window_ends is None:
                window_ends = time.monotonic() + self.settings.batching_window
            if window_ends is not None:
                left = window_ends - time.monotonic()
                if left <= 0:
                    break
                self._wait(seen, left)
            else:
                self._wait(seen, self._idle_wait())
        return messages

    def _receive(self, limit: int) -> list[Message]:
        s = self.settings
        now = time.time()
        self._sweep(now)
        messages = self._store.receive(
            s.pipeline, limit, s.visibility_timeout, s.max_receive_count, now
        )
        if messages:
            self._counters.add(in_flight=len(messages))
        return messages

    def _sweep(self, now: float) -> None:
        """Dead-letter exhausted messages; at most every SWEEP_EVERY, not on every receive."""
        with self._sweep_lock:
            if now < self._next_sweep:
                return
            self._next_sweep = now + SWEEP_EVERY
        s = self.settings
        moved = self._store.dead_letter(s.pipeline, s.max_receive_count, now)
        if moved:
            self._counters.add(dead_lettered=moved)
            self._say(
                f"{s.pipeline}: {moved} message(s) moved to the dead-letter queue after "
                f"{s.max_receive_count} receives"
            )

    def _idle_wait(self) -> float:
        upcoming = self._store.next_visible_at(self.settings.pipeline)
        if upcoming is None:
            return MAX_IDLE_WAIT
        return min(MAX_IDLE_WAIT, max(0.01, upcoming - time.time()))

    def _wait(self, seen: int, timeout: float) -> None:
        with self._cond:
            if self._generation == seen and not self._stopping.is_set():
                self._cond.wait(timeout)

    def _run(self, messages: list[Message]) -> None:
        keep = self._invoke_batch(messages)
        done = [m for m in messages if m.message_id not in keep]
        self._store.delete([m.receipt for m in done])
        with self._outcomes_lock:
            outcomes = [self._outcomes.pop(m.message_id, HANDLED) for m in messages]
            after = {m.message_id: self._retry_after.pop(m.message_id, None) for m in messages}
            uncounted = {m.message_id for m in messages} & self._uncounted
            self._uncounted -= uncounted
        self._postpone([m for m in messages if m.message_id in keep], after)
        counts = Counter(
            o if o in DONE_OUTCOMES and m.message_id not in keep else "failed"
            for m, o in zip(messages, outcomes, strict=True)
            if m.message_id not in uncounted or m.message_id in keep
        )
        self._counters.add(in_flight=-len(messages), **counts)

    def _postpone(self, failed: list[Message], retry_after: Mapping[str, int | None]) -> None:
        """consumer.retry, as the Lambda runtime applies it: each failed message is hidden for
        the delay of its attempt (no sooner than a forward destination's Retry-After) instead
        of the visibility timeout."""
        now = time.time()
        for message in failed:
            after = retry_after.get(message.message_id)
            delay = retry_delay(self.settings.retry, message.receive_count, after)
            if delay is not None:
                self._store.postpone(message.receipt, now + delay)

    def _invoke_batch(self, messages: list[Message]) -> set[str]:
        """Call the consumer; return the message ids to keep for a retry."""
        s = self.settings
        started = time.monotonic()
        context = LocalContext(
            function_name=s.function_name,
            deadline=started + s.timeout,
            memory_limit_in_mb=s.memory,
            invoked_function_arn=f"arn:aws:lambda:{s.region}:{ACCOUNT}:function:{s.function_name}",
        )
        try:
            result = self._invoke(sqs_event(s, messages), context)
        except BaseException as exc:  # even SystemExit: a worker thread must not die
            self._say(f"{s.pipeline}: invocation failed, whole batch kept: {exc!r}")
            return {m.message_id for m in messages}
        if time.monotonic() - started > s.timeout:
            # Lambda would have killed the invocation: the whole batch comes back.
            self._say(
                f"{s.pipeline}: batch took longer than consumer.timeout ({s.timeout:g}s); "
                "kept for a retry, as Lambda would"
            )
            return {m.message_id for m in messages}
        return failed_ids(result, messages)
