"""NAMI_CONFIG parsing and the dedupe event id (json_path by hand, header, fallback)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from nami_action.runtime import decode_envelope
from nami_action.runtime.config import ConfigError, load_config
from nami_action.runtime.dedupe import JsonPathError, event_id, lookup, parse_json_path

from .runtime_builders import envelope

BASE = {
    "pipeline": "stripe",
    "stack": "acme-stripe",
    "mode": "webhook",
    "handler": "handler.handle",
}


def env(**fields: Any) -> dict[str, str]:
    return {"NAMI_CONFIG": json.dumps(BASE | fields)}


def test_full_config() -> None:
    config = load_config(
        env(
            verify={
                "scheme": "hmac-sha256",
                "secret": "ssm:/s",
                "header": "X-Sig",
                "encoding": "base64",
                "prefix": "sha256=",
                "tolerance": 60,
            },
            dedupe={"header": None, "json_path": "$.id", "window": 600},
            secrets={"TOKEN": "secretsmanager:t"},
        )
        | {"NAMI_DEDUPE_TABLE": "tbl"}
    )
    assert config.verify is not None and config.verify.encoding == "base64"
    assert config.verify.prefix == "sha256=" and config.verify.tolerance == 60
    assert config.dedupe is not None and config.dedupe.window == 600
    assert config.dedupe_table == "tbl" and config.secrets == {"TOKEN": "secretsmanager:t"}


def test_minimal_config_defaults() -> None:
    config = load_config(env(verify=None, dedupe=None))
    assert (config.verify, config.dedupe, config.secrets) == (None, None, {})


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({}, "NAMI_CONFIG is not set"),
        ({"NAMI_CONFIG": "{"}, "not valid JSON"),
        ({"NAMI_CONFIG": "[]"}, "must be a JSON object"),
        (env(mode="stream"), "mode must be one of"),
        (env(handler="handle"), "handler must be 'module.function'"),
        (env(pipeline=None), "'pipeline' is required"),
        (env(verify={"scheme": "md5", "secret": "ssm:/x"}), "verify.scheme must be one of"),
        (env(verify={"scheme": "github"}), "needs a secret"),
        (env(verify={"scheme": "github", "secret": "ssm:/x", "encoding": "hex2"}), "encoding"),
        (env(verify={"scheme": "github", "secret": "ssm:/x", "tolerance": "5m"}), "must be int"),
        (env(dedupe={"window": 60}), "NAMI_DEDUPE_TABLE is not set"),
        (env(dedupe={"json_path": "id"}) | {"NAMI_DEDUPE_TABLE": "t"}, "must start with"),
        (env(dedupe={"window": 0}) | {"NAMI_DEDUPE_TABLE": "t"}, "positive"),
        (env(secrets={"A": 1}), "secrets must map"),
    ],
)
def test_config_errors(environment: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(environment)


def test_verify_none_needs_no_secret() -> None:
    config = load_config(env(verify={"scheme": "none"}))
    assert config.verify is not None and config.verify.secret_ref is None


# --- json path ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "steps"),
    [
        ("$", []),
        ("$.id", ["id"]),
        ("$.data.object.id", ["data", "object", "id"]),
        ("$.items[0].sku", ["items", 0, "sku"]),
        ("$['odd.key'][12]", ["odd.key", 12]),
        ('$["x"]', ["x"]),
    ],
)
def test_parse_json_path(path: str, steps: list[Any]) -> None:
    assert parse_json_path(path) == steps


@pytest.mark.parametrize("path", ["id", "$..id", "$.a[", "$[*]", "$.a[-1]"])
def test_unsupported_json_paths(path: str) -> None:
    with pytest.raises(JsonPathError):
        parse_json_path(path)


def test_lookup_missing_steps_are_none() -> None:
    data = {"a": {"b": [{"c": "x"}]}}
    assert lookup(data, ["a", "b", 0, "c"]) == "x"
    assert lookup(data, ["a", "b", 1, "c"]) is None
    assert lookup(data, ["a", 0]) is None
    assert lookup(data, ["a", "b", "c"]) is None


def webhook(body: bytes, headers: dict[str, str] | None = None) -> Any:
    return decode_envelope(json.dumps(envelope(body, headers, request_id="req-1")))


def test_event_id_sources() -> None:
    nested = json.dumps({"data": {"object": {"id": "in_1"}}, "seq": 7, "flag": True}).encode()
    assert event_id(webhook(nested), None, "$.data.object.id") == "in_1"
    assert event_id(webhook(nested), None, "$.seq") == "7"
    # Not a usable id: a bool, an object, a missing key, a body that is not JSON.
    assert event_id(webhook(nested), None, "$.flag") == "req-1"
    assert event_id(webhook(nested), None, "$.data") == "req-1"
    assert event_id(webhook(nested), None, "$.nope") == "req-1"
    assert event_id(webhook(b"a=1&b=2"), None, "$.a") == "req-1"
    assert event_id(webhook(b"\xff\xfe"), None, "$.a") == "req-1"
    # The header wins, case-insensitively; an empty header falls through to the body.
    headers = {"x-github-delivery": "d-9"}
    assert event_id(webhook(nested, headers), "X-GitHub-Delivery", "$.seq") == "d-9"
    empty = {"X-GitHub-Delivery": " "}
    assert event_id(webhook(nested, empty), "X-GitHub-Delivery", "$.seq") == "7"
