"""`nami dlq redrive`: move dead letters back to the pipeline's queue, losing none.

Two ways, chosen at run time:

1. **SQS's own move task** (StartMessageMoveTask), where the endpoint has it: SQS moves the
   messages itself; nami polls ListMessageMoveTasks for progress. Interrupting nami does not
   stop the task; running redrive again follows the running task instead of starting another.
2. **Copy loop**, where it does not (emulators, some partitions, FIFO queues in regions
   without FIFO redrive): receive a batch (hidden for a *hold*), send copies to the queue,
   and delete the originals only after SQS confirmed the send. Nothing is ever deleted before
   its copy is stored, so an interruption at any point loses nothing.

Why a re-run does not duplicate either. The one window where a message exists twice is
between a confirmed send and the delete of the original. nami closes it three ways:
- every confirmed send is first appended (and fsynced) to a journal,
  `.nami/redrive/<dlq>-<hash>.journal` beside nami.yaml; a re-run that receives a message
  the journal lists deletes it without sending it again;
- on Ctrl-C or an error, the batch in hand is settled before exiting: copies confirmed are
  deleted from the DLQ, the rest made visible again at once;
- FIFO copies carry MessageDeduplicationId = the DLQ message id, so SQS itself drops a second
  copy sent within its 5-minute deduplication window.
What remains, honestly: if the process dies (kill -9, power loss) after SQS stored a batch but
before the journal line was written (one round trip), or the re-run happens on another machine
without the journal, up to one batch (10 messages) can be delivered twice. That is
at-least-once delivery, which the pipeline promises anyway: the runtime's `dedupe` (by event
id) drops such repeats, and handlers must be idempotent. Every copy also carries the message
attribute `nami-redrive-of` = the DLQ message id, to trace it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from nami_action.aws.queues import (
    BATCH,
    MoveTask,
    OutgoingMessage,
    QueueDepth,
    QueueMessage,
    cancel_message_move_task,
    delete_messages,
    message_move_tasks,
    queue_attributes,
    queue_depth,
    receive_messages,
    release_messages,
    send_messages,
    start_message_move_task,
)
from nami_action.aws.session import Aws
from nami_action.errors import NamiError
from nami_action.operate.dlq import EmptyQueue
from nami_action.operate.pipelines import DeployedPipeline, queue_name_of

REDRIVE_ATTRIBUTE = "nami-redrive-of"
MAX_MESSAGE_ATTRIBUTES = 10  # SQS's limit per message
DEFAULT_HOLD = 60
JOURNAL_FOLDER = Path(".nami") / "redrive"
MAX_TASK_RATE = 500  # StartMessageMoveTask's MaxNumberOfMessagesPerSecond limit
NO_NEWS_LIMIT = 3  # receives in a row bringing only webhooks that came back end the copy loop

Method = Literal["move-task", "copy"]
Progress = Callable[[int, int | None], None]  # moved so far, total (approximate) if known


class Interrupted(NamiError):
    exit_code = 130


@dataclass
class RedriveOptions:
    rate: float | None = None  # messages per second; None: as fast as SQS goes
    dry_run: bool = False
    journal_folder: Path = JOURNAL_FOLDER
    hold: int = DEFAULT_HOLD  # seconds a batch in hand stays hidden
    poll_seconds: float = 2.0
    use_move_task: bool = True
    # A test seam: called after each confirmed send with the number sent so far.
    after_send: Callable[[int], None] | None = None


@dataclass
class RedriveResult:
    method: Method
    moved: int  # copies stored in the queue by this run (or moved by the task)
    resumed: int = 0  # sent by an interrupted earlier run, their originals deleted now
    dry_run: bool = False
    still_hidden: int = 0  # DLQ messages in flight at the end (another reader, a crash)
    came_back: int = 0  # arrived in the DLQ during the run (failed again): left for later
    notes: list[str] = field(default_factory=list)


def redrive(
    aws: Aws,
    target: DeployedPipeline,
    options: RedriveOptions,
    progress: Progress = lambda moved, total: None,
) -> RedriveResult:
    depth = queue_depth(aws, target.dead_letter_url)
    if depth is None:
        raise NamiError(f"the dead-letter queue {target.dead_letter_url} no longer exists")
    if depth.total == 0:
        raise EmptyQueue(f"the dead-letter queue of `{target.pipeline.name}` is empty")
    source = queue_attributes(aws, target.dead_letter_url)["QueueArn"]
    destination = queue_attributes(aws, target.queue_url)["QueueArn"]
    tasks = message_move_tasks(aws, source) if options.use_move_task else None
    method: Method = "move-task" if tasks is not None else "copy"
    if options.dry_run:
        return RedriveResult(method, depth.visible, dry_run=True, still_hidden=depth.in_flight)
    if tasks is not None:
        result = _move_task(aws, source, destination, tasks, options, progress, depth.visible)
        if result is not None:
            return result
    if depth.visible == 0:
        raise NamiError(
            f"the {depth.in_flight} message(s) in the dead-letter queue of "
            f"`{target.pipeline.name}` are in flight (held by another reader, or by an "
            "interrupted nami run); try again once they are visible"
        )
    return _copy(aws, target, options, progress, depth)


# --- 1. SQS's move task --------------------------------------------------------------------

FINAL_TASK_STATES = {"COMPLETED", "CANCELLED", "FAILED"}


def _move_task(
    aws: Aws,
    source: str,
    destination: str,
    tasks: list[MoveTask],
    options: RedriveOptions,
    progress: Progress,
    estimate: int,
) -> RedriveResult | None:
    running = next((t for t in tasks if t.status == "RUNNING"), None)
    notes: list[str] = []
    if running is not None:
        handle = running.handle
        notes.append("a move task was already running for this queue: followed it")
    else:
        rate = None if options.rate is None else max(1, min(MAX_TASK_RATE, int(options.rate)))
        started = start_message_move_task(aws, source, destination, rate)
        if started is None:
            return None
        handle = started
    try:
        current, stopped = _follow(aws, source, handle, options.poll_seconds, progress, estimate)
    except KeyboardInterrupt:
        raise Interrupted(
            "interrupted: the move task keeps running inside SQS; run `nami dlq redrive` "
            "again to follow it"
        ) from None
    if stopped is not None and current.status in ("CANCELLED", "COMPLETED"):
        notes.append(
            f"the move task had moved more than the {stopped} message(s) the dead-letter queue "
            "held at its start (copies that failed again came back): nami cancelled it; fix "
            "the consumer, then run redrive again for the rest"
        )
        return RedriveResult("move-task", current.moved, notes=notes)
    if current.status != "COMPLETED":
        why = f": {current.failure}" if current.failure else ""
        raise NamiError(
            f"the move task ended {current.status}{why} after moving {current.moved} message(s); "
            "the rest are still in the dead-letter queue"
        )
    return RedriveResult("move-task", current.moved, notes=notes)


def _follow(
    aws: Aws, source: str, handle: str, poll_seconds: float, progress: Progress, estimate: int
) -> tuple[MoveTask, int | None]:
    """Poll ListMessageMoveTasks until the task is over, reporting its progress.

    A task that moved more than the queue held at its start (ApproximateNumberOfMessagesToMove,
    "obtained at the time of starting", else nami's own count) is moving copies that came
    back: it is cancelled, which keeps what it moved (SQS API reference,
    ListMessageMoveTasksResultEntry, CancelMessageMoveTask). Returns the task and, if nami
    cancelled it, that count (else None)."""
    stopped: int | None = None
    while True:
        tasks = message_move_tasks(aws, source) or []
        current = next((t for t in tasks if t.handle == handle), None)
        if current is not None:
            limit = estimate if current.to_move is None else current.to_move
            progress(current.moved, limit)
            if current.status in FINAL_TASK_STATES:
                return current, stopped
            if current.status == "RUNNING" and current.moved > limit and stopped is None:
                cancel_message_move_task(aws, handle)
                stopped = limit
        time.sleep(poll_seconds)


# --- 2. the copy loop ----------------------------------------------------------------------


class Journal:
    """DLQ message ids whose copy SQS confirmed, until their original is deleted.

    Append-only lines `sent <id>` / `done <id>`, fsynced before the next step, so what a
    crashed run did is known to the next one."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.pending: set[str] = set()
        try:
            lines = path.read_text(encoding="ascii").splitlines()
        except FileNotFoundError:
            lines = []
        except OSError as exc:
            raise NamiError(f"cannot read the redrive journal {path}: {exc.strerror}") from exc
        for line in lines:
            verb, _, message_id = line.partition(" ")
            if verb == "sent":
                self.pending.add(message_id)
            elif verb == "done":
                self.pending.discard(message_id)

    def _append(self, verb: str, ids: list[str]) -> None:
        if not ids:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="ascii") as stream:
                stream.write("".join(f"{verb} {i}\n" for i in ids))
                stream.flush()
                os.fsync(stream.fileno())
        except OSError as exc:
            raise NamiError(f"cannot write the redrive journal {self.path}: {exc}") from exc

    def sent(self, ids: list[str]) -> None:
        self._append("sent", ids)
        self.pending.update(ids)

    def done(self, ids: list[str]) -> None:
        self._append("done", ids)
        self.pending.difference_update(ids)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def journal_path(folder: Path, dead_letter_url: str) -> Path:
    digest = hashlib.sha256(dead_letter_url.encode()).hexdigest()[:12]
    return folder / f"{queue_name_of(dead_letter_url)}-{digest}.journal"


