"""What the inspector shows: the last webhooks `nami dev` stored, and what became of each.

Fed by the app: `stored` when the group commit wrote messages, `attempted` for each runtime log
line (one per delivery attempt), `reconcile` from the dead-letter table (the workers move
exhausted messages there without a callback, and `nami dlq redrive --dev` may empty it).
Every change bumps a version, so a page polling with `?after=V` gets only what changed.
Kept in memory (the last HISTORY webhooks, at most BUDGET characters of envelopes); the dead
letters come from the database, so they show after a restart too.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from nami_action.dev.queue import DeadLetter, Outgoing, Store
from nami_action.runtime.consumer import REJECTED
from nami_action.runtime.webhook import MalformedEnvelope, decode_envelope

HISTORY = 500  # webhooks kept; the oldest is forgotten first
FORGOTTEN = 100_000  # ids of forgotten webhooks remembered (their retries are not new rows)
BUDGET = 64 * 1024 * 1024  # envelope characters kept at most (a queue takes up to 1 MiB each)
QUEUED = "queued"
DEAD_LETTERED = "dead-lettered"  # its receives ran out
REDRIVEN = "redriven"  # moved back from the dead letters (the copy is a new row)


@dataclass
class Entry:
    """One stored message and what happened to it so far."""

    key: int  # the inspector's own number (a message id is long to read)
    pipeline: str
    message_id: str
    envelope: str | None  # the stored message body; None when not known here
    stored_at: float
    webhook_id: str | None = None
    outcome: str = QUEUED
    attempts: int = 0
    reason: str | None = None
    error: str | None = None
    route: str | None = None
    dead: bool = False
    origin: str | None = None  # "replay of #3", "redrive of #5"
    envelope_malformed: bool = False
    at_endpoint: bool = False  # refused by the endpoint (not stored, so not replayable)
    # The stored message's attributes: a router's put-back copy owes some routes only
    # (`nami-routes`), and a replay of it must too.
    attributes: Mapping[str, str] = field(default_factory=dict)
    version: int = 0


class History:
    """Thread-safe: the commit thread, the workers and the HTTP thread all touch it."""

    def __init__(self, store: Store, pipelines: Iterable[str], size: int = HISTORY) -> None:
        self._store = store
        self._pipelines = list(pipelines)
        self._size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[int, Entry] = OrderedDict()
        self._by_message: dict[str, int] = {}
        # Ids pushed out of the history: their later log lines are not new webhooks.
        self._forgotten: OrderedDict[str, None] = OrderedDict()
        self._origins: dict[str, str] = {}  # message id of a replay -> "replay of #N"
        self._next_key = 1
        self.version = 0
        self._dead_counts: dict[str, int] = {}
        self._kept = 0  # envelope characters held

    # --- feeding -------------------------------------------------------------------------
    def stored(self, messages: Iterable[Outgoing]) -> None:
        with self._lock:
            for m in messages:
                entry = self._known(m) or self._add(m.pipeline, m.message_id, m.body, m.sent_at)
                entry.origin = self._origins.pop(m.message_id, None) or entry.origin
                if m.attributes and entry.attributes != m.attributes:
                    entry.attributes = dict(m.attributes)
                    self._touch(entry)

    def _known(self, message: Outgoing) -> Entry | None:
        """The entry a worker's log line already made for this message: a worker polling the
        queue can take a message between its commit and this call (lock held)."""
        key = self._by_message.get(message.message_id)
        entry = self._entries.get(key) if key is not None else None
        if entry is not None and entry.envelope is None:
            entry.envelope, entry.stored_at = message.body, message.sent_at
            self._kept += len(message.body)
            self._touch(entry)
        return entry

    def expect(self, message_id: str, origin: str) -> None:
        """The next stored message with this id is a copy (replay) of another."""
        with self._lock:
            self._origins[message_id] = origin

    def refused(self, pipeline: str, envelope: str, answer: str) -> None:
        """A webhook the endpoint itself refused (a function URL's 401): never stored."""
        try:
            reason = str(json.loads(answer)["message"])
        except (ValueError, KeyError, TypeError):
            reason = answer
        with self._lock:
            entry = self._add(pipeline, f"refused-{uuid.uuid4()}", envelope, time.time())
            entry.outcome, entry.reason, entry.at_endpoint = REJECTED, reason, True

    def attempted(self, pipeline: str, record: Mapping[str, Any]) -> None:
        """One runtime log line: the outcome of one delivery attempt."""
        message_id = str(record.get("messageId", ""))
        with self._lock:
            if message_id in self._forgotten:
                return
            entry = self._entry_for(pipeline, message_id, record.get("id"))
            entry.attempts += 1
            entry.outcome = str(record.get("outcome"))
            entry.reason = _opt(record.get("reason"))
            entry.error = _opt(record.get("error"))
            routes = record.get("routes")  # the router's: where it sent the webhook
            if isinstance(routes, list) and routes:
                entry.route = ", ".join(str(r) for r in routes)
            entry.route = _opt(record.get("route")) or entry.route
            if entry.webhook_id is None:
                entry.webhook_id = _opt(record.get("id"))
            self._touch(entry)

    def reconcile(self, force: bool = False) -> None:
        """Mark what is in the dead letters (and what left them), read from the database
        when a pipeline's count of dead letters changed (or when asked to)."""
        now = time.time()
        for pipeline in self._pipelines:
            count = self._store.depth(pipeline, now).dead
            if force or count != self._dead_counts.get(pipeline):
                letters = self._store.dead_letters_sent(pipeline)
                with self._lock:
                    self._mark_dead(pipeline, letters)
                self._dead_counts[pipeline] = count

    # --- reading -------------------------------------------------------------------------
    def changed_since(self, version: int) -> list[Entry]:
        with self._lock:
            return [e for e in self._entries.values() if e.version > version]

    def get(self, key: int) -> Entry | None:
        with self._lock:
            return self._entries.get(key)

    def dead_counts(self) -> dict[str, int]:
        return dict(self._dead_counts)

    # --- internals (lock held) -------------------------------------------------------------
    def _add(self, pipeline: str, message_id: str, envelope: str | None, at: float) -> Entry:
        entry = Entry(self._next_key, pipeline, message_id, envelope, at)
        self._next_key += 1
        self._entries[entry.key] = entry
        self._by_message[message_id] = entry.key
        self._kept += len(envelope or "")
        while len(self._entries) > self._size or (self._kept > BUDGET and len(self._entries) > 1):
            _, old = self._entries.popitem(last=False)
            self._by_message.pop(old.message_id, None)
            self._kept -= len(old.envelope or "")
            self._forgotten[old.message_id] = None
            if len(self._forgotten) > FORGOTTEN:
                self._forgotten.popitem(last=False)
        self._touch(entry)
        return entry

    def _touch(self, entry: Entry) -> None:
        self.version += 1
        entry.version = self.version

    def _entry_for(self, pipeline: str, message_id: str, webhook_id: object) -> Entry:
        """The entry of a message; a redriven copy (a new message id, the same envelope)
        starts a new entry from the webhook it copies, found by the envelope id."""
        key = self._by_message.get(message_id)
        if key is not None and key in self._entries:
            return self._entries[key]
        source = self._latest(pipeline, webhook_id) if isinstance(webhook_id, str) else None
        envelope = source.envelope if source else None
        entry = self._add(pipeline, message_id, envelope, time.time())
        if source is not None:
            entry.origin = f"redrive of #{source.key}"
        return entry

    def _latest(self, pipeline: str, webhook_id: str) -> Entry | None:
        for entry in reversed(self._entries.values()):
            if entry.pipeline == pipeline and _webhook_id(entry) == webhook_id:
                return entry
        return None

    def _mark_dead(self, pipeline: str, letters: list[tuple[DeadLetter, float]]) -> None:
        dead = {letter.message_id: (letter, sent) for letter, sent in letters}
        for entry in self._entries.values():
            if entry.pipeline != pipeline:
                continue
            if entry.message_id in dead:
                if not entry.dead:
                    _die(entry, dead[entry.message_id][0])
                    self._touch(entry)
            elif entry.dead:  # redriven (here, or by `nami dlq redrive --dev`)
                entry.dead = False
                entry.outcome = REDRIVEN
                self._touch(entry)
        known = set(self._by_message)
        for message_id, (letter, sent) in dead.items():
            if message_id not in known:  # dead before this run (or forgotten): shown again
                entry = self._add(pipeline, message_id, letter.body, sent)
                entry.attempts = letter.receive_count
                _die(entry, letter)


def _die(entry: Entry, letter: DeadLetter) -> None:
    entry.dead = True
    if letter.outcome:  # moved by the runtime (rejected, malformed, refused...), with why
        entry.outcome, entry.reason = letter.outcome, letter.reason
        return
    entry.outcome = DEAD_LETTERED
    last = f"; last error: {entry.error}" if entry.error else ""
    entry.reason = letter.reason or f"received {letter.receive_count} times, never handled{last}"


def _webhook_id(entry: Entry) -> str | None:
    """The envelope's id, read when first needed (not on the commit thread's hot path)."""
    if entry.webhook_id is None and entry.envelope is not None and not entry.envelope_malformed:
        try:
            entry.webhook_id = decode_envelope(entry.envelope).id
        except MalformedEnvelope:
            entry.envelope_malformed = True
    return entry.webhook_id


def _opt(value: object) -> str | None:
    return None if value is None else str(value)
