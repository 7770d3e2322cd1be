"""`nami dlq peek|export|redrive --dev`: the dead letters of `nami dev`'s local queue.

The same views as against SQS (operate/dlq.py renders and archives them), read from the dev
database: a rejected or exhausted webhook in `nami dev` is as visible, exportable and
replayable as one in a deployed pipeline's DLQ. Reading needs no lock (SQLite in WAL mode
lets a running `nami dev` go on writing); a redrive is one SQLite transaction, so it moves
each dead letter exactly once, and a running `nami dev` picks the moved webhooks up within
a second.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from nami_action.aws.queues import QueueMessage
from nami_action.dev.queue import DB_NAME, DeadLetter, Store
from nami_action.errors import NamiError
from nami_action.operate.dlq import DeadLetter as Letter
from nami_action.operate.dlq import EmptyQueue
from nami_action.runtime.deadletters import attributes
from nami_action.runtime.router import string_attributes


@contextmanager
def open_store(data_dir: Path) -> Iterator[Store]:
    """The database of a `nami dev` data folder; one clear error when there is none."""
    if not (data_dir / DB_NAME).is_file():
        raise NamiError(
            f"no nami dev queue in {data_dir} (run `nami dev` first, or pass --data FOLDER)"
        )
    store = Store(data_dir / DB_NAME)
    try:
        yield store
    finally:
        store.close()


def as_letter(letter: DeadLetter, sent_at: float) -> Letter:
    """A dev dead letter in the shape of a received SQS message (what the renderers read and
    export writes: a put-back copy's `nami-routes` too, so a replay reaches only those)."""
    own = letter.attributes or {}
    message = QueueMessage(
        message_id=letter.message_id,
        receipt_handle="",
        body=letter.body,
        attributes={
            "ApproximateReceiveCount": str(letter.receive_count),
            "SentTimestamp": str(int(sent_at * 1000)),
        },
        message_attributes={
            **string_attributes(own),
            **(attributes(letter.outcome, letter.reason or "") if letter.outcome else {}),
        },
    )
    return Letter.of(message)


def dev_letters(data_dir: Path, pipeline: str, limit: int | None = None) -> list[Letter]:
    """The first `limit` (else all) dead letters of a pipeline, oldest first; never empty."""
    with open_store(data_dir) as store:
        rows = store.dead_letters_sent(pipeline, limit)
    if not rows:
        raise EmptyQueue(f"the nami dev dead letters of `{pipeline}` are empty ({data_dir})")
    return [as_letter(letter, sent) for letter, sent in rows]


def dev_redrive(data_dir: Path, pipeline: str) -> int:
    """Move the pipeline's dead letters back to its local queue; how many moved."""
    with open_store(data_dir) as store:
        moved = store.redrive(pipeline, time.time())
    if not moved:
        raise EmptyQueue(f"the nami dev dead letters of `{pipeline}` are empty ({data_dir})")
    return moved
