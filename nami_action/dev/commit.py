"""Group commit: HTTP threads hand their message over and wait; one thread stores everything
pending in one transaction and wakes each sender only after COMMIT. One fsync serves many
requests, and a 202 still always means "stored"."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from nami_action.dev.queue import Outgoing, Store, StoreError

MAX_GROUP = 2000  # messages per transaction: bounds the latency of the last one in a group
SEND_TIMEOUT = 30.0


@dataclass
class _Pending:
    message: Outgoing
    done: threading.Event = field(default_factory=threading.Event)
    error: StoreError | None = None


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

    def send(self, message: Outgoing, timeout: float = SEND_TIMEOUT) -> None:
        """Return once the message is committed; raise StoreError if it was not."""
        pending = _Pending(message)
        with self._cond:
            if self._closed:
                raise StoreError("shutting down")
            self._pending.append(pending)
            self._cond.notify()
        if not pending.done.wait(timeout):
            raise StoreError("timed out waiting for the queue")
        if pending.error is not None:
            raise pending.error

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
            pending.error = error
            pending.done.set()
        if error is None:
            self._on_commit(messages)
