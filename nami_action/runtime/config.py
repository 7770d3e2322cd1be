"""NAMI_CONFIG, parsed once per container. The compiler writes it; a bad one is a deploy bug."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .dedupe import JsonPathError, parse_json_path
from .forward import ForwardConfig
from .retry import RetrySchedule
from .routing import RouteTest
from .verify import DEFAULT_TOLERANCE, SCHEMES, UNSIGNED_BY_SECRET

CONFIG_ENV = "NAMI_CONFIG"
DEDUPE_TABLE_ENV = "NAMI_DEDUPE_TABLE"
DEAD_LETTER_QUEUE_ENV = "NAMI_DEAD_LETTER_QUEUE_URL"
MODES = ("webhook", "sqs")


class ConfigError(ValueError):
    """NAMI_CONFIG is missing or wrong; the function cannot run until it is redeployed."""


@dataclass(frozen=True)
class VerifyConfig:
    scheme: str
    secret_ref: str | None = None
    header: str | None = None
    encoding: str = "hex"
    prefix: str = ""
    tolerance: int = DEFAULT_TOLERANCE
    previous_ref: str | None = None  # the secret being rotated out, still accepted
    topics: tuple[str, ...] = ()  # `sns`: the TopicArns accepted

    def secret_refs(self) -> list[str]:
        return [r for r in (self.secret_ref, self.previous_ref) if r]


@dataclass(frozen=True)
class DedupeConfig:
    header: str | None = None
    json_path: str | None = None
    window: int = 86400


@dataclass(frozen=True)
class RuntimeConfig:
    pipeline: str
    mode: str
    handler: str
    verify: VerifyConfig | None = None
    dedupe: DedupeConfig | None = None
    secrets: dict[str, str] = field(default_factory=dict)
    dedupe_table: str | None = None
    stack: str = ""  # the metrics' Pipeline dimension (the alarm watches it)
    dead_letter_queue_url: str | None = None
    retry: RetrySchedule | None = None  # None: retries come after the visibility timeout
    forward: ForwardConfig | None = None  # `forward:`: deliver instead of calling a handler
    routes: tuple[RouteTest, ...] = ()  # `routes:`: the router's matches, in order
    unrouted: str = "keep"  # `routes:`: what happens to a webhook no route matched
    code: str | None = None  # a route's handler folder inside the pipeline's zip


def load_config(env: Mapping[str, str]) -> RuntimeConfig:
    """Read NAMI_CONFIG (and NAMI_DEDUPE_TABLE) from an environment mapping."""
    text = env.get(CONFIG_ENV)
    if not text:
        raise ConfigError(f"{CONFIG_ENV} is not set")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{CONFIG_ENV} is not valid JSON: {exc}") from exc
    config = parse_config(
        _obj(data, CONFIG_ENV),
        env.get(DEDUPE_TABLE_ENV) or None,
        env.get(DEAD_LETTER_QUEUE_ENV) or None,
    )
    if config.dedupe is not None and not config.dedupe_table:
        raise ConfigError(f"dedupe is configured but {DEDUPE_TABLE_ENV} is not set")
    return config


def parse_config(
    data: dict[str, Any],
    dedupe_table: str | None = None,
    dead_letter_queue_url: str | None = None,
) -> RuntimeConfig:
    mode = _get(data, "mode", str, "webhook")
    if mode not in MODES:
        raise ConfigError(f"mode must be one of {MODES}, got {mode!r}")
    handler = _get(data, "handler", str)
    if "." not in handler:
        raise ConfigError(f"handler must be 'module.function', got {handler!r}")
    return RuntimeConfig(
        pipeline=_get(data, "pipeline", str),
        mode=mode,
        handler=handler,
        verify=_verify(data.get("verify")),
        dedupe=_dedupe(data.get("dedupe")),
        secrets=_secrets(data.get("secrets")),
        dedupe_table=dedupe_table,
        stack=_get(data, "stack", str),
        dead_letter_queue_url=dead_letter_queue_url,
        retry=_retry(data.get("retry")),
        forward=_forward(data.get("forward")),
        routes=_routes(data.get("routes")),
        unrouted=_get(data, "unrouted", str, "keep"),
        code=_get(data, "code", str, None),
    )


def _routes(value: Any) -> tuple[RouteTest, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ConfigError("routes must be a list")
    try:
        return tuple(RouteTest.from_json(_obj(item, "route")) for item in value)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def _forward(value: Any) -> ForwardConfig | None:
    if value is None:
        return None
    try:
        return ForwardConfig.from_json(_obj(value, "forward"))
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def _retry(value: Any) -> RetrySchedule | None:
    if value is None:
        return None
    try:
        return RetrySchedule.from_json(_obj(value, "retry"))
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def _verify(value: Any) -> VerifyConfig | None:
    if value is None:
        return None
    data = _obj(value, "verify")
    encoding = _get(data, "encoding", str, "hex")
    if encoding not in ("hex", "base64"):
        raise ConfigError(f"verify.encoding must be 'hex' or 'base64', got {encoding!r}")
    current, previous = _secret_refs(data.get("secret"))
    config = VerifyConfig(
        scheme=_get(data, "scheme", str),
        secret_ref=current,
        header=_get(data, "header", str, None),
        encoding=encoding,
        prefix=_get(data, "prefix", str, ""),
        tolerance=_get(data, "tolerance", int, DEFAULT_TOLERANCE),
        previous_ref=previous,
        topics=_topics(data.get("topics")),
    )
    if config.scheme not in SCHEMES:
        raise ConfigError(f"verify.scheme must be one of {sorted(SCHEMES)}, got {config.scheme!r}")
    if config.scheme not in UNSIGNED_BY_SECRET and not config.secret_ref:
        # Refuse to start rather than reject (and drop) every webhook.
        raise ConfigError(f"verify scheme {config.scheme!r} needs a secret")
    if config.scheme == "sns" and not config.topics:
        raise ConfigError("verify scheme 'sns' needs topics (the TopicArns accepted)")
    return config


def _topics(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError("verify.topics must be a list of TopicArns")
    return tuple(value)


def _secret_refs(value: Any) -> tuple[str | None, str | None]:
    """`secret`: one reference, or a list of one or two (current first, then previous)."""
    if value is None or isinstance(value, str):
        return value, None
    if (
        isinstance(value, list)
        and 1 <= len(value) <= 2
        and all(isinstance(v, str) and v for v in value)
    ):
        return value[0], value[1] if len(value) == 2 else None
    raise ConfigError("verify.secret must be a reference or a list of one or two references")


def _dedupe(value: Any) -> DedupeConfig | None:
    if value is None:
        return None
    data = _obj(value, "dedupe")
    config = DedupeConfig(
        header=_get(data, "header", str, None),
        json_path=_get(data, "json_path", str, None),
        window=_get(data, "window", int, 86400),
    )
    if config.json_path is not None:
        try:
            parse_json_path(config.json_path)
        except JsonPathError as exc:
            raise ConfigError(f"dedupe.{exc}") from exc
    if config.window <= 0:
        raise ConfigError("dedupe.window must be a positive number of seconds")
    return config


def _secrets(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    data = _obj(value, "secrets")
    if not all(isinstance(v, str) for v in data.values()):
        raise ConfigError("secrets must map environment variable names to references")
    return dict(data)


_MISSING: Any = object()


def _get(data: dict[str, Any], key: str, kind: type, default: Any = _MISSING) -> Any:
    value = data.get(key)
    if value is None:
        if default is _MISSING:
            raise ConfigError(f"{key!r} is required")
        return default
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{key!r} must be {kind.__name__}, got {type(value).__name__}")
    return value


def _obj(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{name} must be a JSON object")
    return value
