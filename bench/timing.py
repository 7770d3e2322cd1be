"""Wall and CPU time of a step or a command, and how busy the machine was meanwhile.

On a shared machine the wall time grows with everyone else's load; the CPU time (user + system,
of this process or of the child command) hardly does, so the benches print both.
"""

from __future__ import annotations

import os
import resource
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Timing:
    wall: float
    cpu: float

    def show(self, target: float) -> str:
        verdict = "OK" if self.wall < target else "SLOWER THAN TARGET"
        return f"{self.wall:.2f} s wall, {self.cpu:.2f} s CPU (target < {target:g} s) {verdict}"


def timed(step: Callable[[], T]) -> tuple[T, Timing]:
    """Run `step` in this process; CPU time includes worker processes it waited for (compile
    renders many pipelines in forked workers)."""
    cpu, wall = _cpu_with_children(), time.perf_counter()
    result = step()
    return result, Timing(time.perf_counter() - wall, _cpu_with_children() - cpu)


def _cpu_with_children() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def timed_command(command: Sequence[str]) -> tuple[subprocess.CompletedProcess[str], Timing]:
    """Run `command` to completion; its CPU time from the children's resource usage."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    result = subprocess.run(list(command), capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return result, Timing(elapsed, cpu)


def machine() -> str:
    load = os.getloadavg()[0]
    cores = os.cpu_count() or 1
    busy = " (busy: wall times are inflated, compare CPU times)" if load > cores else ""
    return f"load average {load:.1f} on {cores} CPUs{busy}"
