"""Live counters per pipeline: a rich table on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import IO

from rich.console import Console
from rich.live import Live
from rich.table import Table

from nami_action.dev.queue import Depth


@dataclass
class Snapshot:
    received: int = 0
    queued: int = 0
    in_flight: int = 0
    handled: int = 0
    failed: int = 0
    rejected: int = 0
    malformed: int = 0
    duplicate: int = 0
    dead_lettered: int = 0
    forwarded: int = 0  # `forward:` pipelines: the destination answered 2xx
    refused: int = 0  # `forward:` pipelines: a 4xx (not 408/429) moved it to the dead letters
    routed: int = 0  # `routes:` pipelines: sent to each matched route's queue
    unrouted: int = 0  # `routes:` pipelines: matched no route (dead letters, or dropped)

    def line(self, pipeline: str) -> str:
        values = " ".join(f"{f.name}={getattr(self, f.name)}" for f in fields(self))
        return f"{pipeline} {values}"


class Counters:
    """What happened to one pipeline's webhooks since start; updated from many threads.

    The runtime's outcomes: handled (the handler returned), failed (attempts kept for a
    retry), rejected / malformed (moved to the dead letters with the reason), duplicate (an
    earlier copy was handled); dead_lettered: moved there after max_receive_count receives.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = Snapshot()

    def add(self, **deltas: int) -> None:
        with self._lock:
            for name, delta in deltas.items():
                setattr(self._counts, name, getattr(self._counts, name) + delta)

    def snapshot(self, depth: Depth | None = None) -> Snapshot:
        with self._lock:
            snap = Snapshot(**vars(self._counts))
        if depth is not None:
            snap.queued = depth.visible
        return snap


class Dashboard:
    """Refreshed about once a second by the main thread; `say` prints a message line."""

    def __init__(
        self,
        counters: dict[str, Counters],
        depth: Callable[[str], Depth],
        out: IO[str] | None = None,
    ) -> None:
        self._counters = counters
        self._depth = depth
        self._out = out or sys.stdout
        self._tty = self._out.isatty()
        self._console = Console(file=self._out, highlight=False, soft_wrap=True)
        self._live: Live | None = None
        self._last: dict[str, Snapshot] = {}
        self._say_lock = threading.Lock()

    def start(self) -> None:
        if self._tty:
            self._live = Live(
                self._table(), console=self._console, auto_refresh=False, transient=False
            )
            self._live.start()

    def stop(self) -> None:
        self.refresh(final=True)
        if self._live is not None:
            self._live.stop()
            self._live = None

    def say(self, text: str) -> None:
        with self._say_lock:
            if self._live is not None:
                self._console.print(text, markup=False)
            else:
                self._out.write(text + "\n")
                self._out.flush()

    def refresh(self, *, final: bool = False) -> None:
        snaps = self._snapshots()
        if self._live is not None:
            self._live.update(self._table(snaps), refresh=True)
            return
        changed = [name for name, snap in snaps.items() if final or snap != self._last.get(name)]
        self._last = snaps
        stamp = time.strftime("%H:%M:%S")
        for name in changed:
            self.say(f"{stamp} {snaps[name].line(name)}")

    def _snapshots(self) -> dict[str, Snapshot]:
        return {name: c.snapshot(self._depth(name)) for name, c in self._counters.items()}

    def _table(self, snaps: dict[str, Snapshot] | None = None) -> Table:
        table = Table(title="nami dev", title_justify="left")
        table.add_column("pipeline")
        for f in fields(Snapshot):
            table.add_column(f.name.replace("_", " "), justify="right")
        for name, snap in (snaps or {}).items():
            table.add_row(name, *(str(getattr(snap, f.name)) for f in fields(Snapshot)))
        return table