def copy_of(message: QueueMessage, fifo: bool) -> OutgoingMessage:
    attributes = dict(message.message_attributes)
    if len(attributes) < MAX_MESSAGE_ATTRIBUTES or REDRIVE_ATTRIBUTE in attributes:
        attributes[REDRIVE_ATTRIBUTE] = {"DataType": "String", "StringValue": message.message_id}
    return OutgoingMessage(
        key=message.message_id,
        body=message.body,
        message_attributes=attributes,
        group_id=(message.group_id or "nami") if fifo else None,
        deduplication_id=message.message_id if fifo else None,
    )


class _Pacer:
    """At most `rate` messages per second, averaged from the start."""

    def __init__(self, rate: float | None) -> None:
        self.rate, self.sent, self.start = rate, 0, time.monotonic()

    def before(self, count: int) -> None:
        if self.rate:
            delay = self.start + self.sent / self.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        self.sent += count


@dataclass
class _Bound:
    """What a copy run may move: at most what the DLQ held when it started. While the
    consumer still fails, copies come back to the DLQ during the run; moving those again
    would never end (measured on the emulator: "moved 5222 of ~4" after 120 s). A message
    came back if SQS stored it after the run started (SentTimestamp: a redrive-policy move
    keeps the copy's, a runtime rejection is a new message), or if it is the copy of one
    this run moved (`nami-redrive-of`, kept by a redrive-policy move: this catches it even
    when this machine's clock runs ahead of SQS's). The count at the start caps the rest."""

    budget: int
    started_ms: int
    moved_ids: set[str] = field(default_factory=set)
    came_back: dict[str, str] = field(default_factory=dict)  # id -> receipt handle, held

    def left(self, result: RedriveResult) -> int:
        return self.budget - result.moved - result.resumed

    def returned(self, message: QueueMessage) -> bool:
        origin = message.message_attributes.get(REDRIVE_ATTRIBUTE, {}).get("StringValue")
        sent = message.attributes.get("SentTimestamp", "")
        return origin in self.moved_ids or (sent.isdigit() and int(sent) >= self.started_ms)


