"""Lambda entry point: `nami_runtime.entry.handler`. Cold start builds the Consumer once."""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from typing import Any

from .config import ConfigError, RuntimeConfig, load_config
from .consumer import Consumer
from .dedupe import DynamoMarkers
from .secrets import resolve
from .verify import VerifySettings

# One per container: secrets, clients and the user's module are loaded on the first event.
_CONSUMER: Consumer | None = None


def handler(event: Mapping[str, Any], context: Any) -> Any:
    """What Lambda calls for each batch."""
    return current_consumer()(event, context)


def current_consumer() -> Consumer:
    global _CONSUMER
    if _CONSUMER is None:
        _CONSUMER = build_consumer(os.environ)
    return _CONSUMER


def reset() -> None:
    """Forget the container state (tests; Lambda starts a new container instead)."""
    global _CONSUMER
    _CONSUMER = None


def build_consumer(env: Mapping[str, str]) -> Consumer:
    config = load_config(env)
    export_secrets(config.secrets)  # before the import: user modules may read env at import time
    return Consumer(
        config=config,
        function=load_function(config.handler),
        verify_settings=verify_settings(config),
        markers=DynamoMarkers(config.dedupe_table)
        if config.dedupe and config.dedupe_table
        else None,
    )


def export_secrets(secrets: Mapping[str, str]) -> None:
    for name, reference in secrets.items():
        os.environ[name] = resolve(reference)


def verify_settings(config: RuntimeConfig) -> VerifySettings | None:
    if config.verify is None:
        return None
    v = config.verify
    secret = resolve(v.secret_ref) if v.secret_ref else None
    return VerifySettings(v.scheme, secret, v.header, v.encoding, v.prefix, v.tolerance)


def load_function(path: str) -> Callable[..., Any]:
    """Import "pkg.module.function" and return the function."""
    module_name, _, function_name = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            raise ConfigError(f"handler module {module_name!r} not found in the bundle") from exc
        raise  # the user's module imports something missing: show their error as is
    function = getattr(module, function_name, None)
    if not callable(function):
        raise ConfigError(f"handler {path!r}: {module_name} has no function {function_name!r}")
    return function  # type: ignore[no-any-return]
