"""One environment per pipeline inside the one `nami dev` process.

On Lambda each consumer is its own process with its own `consumer.environment`. `nami dev` runs
every pipeline's handler in one process, so writing them all into `os.environ` let one
pipeline's values leak into another's (and the first pipeline to set a name won). Instead,
`os.environ` is replaced, while nami dev runs, by a mapping that reads the process environment
plus the variables of the pipeline whose code is running in the current thread: a worker
thread of pipeline A sees A's `consumer.environment`, never B's. `os.getenv` reads
`os.environ`, so it sees the same. Not covered: a child process the handler starts (it
inherits the process environment) and threads the handler starts itself.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")


class PipelineEnviron(MutableMapping[str, str]):
    """The process environment with the current thread's pipeline variables on top."""

    def __init__(self, base: MutableMapping[str, str]) -> None:
        self.base = base
        self._local = threading.local()

    def _overlay(self) -> dict[str, str]:
        overlay: dict[str, str] = getattr(self._local, "values", {})
        return overlay

    @contextmanager
    def using(self, values: Mapping[str, str]) -> Iterator[None]:
        """Run the block (in this thread) with these pipeline variables."""
        before = getattr(self._local, "values", None)
        self._local.values = dict(values)
        try:
            yield
        finally:
            self._local.values = before if before is not None else {}

    def __getitem__(self, key: str) -> str:
        overlay = self._overlay()
        return overlay[key] if key in overlay else self.base[key]

    def __setitem__(self, key: str, value: str) -> None:
        overlay = self._overlay()
        if key in overlay:  # the pipeline's own variable: changed for that pipeline only
            overlay[key] = value
        else:
            self.base[key] = value

    def __delitem__(self, key: str) -> None:
        overlay = self._overlay()
        if key in overlay:
            del overlay[key]
        else:
            del self.base[key]

    def __iter__(self) -> Iterator[str]:
        overlay = self._overlay()
        yield from overlay
        yield from (key for key in self.base if key not in overlay)

    def __len__(self) -> int:
        overlay = self._overlay()
        return len(overlay) + sum(1 for key in self.base if key not in overlay)

    def copy(self) -> dict[str, str]:
        """As os.environ.copy(): a plain dict of what this thread sees."""
        return dict(self)


_INSTALLED: list[PipelineEnviron] = []
_INSTALL_LOCK = threading.Lock()


def install() -> PipelineEnviron:
    """Put a PipelineEnviron in place of os.environ (once; nested installs share it)."""
    with _INSTALL_LOCK:
        found: MutableMapping[str, str] = os.environ
        installed = found if isinstance(found, PipelineEnviron) else PipelineEnviron(found)
        # Rebinding os.environ (not clearing it) is the point: os.getenv reads this name.
        os.environ = installed  # type: ignore[assignment]  # noqa: B003
        _INSTALLED.append(installed)
        return installed


def uninstall() -> None:
    """Undo one install; the real os.environ is back after the last."""
    with _INSTALL_LOCK:
        if not _INSTALLED:
            return
        installed = _INSTALLED.pop()
        found: MutableMapping[str, str] = os.environ
        if not _INSTALLED and found is installed:
            os.environ = installed.base  # type: ignore[assignment]  # noqa: B003


def bound(
    environ: PipelineEnviron, values: Mapping[str, str], call: Callable[..., T]
) -> Callable[..., T]:
    """`call` run with the pipeline's variables in whichever thread calls it."""

    def run(*args: Any, **kwargs: Any) -> T:
        with environ.using(values):
            return call(*args, **kwargs)

    return run
