"""The local queue: SQS semantics for every pipeline in one SQLite database (WAL mode).

A message is a row; receiving it hides it until `visible_at` (the visibility timeout) and counts
the receive; deleting it needs the receipt of the latest receive, as in SQS. A row received
`max_receive_count` times and visible again moves to `dead_letters` instead of being delivered.

Writes are serialised in-process by one lock, so nobody waits in SQLite's busy handler.
Ingest commits with synchronous=FULL (a 202 survives a power cut); receives and deletes use
NORMAL (losing one to a power cut only means a redelivery). Reads use their own connection.

A message may carry string message attributes (`attributes`, JSON; NULL when none), as an SQS
message does: the router's put-back copies carry the routes they still owe (`nami-routes`),
and keep them in the dead letters and through a redrive, as SQS keeps them.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

DB_NAME = "queue.db"

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY,
    pipeline TEXT NOT NULL,
    message_id TEXT NOT NULL,
    body TEXT NOT NULL,
    sent_at REAL NOT NULL,
    visible_at REAL NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    first_received_at REAL,
    receipt TEXT,
    attributes TEXT
);
CREATE INDEX IF NOT EXISTS messages_visible ON messages (pipeline, visible_at);
CREATE INDEX IF NOT EXISTS messages_retried ON messages (pipeline, receive_count);
CREATE TABLE IF NOT EXISTS dead_letters (
    seq INTEGER PRIMARY KEY,
    pipeline TEXT NOT NULL,
    message_id TEXT NOT NULL,
    body TEXT NOT NULL,
    sent_at REAL NOT NULL,
    receive_count INTEGER NOT NULL,
    dead_at REAL NOT NULL,
    outcome TEXT,
    reason TEXT,
    attributes TEXT
);
CREATE INDEX IF NOT EXISTS dead_letters_pipeline ON dead_letters (pipeline, dead_at);
CREATE TABLE IF NOT EXISTS dedupe_markers (
    key TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    owner TEXT NOT NULL,
    lease_until INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
"""


class StoreError(RuntimeError):
    """The queue could not store or read a message."""


@dataclass(frozen=True)
class Outgoing:
    """A message to store: the envelope JSON of one webhook."""

    pipeline: str
    message_id: str
    body: str
    sent_at: float
    attributes: Mapping[str, str] = field(default_factory=dict)  # SQS message attributes
    delay: float = 0.0  # seconds before it is first visible (SendMessage's DelaySeconds)


@dataclass(frozen=True)
class Message:
    """A received message, as a record of an SQS event."""

    seq: int
    message_id: str
    body: str
    sent_at: float
    receive_count: int
    first_received_at: float
    receipt: str
    attributes: Mapping[str, str] = field(default_factory=dict)


class DeadLetter(NamedTuple):
    """A dead letter; outcome and reason are set when the runtime moved it (rejected,
    malformed), unset when its receives ran out."""

    message_id: str
    body: str
    receive_count: int
    outcome: str | None
    reason: str | None
    attributes: Mapping[str, str] | None = None  # the message's own, kept from its queue


@dataclass(frozen=True)
class Depth:
    visible: int
    in_flight: int
    dead: int


