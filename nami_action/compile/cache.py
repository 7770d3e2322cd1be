"""A cache of compiled templates, so plan/compile/deploy only re-render what changed.

An entry is keyed by the sha256 of everything `render_template` reads: the pipeline after
`defaults` were merged, the config-wide settings (project, region, tags, artifacts, and any
field added to `Config` later), the consumer zip's location (its S3 key is the zip's content
hash), and the code that renders: nami's version, the sha256 of nami's own sources and the
versions of troposphere and Python. Inputs are serialised generically, so a field someone adds
to `Config` or `PipelineConfig` is in the key without touching this module (a value it cannot
serialise stably only makes the cache miss).

An entry is `<HMAC-SHA256 of key and template>\\n<template>`, signed with a random secret kept
outside the repository (`$XDG_CACHE_HOME/nami/template-cache.key`, else ~/.cache/nami/): a
truncated or edited entry, or one that arrived with the code (`.nami/` is gitignored, but a
pull request can still add files there) fails the check and is recompiled, never deployed.
Without a writable place for that secret, nothing is cached. Entries are written atomically.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import hmac
import json
import os
import platform
import secrets
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


SECRET_FILE = "template-cache.key"
SECRET_BYTES = 32


class TemplateCache:
    """Template texts on disk under `folder`, addressed by `key()`, signed with `secret`."""

    def __init__(self, folder: Path, secret: bytes | None = None) -> None:
        self.folder = folder
        self.secret = secret if secret is not None else machine_secret()

    def render(self, key: str, render: Callable[[], str]) -> str:
        """The cached template for `key`, or `render()`'s (then stored for next time)."""
        if self.secret is None:
            return render()
        cached = self._read(key)
        if cached is not None:
            return cached
        text = render()
        self._write(key, text)
        return text

    def _signature(self, key: str, body: bytes) -> bytes:
        assert self.secret is not None
        mac = hmac.new(self.secret, key.encode() + b"\n" + body, hashlib.sha256)
        return mac.hexdigest().encode()

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def _read(self, key: str) -> str | None:
        try:
            stored = self._path(key).read_bytes()
        except OSError:
            return None
        signature, _, body = stored.partition(b"\n")
        if not hmac.compare_digest(signature, self._signature(key, body)):
            return None  # truncated, edited or not written here: recompile
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
            tmp.write_bytes(self._signature(key, body) + b"\n" + body)
            os.replace(tmp, path)
        except OSError:  # a read-only or full disk only costs the next run a compile
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)


def machine_secret() -> bytes | None:
    """This user's random cache secret, made on first use; None if it cannot be kept."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    path = Path(base) / "nami" / SECRET_FILE
    for _ in range(2):
        try:
            secret = path.read_bytes()
            return secret if len(secret) == SECRET_BYTES else None
        except FileNotFoundError:
            _create_secret(path)
        except (OSError, RuntimeError):  # no home, unreadable
            return None
    return None


def _create_secret(path: Path) -> None:
    """Write a new secret whole, or leave the one another process linked first."""
    tmp = path.with_name(f".{SECRET_FILE}.{os.getpid()}.{threading.get_ident()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as stream:
            stream.write(secrets.token_bytes(SECRET_BYTES))
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)  # atomic, and never replaces a secret already there
    except OSError:
        return
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


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