def _copy(
    aws: Aws,
    target: DeployedPipeline,
    options: RedriveOptions,
    progress: Progress,
    depth: QueueDepth,
) -> RedriveResult:
    journal = Journal(journal_path(options.journal_folder, target.dead_letter_url))
    result = RedriveResult("copy", 0)
    pacer = _Pacer(options.rate)
    size = BATCH if not options.rate else max(1, min(BATCH, int(options.rate)))
    dlq = target.dead_letter_url
    bound = _Bound(depth.total, int(time.time() * 1000))
    quiet = 0
    try:
        while bound.left(result) > 0 and quiet < NO_NEWS_LIMIT:
            batch = receive_messages(
                aws,
                dlq,
                max_messages=min(size, bound.left(result)),
                visibility_timeout=options.hold,
                wait_seconds=1,
            )
            if not batch:
                break
            back = [m for m in batch if bound.returned(m)]
            bound.came_back.update((m.message_id, m.receipt_handle) for m in back)
            ours = [m for m in batch if not bound.returned(m)]
            quiet = 0 if ours else quiet + 1  # held, the returned ones make way for the rest
            if not ours:
                continue
            refused = _move_batch(aws, target, journal, ours, pacer, options, result)
            bound.moved_ids.update(m.message_id for m in ours)
            progress(result.moved + result.resumed, depth.total)
            if refused:
                raise NamiError(
                    f"SQS refused {len(refused)} cop(ies) "
                    f"({'; '.join(sorted(set(refused))[:3])}); they stay in the dead-letter "
                    f"queue. Moved {result.moved} before stopping."
                )
    finally:
        if bound.came_back:  # visible again at once, for the next run
            with contextlib.suppress(Exception):
                release_messages(aws, dlq, list(bound.came_back.values()))
    result.came_back = len(bound.came_back)
    if result.came_back:
        result.notes.append(
            f"{result.came_back} webhook(s) came back to the dead-letter queue during the run "
            "(they failed again) and were not moved again: fix the consumer, then run "
            "redrive again"
        )
    after = queue_depth(aws, dlq)
    result.still_hidden = after.in_flight if after else 0
    if result.still_hidden == 0 and (after is None or after.total == 0):
        journal.remove()  # nothing left that an old entry could refer to
    elif result.still_hidden:
        result.notes.append(
            f"{result.still_hidden} message(s) in the dead-letter queue are in flight (another "
            "reader, or an interrupted run whose hold has not run out): run redrive again later"
        )
    return result


