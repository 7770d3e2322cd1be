"""Group commit: the endpoint hands messages over; one thread stores everything pending in
one statement and reports back only after COMMIT. One fsync serves many requests, and a 202
still always means "stored"."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from nami_action.dev.queue import Outgoing, Store, StoreError

MAX_GROUP = 2000  # messages per transaction: bounds the latency of the last one in a group


Done = Callable[[StoreError | None], None]


@dataclass(frozen=True)
class _Pending:
    message: Outgoing
    done: Done


class Committer:
    """Stores messages for many threads through one writer thread."""

    def __init__(self, store: Store, on_commit: Callable[[Sequence[Outgoing]], None]) -> None:
        self._store = store
        self._on_commit = on_commit
        self._cond = threading.Condition()
        self._pending: list[_Pending] = []
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="nami-dev-commit", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, message: Outgoing, done: Done) -> None:
        """Store `message`; `done(None)` runs after COMMIT, `done(error)` if it failed.

        `done` runs on the commit thread: it must only hand the result over."""
        with self._cond:
            if self._closed:
                raise StoreError("shutting down")
            self._pending.append(_Pending(message, done))
            if len(self._pending) == 1:  # the thread waits only when nothing was pending
                self._cond.notify()

    def close(self) -> None:
        """Refuse new messages, store those already handed over, stop the thread."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while True:
            group = self._next_group()
            if not group:
                return
            self._commit(group)

    def _next_group(self) -> list[_Pending]:
        with self._cond:
            while not self._pending and not self._closed:
                self._cond.wait()
            group = self._pending[:MAX_GROUP]
            del self._pending[:MAX_GROUP]
            return group

    def _commit(self, group: list[_Pending]) -> None:
        messages = [p.message for p in group]
        error: StoreError | None = None
        try:
            self._store.send(messages)
        except StoreError as exc:
            error = exc
        for pending in group:
            pending.done(error)
        if error is None:
            self._on_commit(messages)
