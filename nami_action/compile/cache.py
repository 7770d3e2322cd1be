"""A cache of compiled templates, so plan/compile/deploy only re-render what changed.

An entry is keyed by the sha256 of everything `render_template` reads: the pipeline after
`defaults` were merged, the config-wide settings (project, region, tags, artifacts, and any
field added to `Config` later), the consumer zip's location (its S3 key is the zip's content
hash), and the code that renders: nami's version, the sha256 of nami's own sources and the
versions of troposphere and Python. Inputs are serialised generically, so a field someone adds
to `Config` or `PipelineConfig` is in the key without touching this module (a value it cannot
serialise stably only makes the cache miss).

The cache of one config is one file holding the templates of its last compile (so it never
grows past one compile's worth, and a warm run reads one file, not one per pipeline). Each entry
is `<HMAC-SHA256 of key and template> <key> <length>\\n<template>`, signed with a random secret
kept outside the repository (`$XDG_CACHE_HOME/nami/template-cache.key`, else ~/.cache/nami/): a
truncated or edited entry, or one that arrived with the code (`.nami/` is gitignored, but a
pull request can still add files there) fails the check and is recompiled, never deployed.
Without a writable place for that secret, nothing is cached. The file is replaced atomically.
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
_MAX_HEADER = 256  # bytes of an entry's header line: signature, key, length


class TemplateCache:
    """The templates of one config's last compile, in one file, each entry signed."""

    def __init__(self, path: Path, secret: bytes | None = None) -> None:
        self.path = path
        self.secret = secret if secret is not None else machine_secret()
        self._stored = self._load() if self.secret is not None else {}
        self._used: dict[str, bytes] = {}
        self._changed = False

    def render(self, key: str, render: Callable[[], str]) -> str:
        """The cached template for `key`, or `render()`'s (kept for `save`)."""
        text = self.cached(key)
        if text is None:  # missing, damaged, or not written with this machine's secret
            text = render()
            self.keep(key, text)
        return text

    def cached(self, key: str) -> str | None:
        """The template stored under `key` if its signature holds (kept for `save`), else
        None: the caller renders it and hands it to `keep`."""
        entry = self._stored.get(key)
        if entry is not None and hmac.compare_digest(entry[0], self._signature(key, entry[1])):
            with contextlib.suppress(UnicodeDecodeError):
                text = entry[1].decode("utf-8")
                self._used[key] = entry[1]
                return text
        return None

    def keep(self, key: str, text: str) -> None:
        """A freshly rendered template, written by the next `save`."""
        self._used[key] = text.encode("utf-8")
        self._changed = True

    def save(self) -> None:
        """Keep exactly this run's templates (older entries go: the file never grows), written
        atomically; skipped when every template came from the file."""
        if self.secret is None or not (self._changed or len(self._used) != len(self._stored)):
            return
        parts = []
        for key, body in sorted(self._used.items()):  # the same bytes whatever rendered first
            parts.append(b"%s %s %d\n" % (self._signature(key, body), key.encode(), len(body)))
            parts.append(body)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(b"".join(parts))
            os.replace(tmp, self.path)
        except OSError:  # a read-only or full disk only costs the next run a compile
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)

    def _signature(self, key: str, body: bytes) -> bytes:
        assert self.secret is not None
        mac = hmac.new(self.secret, key.encode() + b"\n" + body, hashlib.sha256)
        return mac.hexdigest().encode()

    def _load(self) -> dict[str, tuple[bytes, bytes]]:
        """Key -> (signature, template bytes), checked when used; a damaged tail is dropped."""
        try:
            data = self.path.read_bytes()
        except OSError:
            return {}
        entries: dict[str, tuple[bytes, bytes]] = {}
        offset = 0
        while offset < len(data):
            end = data.find(b"\n", offset, offset + _MAX_HEADER)
            fields = data[offset:end].split(b" ") if end >= 0 else []
            if len(fields) != 3 or not fields[2].isdigit():
                break
            body = data[end + 1 : end + 1 + int(fields[2])]
            if len(body) != int(fields[2]):
                break
            entries[fields[1].decode("ascii", "replace")] = (fields[0], body)
            offset = end + 1 + len(body)
        return entries


def cache_file(config: Config, cache_dir: Path) -> Path:
    """One file per config file: compiling another config beside it does not evict it."""
    name = hashlib.sha256(str(config.base_dir / Path(config.file).name).encode()).hexdigest()
    return cache_dir / TEMPLATES_FOLDER / f"{name[:32]}.pack"


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