def _move_batch(
    aws: Aws,
    target: DeployedPipeline,
    journal: Journal,
    batch: list[QueueMessage],
    pacer: _Pacer,
    options: RedriveOptions,
    result: RedriveResult,
) -> list[str]:
    """Copy one received batch and delete the originals; returns why copies were refused.
    On any exception (Ctrl-C included) the batch is settled before the exception goes on."""
    resent = [m for m in batch if m.message_id in journal.pending]
    fresh = [m for m in batch if m.message_id not in journal.pending]
    unsent = list(fresh)
    confirmed: list[QueueMessage] = []
    settled = False
    try:
        pacer.before(len(fresh))
        stored, refused = send_messages(
            aws, target.queue_url, [copy_of(m, target.fifo) for m in fresh]
        )
        by_id = {m.message_id: m for m in fresh}
        confirmed = [by_id[key] for key in stored]
        journal.sent([m.message_id for m in confirmed])
        unsent = [m for m in fresh if m.message_id in refused]
        result.moved += len(confirmed)
        if options.after_send:
            options.after_send(result.moved)
        _finish(aws, target, journal, resent + confirmed)
        result.resumed += len(resent)
        if unsent:
            release_messages(aws, target.dead_letter_url, [m.receipt_handle for m in unsent])
        settled = True
        return list(refused.values())
    finally:
        if not settled:
            _settle(aws, target, journal, resent + confirmed, unsent)


def _finish(aws: Aws, target: DeployedPipeline, journal: Journal, done: list[QueueMessage]) -> None:
    """Delete originals whose copy is stored. A refused delete (stale handle) stays pending in
    the journal: the message comes back and the next receive deletes it without a resend."""
    refused = set(delete_messages(aws, target.dead_letter_url, [m.receipt_handle for m in done]))
    journal.done([m.message_id for m in done if m.receipt_handle not in refused])


def _settle(
    aws: Aws,
    target: DeployedPipeline,
    journal: Journal,
    copied: list[QueueMessage],
    unsent: list[QueueMessage],
) -> None:
    """Best effort while an exception is on its way out: delete what was copied, release the
    rest. Whatever fails here is still safe: the journal remembers the copies, and held
    messages reappear on their own after the hold."""
    with contextlib.suppress(Exception):
        _finish(aws, target, journal, copied)
        copied = []
    leftover = [m.receipt_handle for m in copied + unsent]
    if leftover:
        with contextlib.suppress(Exception):
            release_messages(aws, target.dead_letter_url, leftover)