class Store:
    """The SQLite file and the SQS operations on it; safe to share between threads.

    Every write is one statement (SQLite makes each its own transaction): the sqlite3 module
    releases the GIL around each statement, and under load each re-acquisition can wait a
    whole switch interval, so statements per operation is what bounds throughput.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._write_lock = threading.Lock()  # one writer at a time: nobody sleeps on SQLITE_BUSY
        self._read_lock = threading.Lock()
        self._ingest = self._connect("FULL")  # a 202 survives a power cut
        self._worker = self._connect("NORMAL")  # a lost receive or delete is only a redelivery
        self._reader = self._connect("NORMAL")
        _add_missing_columns(self._worker)

    def _connect(self, synchronous: str) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout=5000")  # someone inspecting with the sqlite3 shell
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={synchronous}")
        conn.executescript(SCHEMA)
        return conn

    @classmethod
    def open(cls, data_dir: Path) -> Store:
        data_dir.mkdir(parents=True, exist_ok=True)
        return cls(data_dir / DB_NAME)

    def close(self) -> None:
        with self._write_lock, self._read_lock:
            for conn in (self._ingest, self._worker, self._reader):
                conn.close()

    def write(self, sql: str, params: Sequence[object] = ()) -> tuple[list[Any], int]:
        """Run one write statement (its own transaction): (rows it returned, rows changed)."""
        with self._write_lock:
            cursor = self._worker.execute(sql, params)
            rows = cursor.fetchall()
            return rows, cursor.rowcount

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Several statements as one transaction (rare paths only)."""
        with self._write_lock:
            self._worker.execute("BEGIN IMMEDIATE")
            try:
                yield self._worker
            except BaseException:
                self._worker.execute("ROLLBACK")
                raise
            self._worker.execute("COMMIT")

    def send(self, items: Sequence[Outgoing]) -> None:
        """Store messages durably, in one statement (the group commit of many requests)."""
        params: list[object] = []
        for m in items:
            visible_at = m.sent_at + m.delay
            params += (m.pipeline, m.message_id, m.body, m.sent_at, visible_at, _dump(m.attributes))
        values = ",".join(["(?, ?, ?, ?, ?, ?)"] * len(items))
        try:
            with self._write_lock:
                self._ingest.execute(
                    "INSERT INTO messages"
                    " (pipeline, message_id, body, sent_at, visible_at, attributes)"
                    f" VALUES {values}",
                    params,
                )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot store messages: {exc}") from exc

    def receive(
        self,
        pipeline: str,
        limit: int,
        visibility_timeout: float,
        max_receive_count: int,
        now: float,
    ) -> list[Message]:
        """Take up to `limit` visible messages, hiding them for `visibility_timeout` seconds.

        Messages already received `max_receive_count` times are left for `dead_letter`.
        """
        token = uuid.uuid4().hex
        rows, _ = self.write(
            "UPDATE messages SET receive_count = receive_count + 1, visible_at = ?, receipt = ?,"
            " first_received_at = coalesce(first_received_at, ?)"
            " WHERE seq IN (SELECT seq FROM messages WHERE pipeline = ? AND visible_at <= ?"
            " AND receive_count < ? ORDER BY visible_at, seq LIMIT ?)"
            " RETURNING seq, message_id, body, sent_at, receive_count, first_received_at,"
            " attributes",
            (now + visibility_timeout, token, now, pipeline, now, max_receive_count, limit),
        )
        rows.sort()  # RETURNING order is unspecified; keep arrival order within the batch
        return [
            Message(seq, message_id, body, sent_at, count, first, f"{seq}:{token}", _load(attrs))
            for seq, message_id, body, sent_at, count, first, attrs in rows
        ]

    def dead_letter(self, pipeline: str, max_receive_count: int, now: float) -> int:
        """Move visible messages received `max_receive_count` times to the dead letters."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO dead_letters"
                " (pipeline, message_id, body, sent_at, receive_count, dead_at, attributes)"
                " SELECT pipeline, message_id, body, sent_at, receive_count, ?, attributes"
                " FROM messages"
                " WHERE pipeline = ? AND receive_count >= ? AND visible_at <= ? ORDER BY seq",
                (now, pipeline, max_receive_count, now),
            )
            return conn.execute(
                "DELETE FROM messages WHERE pipeline = ? AND receive_count >= ?"
                " AND visible_at <= ?",
                (pipeline, max_receive_count, now),
            ).rowcount

    def add_dead_letter(
        self, pipeline: str, letter: DeadLetter, sent_at: float, now: float
    ) -> None:
        """Store one message the runtime moved to the dead letters (durably: FULL sync)."""
        # Named, not sliced from the tuple: a positional slice once put the receive count in
        # sent_at, and the retention purge then deleted the row within a minute.
        with self._write_lock:
            self._ingest.execute(
                "INSERT INTO dead_letters (pipeline, message_id, body, sent_at, receive_count,"
                " dead_at, outcome, reason, attributes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    pipeline,
                    letter.message_id,
                    letter.body,
                    sent_at,
                    letter.receive_count,
                    now,
                    letter.outcome,
                    letter.reason,
                    _dump(letter.attributes or {}),
                ),
            )

    def delete(self, receipts: Sequence[str]) -> int:
        """Delete messages by receipt; a stale receipt (received again since) deletes nothing."""
        by_token: dict[str, list[int]] = {}
        for receipt in receipts:
            seq, token = _parse_receipt(receipt)
            by_token.setdefault(token, []).append(seq)
        deleted = 0
        for token, seqs in by_token.items():  # one token per received batch
            _, count = self.write(
                f"DELETE FROM messages WHERE receipt = ? AND seq IN ({_marks(len(seqs))})",
                (token, *seqs),
            )
            deleted += count
        return deleted

    def postpone(self, receipt: str, visible_at: float) -> int:
        """ChangeMessageVisibility: hide a received message until `visible_at` (the retry
        schedule's delay); a stale receipt (received again since) changes nothing."""
        seq, token = _parse_receipt(receipt)
        _, count = self.write(
            "UPDATE messages SET visible_at = ? WHERE receipt = ? AND seq = ?",
            (visible_at, token, seq),
        )
        return count

    def release_all(self, now: float) -> int:
        """Make every hidden message visible now (at start: nothing can be in flight)."""
        _, count = self.write("UPDATE messages SET visible_at = ? WHERE visible_at > ?", (now, now))
        return count

    def purge_expired(
        self, pipeline: str, retention: float, dlq_retention: float, now: float
    ) -> int:
        """Drop what SQS would have dropped: messages and dead letters past their retention."""
        _, gone = self.write(
            "DELETE FROM messages WHERE pipeline = ? AND sent_at < ?",
            (pipeline, now - retention),
        )
        _, dead = self.write(
            "DELETE FROM dead_letters WHERE pipeline = ? AND sent_at < ?",
            (pipeline, now - dlq_retention),
        )
        return gone + dead

    def _read(self, sql: str, params: Sequence[object]) -> list[Any]:
        with self._read_lock:
            return self._reader.execute(sql, params).fetchall()

    def next_visible_at(self, pipeline: str) -> float | None:
        rows = self._read("SELECT min(visible_at) FROM messages WHERE pipeline = ?", (pipeline,))
        return float(rows[0][0]) if rows and rows[0][0] is not None else None

    def depth(self, pipeline: str, now: float) -> Depth:
        ((total, hidden),) = self._read(
            "SELECT count(*), coalesce(sum(visible_at > ?), 0) FROM messages WHERE pipeline = ?",
            (now, pipeline),
        )
        ((dead,),) = self._read("SELECT count(*) FROM dead_letters WHERE pipeline = ?", (pipeline,))
        return Depth(visible=total - hidden, in_flight=hidden, dead=dead)

    def dead_letters(self, pipeline: str, limit: int | None = None) -> list[DeadLetter]:
        """The dead letters of a pipeline (the first `limit`, else all), oldest first."""
        return [letter for letter, _ in self.dead_letters_sent(pipeline, limit)]

    def dead_letters_sent(
        self, pipeline: str, limit: int | None = None
    ) -> list[tuple[DeadLetter, float]]:
        """The dead letters with the time each was first stored (SQS's SentTimestamp)."""
        rows = self._read(
            "SELECT message_id, body, receive_count, outcome, reason, attributes, sent_at"
            " FROM dead_letters WHERE pipeline = ? ORDER BY seq LIMIT ?",
            (pipeline, -1 if limit is None else limit),
        )
        return [
            (DeadLetter(str(m), str(b), int(c), o, r, _load(a) or None), float(t))
            for m, b, c, o, r, a, t in rows
        ]

    def redrive(self, pipeline: str, now: float) -> int:
        """Move every dead letter of a pipeline back to its queue, in one transaction (so
        exactly once, whatever interrupts it), each as a new message (a new id, received
        never), as SQS's redrive does. What dead-letters again later is not moved again."""
        with self.transaction() as conn:
            (last,) = conn.execute(
                "SELECT coalesce(max(seq), 0) FROM dead_letters WHERE pipeline = ?", (pipeline,)
            ).fetchone()
            rows = conn.execute(
                "SELECT body, attributes FROM dead_letters WHERE pipeline = ? AND seq <= ?"
                " ORDER BY seq",
                (pipeline, last),
            ).fetchall()
            conn.executemany(
                "INSERT INTO messages (pipeline, message_id, body, sent_at, visible_at,"
                " attributes) VALUES (?, ?, ?, ?, ?, ?)",
                [(pipeline, str(uuid.uuid4()), body, now, now, attrs) for body, attrs in rows],
            )
            conn.execute(
                "DELETE FROM dead_letters WHERE pipeline = ? AND seq <= ?", (pipeline, last)
            )
            return len(rows)


def _add_missing_columns(conn: sqlite3.Connection) -> None:
    """A database made by an older nami dev lacks the dead letters' outcome and reason and the
    message attributes, and may hold rows whose sent_at and receive_count were swapped (a
    receive count is never a Unix time, a time never a receive count): put those right before
    any purge reads them."""
    wanted = {"messages": ("attributes",), "dead_letters": ("outcome", "reason", "attributes")}
    for table, columns in wanted.items():
        have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        for column in columns:
            if column not in have:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} TEXT")
    conn.execute(
        "UPDATE dead_letters SET sent_at = receive_count, receive_count = CAST(sent_at AS INTEGER)"
        " WHERE sent_at < 1000000 AND receive_count > 1000000000"
    )


def _dump(attributes: Mapping[str, str]) -> str | None:
    return json.dumps(dict(attributes), sort_keys=True) if attributes else None


def _load(text: str | None) -> dict[str, str]:
    return {str(k): str(v) for k, v in json.loads(text).items()} if text else {}


def _marks(count: int) -> str:
    return ",".join("?" * count)


def _parse_receipt(receipt: str) -> tuple[int, str]:
    seq, _, token = receipt.partition(":")
    if not seq.isdigit() or not token:
        raise StoreError(f"not a receipt handle: {receipt!r}")
    return int(seq), token
