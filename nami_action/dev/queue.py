"""The local queue: SQS semantics for every pipeline in one SQLite database (WAL mode).

A message is a row; receiving it hides it until `visible_at` (the visibility timeout) and counts
the receive; deleting it needs the receipt of the latest receive, as in SQS. A row received
`max_receive_count` times and visible again moves to `dead_letters` instead of being delivered.

One connection behind one lock: writes are serialised in-process, so nobody waits in SQLite's
busy handler. Ingest commits with synchronous=FULL (a 202 survives a power cut); receives and
deletes use NORMAL (losing one to a power cut only means a redelivery).
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

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
    receipt TEXT
);
CREATE INDEX IF NOT EXISTS messages_visible ON messages (pipeline, visible_at);
CREATE TABLE IF NOT EXISTS dead_letters (
    seq INTEGER PRIMARY KEY,
    pipeline TEXT NOT NULL,
    message_id TEXT NOT NULL,
    body TEXT NOT NULL,
    sent_at REAL NOT NULL,
    receive_count INTEGER NOT NULL,
    dead_at REAL NOT NULL
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


@dataclass(frozen=True)
class Received:
    messages: list[Message]
    dead_lettered: int


@dataclass(frozen=True)
class Depth:
    visible: int
    in_flight: int
    dead: int


class Store:
    """The SQLite file and the SQS operations on it; safe to share between threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._sync = ""
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA busy_timeout=5000")  # someone inspecting with sqlite3
        self._conn.executescript(SCHEMA)

    @classmethod
    def open(cls, data_dir: Path) -> Store:
        data_dir.mkdir(parents=True, exist_ok=True)
        return cls(data_dir / DB_NAME)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def transaction(self, *, durable: bool = False) -> Iterator[sqlite3.Connection]:
        """One write transaction under the store lock; FULL sync when `durable`."""
        with self._lock:
            self._set_sync("FULL" if durable else "NORMAL")
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _set_sync(self, level: str) -> None:
        if self._sync != level:
            self._conn.execute(f"PRAGMA synchronous={level}")
            self._sync = level

    def send(self, items: Sequence[Outgoing]) -> None:
        """Store messages in one durable transaction (the group commit of many requests)."""
        rows = [(m.pipeline, m.message_id, m.body, m.sent_at, m.sent_at) for m in items]
        try:
            with self.transaction(durable=True) as conn:
                conn.executemany(
                    "INSERT INTO messages (pipeline, message_id, body, sent_at, visible_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    rows,
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
    ) -> Received:
        """Take up to `limit` visible messages, hiding them for `visibility_timeout` seconds.

        Visible messages already received `max_receive_count` times go to the dead letters.
        """
        token = uuid.uuid4().hex
        with self.transaction() as conn:
            rows = conn.execute(
                "SELECT seq, receive_count FROM messages WHERE pipeline = ? AND visible_at <= ?"
                " ORDER BY visible_at, seq LIMIT ?",
                (pipeline, now, limit),
            ).fetchall()
            dead = [seq for seq, count in rows if count >= max_receive_count]
            live = [seq for seq, count in rows if count < max_receive_count]
            if dead:
                _dead_letter(conn, dead, now)
            messages = _claim(conn, live, token, now, now + visibility_timeout) if live else []
        return Received(messages, len(dead))

    def delete(self, receipts: Sequence[str]) -> int:
        """Delete messages by receipt; a stale receipt (received again since) deletes nothing."""
        keys = [_parse_receipt(receipt) for receipt in receipts]
        if not keys:
            return 0
        with self.transaction() as conn:
            before = conn.total_changes
            conn.executemany("DELETE FROM messages WHERE seq = ? AND receipt = ?", keys)
            return conn.total_changes - before

    def release_all(self, now: float) -> int:
        """Make every hidden message visible now (at start: nothing can be in flight)."""
        with self.transaction() as conn:
            cursor = conn.execute(
                "UPDATE messages SET visible_at = ? WHERE visible_at > ?", (now, now)
            )
            return cursor.rowcount

    def purge_expired(
        self, pipeline: str, retention: float, dlq_retention: float, now: float
    ) -> int:
        """Drop what SQS would have dropped: messages and dead letters past their retention."""
        with self.transaction() as conn:
            gone = conn.execute(
                "DELETE FROM messages WHERE pipeline = ? AND sent_at < ?",
                (pipeline, now - retention),
            ).rowcount
            gone += conn.execute(
                "DELETE FROM dead_letters WHERE pipeline = ? AND sent_at < ?",
                (pipeline, now - dlq_retention),
            ).rowcount
        return gone

    def next_visible_at(self, pipeline: str) -> float | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT min(visible_at) FROM messages WHERE pipeline = ?", (pipeline,)
            ).fetchone()
        return float(row[0]) if row and row[0] is not None else None

    def depth(self, pipeline: str, now: float) -> Depth:
        with self._lock:
            total, hidden = self._conn.execute(
                "SELECT count(*), coalesce(sum(visible_at > ?), 0) FROM messages"
                " WHERE pipeline = ?",
                (now, pipeline),
            ).fetchone()
            (dead,) = self._conn.execute(
                "SELECT count(*) FROM dead_letters WHERE pipeline = ?", (pipeline,)
            ).fetchone()
        return Depth(visible=total - hidden, in_flight=hidden, dead=dead)

    def dead_letters(self, pipeline: str) -> list[tuple[str, str, int]]:
        """(message id, envelope JSON, receive count) of each dead letter, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT message_id, body, receive_count FROM dead_letters WHERE pipeline = ?"
                " ORDER BY seq",
                (pipeline,),
            ).fetchall()
        return [(str(m), str(b), int(c)) for m, b, c in rows]


def _marks(count: int) -> str:
    return ",".join("?" * count)


def _dead_letter(conn: sqlite3.Connection, seqs: list[int], now: float) -> None:
    conn.execute(
        "INSERT INTO dead_letters (pipeline, message_id, body, sent_at, receive_count, dead_at)"
        " SELECT pipeline, message_id, body, sent_at, receive_count, ? FROM messages"
        f" WHERE seq IN ({_marks(len(seqs))}) ORDER BY seq",
        (now, *seqs),
    )
    conn.execute(f"DELETE FROM messages WHERE seq IN ({_marks(len(seqs))})", seqs)


def _claim(
    conn: sqlite3.Connection, seqs: list[int], token: str, now: float, hidden_until: float
) -> list[Message]:
    rows = conn.execute(
        "UPDATE messages SET receive_count = receive_count + 1, visible_at = ?, receipt = ?,"
        " first_received_at = coalesce(first_received_at, ?)"
        f" WHERE seq IN ({_marks(len(seqs))})"
        " RETURNING seq, message_id, body, sent_at, receive_count, first_received_at",
        (hidden_until, token, now, *seqs),
    ).fetchall()
    rows.sort()  # RETURNING order is unspecified; keep arrival order within the batch
    return [
        Message(seq, message_id, body, sent_at, count, first, f"{seq}:{token}")
        for seq, message_id, body, sent_at, count, first in rows
    ]


def _parse_receipt(receipt: str) -> tuple[int, str]:
    seq, _, token = receipt.partition(":")
    if not seq.isdigit() or not token:
        raise StoreError(f"not a receipt handle: {receipt!r}")
    return int(seq), token
