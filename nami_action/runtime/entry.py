"""Lambda entry point: `nami_runtime.entry.handler`. Cold start builds the Consumer once.

Anything wrong with the function's own configuration (NAMI_CONFIG, a secret that is missing,
empty or unusable for its scheme, the handler) raises here, at cold start: Lambda fails the
invocation and the records stay queued, retry, and reach the DLQ, alarmed. The runtime never
rejects traffic because of its own misconfiguration.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from .config import ConfigError, RuntimeConfig, VerifyConfig, load_config
from .consumer import Consumer
from .deadletters import SqsDeadLetters
from .dedupe import DynamoMarkers
from .forward import Forwarder
from .retry import SqsRetries
from .router import QUEUE_URL_ENV, Router, SqsSender, no_handler, route_queue_url
from .secrets import refresh, resolve
from .verify import VerifySettings, secret_problem

FORWARD_SECRET_ENV = "NAMI_FORWARD_SECRET"  # the ARN of the pipeline's signing secret

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
    settings = verify_settings(config)
    router = build_router(config, env)
    if config.code:
        # A route's handler: its folder in the pipeline's zip (package/routes.py) comes first.
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), config.code))
    if router is not None:
        function: Callable[..., Any] = no_handler
    elif config.forward is not None:
        function = forwarder(config, env)
    else:
        function = load_function(config.handler)
    return Consumer(
        config=config,
        function=function,
        verify_settings=settings,
        markers=DynamoMarkers(config.dedupe_table)
        if config.dedupe and config.dedupe_table
        else None,
        dead_letters=SqsDeadLetters(config.dead_letter_queue_url)
        if config.dead_letter_queue_url
        else None,
        # A forward pipeline always has one: a destination's Retry-After is applied by it.
        retries=SqsRetries(config.retry) if config.retry or config.forward else None,
        reread_secrets=partial(read_verify, config.verify, refresh) if config.verify else None,
        router=router,
    )


def build_router(config: RuntimeConfig, env: Mapping[str, str]) -> Router | None:
    """The router of a `routes:` pipeline: its routes' queues are named after its own."""
    if not config.routes:
        return None
    own = env.get(QUEUE_URL_ENV)
    if not own:
        raise ConfigError(f"routes are configured but {QUEUE_URL_ENV} is not set")
    queues = {route.name: route_queue_url(own, route.name) for route in config.routes}
    return Router(config.routes, queues, SqsSender(), own)


def forwarder(config: RuntimeConfig, env: Mapping[str, str]) -> Forwarder:
    """The delivery function: URL, header values and signing secret read at cold start."""
    forward = config.forward
    assert forward is not None
    arn = env.get(FORWARD_SECRET_ENV)
    if not arn:
        raise ConfigError(f"forward is configured but {FORWARD_SECRET_ENV} is not set")

    def value(text: str) -> str:
        return resolve(text) if text.startswith(("ssm:", "secretsmanager:")) else text

    try:
        return Forwarder(
            forward,
            value(forward.url),
            resolve(f"secretsmanager:{arn}"),
            {name: value(v) for name, v in forward.headers.items()},
        )
    except ValueError as exc:
        raise ConfigError(f"forward: {exc}") from exc


def export_secrets(secrets: Mapping[str, str]) -> None:
    for name, reference in secrets.items():
        os.environ[name] = resolve(reference)


def verify_settings(config: RuntimeConfig) -> VerifySettings | None:
    return None if config.verify is None else read_verify(config.verify, resolve)


def read_verify(v: VerifyConfig, read: Callable[[str], str]) -> VerifySettings:
    """The verify block with its secrets read (`resolve`: cached, `refresh`: fresh) and checked:
    a secret that cannot verify anything raises ConfigError instead of rejecting webhooks."""
    secret, previous = (read(ref) if ref else None for ref in (v.secret_ref, v.previous_ref))
    checked = [(v.secret_ref, secret)] + ([(v.previous_ref, previous)] if v.previous_ref else [])
    for ref, value in checked:
        problem = secret_problem(v.scheme, value)
        if problem:
            raise ConfigError(f"verify secret {ref or '(none)'} {problem}")
    return VerifySettings(
        v.scheme,
        secret,
        v.header,
        v.encoding,
        v.prefix,
        v.tolerance,
        previous=previous,
        topics=v.topics,
    )


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
