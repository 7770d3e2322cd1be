"""A cache of compiled templates, so plan/compile/deploy only re-render what changed.

An entry is keyed by the sha256 of everything `render_template` reads: the pipeline after
`defaults` were merged, the config-wide settings (project, region, tags, artifacts, and any
field added to `Config` later), the consumer zip's location (its S3 key is the zip's content
hash), and the code that renders: nami's version, the sha256 of nami's own sources and the
versions of troposphere and Python. Inputs are serialised generically, so a field someone adds
to `Config` or `PipelineConfig` is in the key without touching this module (a value it cannot
serialise stably only makes the cache miss).

An entry is `<sha256 of the template>\\n<template>`: a truncated or edited entry fails the
check and is recompiled (and rewritten), never trusted. Entries are written atomically.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import os
import platform
import threading
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Any

import troposphere
from pydantic import BaseModel

from nami_action import __version__
from nami_action.compile.consumer import CodeLocation
from nami_action.config import Config, PipelineConfig

TEMPLATES_FOLDER = "templates"
# Where in the file a pipeline starts is not an input of its template: leaving it out keeps an
# edit of one pipeline from missing the cache for every pipeline below it.
_NOT_INPUTS = {"pipelines", "document", "line"}


class TemplateCache:
    """Template texts on disk under `folder`, addressed by `key()`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.hits = 0
        self.misses = 0

    def render(self, key: str, render: Callable[[], str]) -> str:
        """The cached template for `key`, or `render()`'s (then stored for next time)."""
        cached = self._read(key)
        if cached is not None:
            self.hits += 1
            return cached
        self.misses += 1
        text = render()
        self._write(key, text)
        return text

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def _read(self, key: str) -> str | None:
        try:
            stored = self._path(key).read_bytes()
        except OSError:
            return None
        digest, _, body = stored.partition(b"\n")
        if hashlib.sha256(body).hexdigest().encode() != digest:
            return None  # truncated, edited or not ours: recompile
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            return None

    def _write(self, key: str, text: str) -> None:
        body = text.encode("utf-8")
        path = self._path(key)
        # Unique per process and thread (mkstemp's random names cost more than the write).
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(hashlib.sha256(body).hexdigest().encode() + b"\n" + body)
            os.replace(tmp, path)
        except OSError:  # a read-only or full disk only costs the next run a compile
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)


def config_key(config: Config) -> str:
    """The part of every pipeline's key that the whole config shares (computed once)."""
    shared = {
        "nami": __version__,
        "sources": _sources_digest(),
        "troposphere": troposphere.__version__,
        "python": platform.python_version(),
        "config": _plain(config),
    }
    return _digest(shared)


def key(shared: str, pipeline: PipelineConfig, code: CodeLocation) -> str:
    return _digest({"shared": shared, "pipeline": _plain(pipeline), "code": _plain(code)})


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _plain(value: Any) -> Any:
    """JSON-ready data for the key; types it does not know become their repr (so an object
    whose repr is not stable, e.g. one showing its address, only makes the cache miss)."""
    if isinstance(value, BaseModel):
        return {"model": type(value).__name__, "data": value.model_dump(mode="json")}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.name not in _NOT_INPUTS
        }
    if isinstance(value, dict):
        pairs = sorted(((repr(k), _plain(v)) for k, v in value.items()), key=lambda kv: kv[0])
        return {"dict": pairs}
    if isinstance(value, list | tuple | frozenset | set):
        items = [_plain(v) for v in value]
        return {"items": items if isinstance(value, list | tuple) else sorted(map(repr, items))}
    if isinstance(value, Enum):
        return repr(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return {"repr": f"{type(value).__qualname__}:{value!r}"}


@functools.cache
def _sources_digest() -> str:
    """sha256 of nami's own Python sources: an edited nami (same version) renders anew."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()
