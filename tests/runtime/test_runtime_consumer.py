"""The Lambda handler driven with SQS-shaped events (no AWS needed for these)."""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from nami_action.runtime import Webhook, entry
from nami_action.runtime.config import ConfigError, parse_config
from nami_action.runtime.consumer import Consumer

from .runtime_builders import dead_letters, envelope, record, sqs_event

SECRET = "gh-secret"

RECORDING_HANDLER = """
    CALLS = []

    def handle(webhook):
        CALLS.append(webhook)
        payload = webhook.json()
        if payload.get("fail"):
            raise RuntimeError(f"downstream refused order {payload['n']}")
"""


def log_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """The per-record lines (the batch's metrics line has no outcome)."""
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    return [line for line in lines if "outcome" in line]


def signed_record(payload: dict[str, Any], message_id: str, secret: str = SECRET) -> dict[str, Any]:
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return record(envelope(body, {"X-Hub-Signature-256": signature}), message_id)


def calls(module: str) -> list[Webhook]:
    return sys.modules[module].CALLS  # type: ignore[no-any-return]


def test_batch_of_ten_reports_exactly_the_three_failures(
    user_module: Callable[[str], str],
    nami_config: Callable[..., None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    module = user_module(RECORDING_HANDLER)
    nami_config(f"{module}.handle")
    failing = {2, 5, 7}
    records = [
        record(envelope(json.dumps({"n": n, "fail": n in failing}).encode()), f"m{n}")
        for n in range(10)
    ]

    result = entry.handler(sqs_event(*records), None)

    assert result == {"batchItemFailures": [{"itemIdentifier": f"m{n}"} for n in (2, 5, 7)]}
    assert [w.json()["n"] for w in calls(module)] == list(range(10))
    lines = log_lines(capsys)
    assert [line["outcome"] for line in lines] == [
        "failed" if n in failing else "handled" for n in range(10)
    ]
    failed = lines[2]
    assert failed["error"] == "RuntimeError: downstream refused order 2"
    assert failed["pipeline"] == "github" and failed["messageId"] == "m2"
    assert failed["id"] == json.loads(records[2]["body"])["id"]
    assert isinstance(failed["durationMs"], float)


def test_fifo_batch_stops_at_the_first_failure(
    user_module: Callable[[str], str],
    nami_config: Callable[..., None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    module = user_module(RECORDING_HANDLER)
    nami_config(f"{module}.handle")
    records = [
        record(envelope(json.dumps({"n": n, "fail": n == 1}).encode()), f"m{n}") for n in range(4)
    ]
    for item in records:
        item["eventSourceARN"] += ".fifo"

    result = entry.handler(sqs_event(*records), None)

    # m2 and m3 would overtake m1 in their message group: they wait for its retry.
    assert result == {"batchItemFailures": [{"itemIdentifier": f"m{n}"} for n in (1, 2, 3)]}
    assert [w.json()["n"] for w in calls(module)] == [0, 1]
    held = log_lines(capsys)[2]
    assert held["outcome"] == "failed" and held["reason"].startswith("not processed")


def test_rejected_signatures_are_not_called_and_not_failed(
    emulator: str,
    dead_letter_queue: str,
    user_module: Callable[[str], str],
    nami_config: Callable[..., None],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    module = user_module(RECORDING_HANDLER)
    # The verify secret is resolved from SSM (on the moto server) at cold start.
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator)
    ssm = boto3.client("ssm", endpoint_url=emulator)
    ssm.put_parameter(Name="/nami/github/secret", Value=SECRET, Type="SecureString")
    nami_config(
        f"{module}.handle", verify={"scheme": "github", "secret": "ssm:/nami/github/secret"}
    )
    event = sqs_event(
        signed_record({"n": 0}, "good"),
        signed_record({"n": 1}, "forged", secret="guess"),
        record(envelope(b'{"n": 2}'), "unsigned"),
        signed_record({"n": 3, "fail": True}, "good-but-fails"),
    )

    result = entry.handler(event, None)

    assert result == {"batchItemFailures": [{"itemIdentifier": "good-but-fails"}]}
    assert [w.message_id for w in calls(module)] == ["good", "good-but-fails"]
    lines = {line["messageId"]: line for line in log_lines(capsys)}
    assert lines["forged"]["outcome"] == "rejected"
    assert lines["forged"]["reason"] == "signature mismatch"
    assert lines["unsigned"]["reason"] == "missing header X-Hub-Signature-256"
    output = json.dumps(list(lines.values()))
    assert SECRET not in output and '"n": 1' not in output
    # Not deleted: kept in the DLQ, body unchanged, with why.
    moved = {m["Body"]: m["MessageAttributes"] for m in dead_letters(dead_letter_queue)}
    assert moved == {
        event["Records"][1]["body"]: dlq_attributes("rejected", "signature mismatch"),
        event["Records"][2]["body"]: dlq_attributes(
            "rejected", "missing header X-Hub-Signature-256"
        ),
    }


def dlq_attributes(outcome: str, reason: str) -> dict[str, Any]:
    return {
        "nami-outcome": {"DataType": "String", "StringValue": outcome},
        "nami-reason": {"DataType": "String", "StringValue": reason},
    }


def test_malformed_envelopes_are_moved_to_the_dead_letter_queue(
    dead_letter_queue: str,
    user_module: Callable[[str], str],
    nami_config: Callable[..., None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    module = user_module(RECORDING_HANDLER)
    nami_config(f"{module}.handle")
    bad_body = {"messageId": "no-body", "attributes": {}}
    event = sqs_event(record("not json", "junk"), bad_body, record(envelope(b"{}"), "fine"))

    # A record without a body (Lambda never sends one) cannot be moved: it stays queued.
    assert entry.handler(event, None) == {"batchItemFailures": [{"itemIdentifier": "no-body"}]}
    assert len(calls(module)) == 1
    lines = log_lines(capsys)
    assert [(line["messageId"], line["outcome"]) for line in lines] == [
        ("junk", "malformed"),
        ("no-body", "failed"),
        ("fine", "handled"),
    ]
    assert lines[0]["reason"] == "body is not JSON" and lines[0]["id"] is None
    assert lines[1]["reason"].startswith("malformed (SQS record has no body) but not moved")
    (moved,) = dead_letters(dead_letter_queue)
    assert moved["Body"] == "not json"
    assert moved["MessageAttributes"] == dlq_attributes("malformed", "body is not JSON")


def test_handler_gets_a_webhook_with_the_sqs_details(
    user_module: Callable[[str], str], nami_config: Callable[..., None]
) -> None:
    module = user_module(RECORDING_HANDLER)
    nami_config(f"{module}.handle")
    message = record(envelope(b'{"n": 1}', {"X-Custom": "yes"}), "m-1")
    message["attributes"]["ApproximateReceiveCount"] = "4"

    entry.handler(sqs_event(message), None)

    (webhook,) = calls(module)
    assert webhook.message_id == "m-1" and webhook.receive_count == 4
    assert webhook.headers["x-custom"] == "yes"


def test_mode_sqs_passes_the_event_and_context_unchanged(
    user_module: Callable[[str], str], nami_config: Callable[..., None]
) -> None:
    module = user_module(
        """
        SEEN = []

        def batch(event, context):
            SEEN.append((event, context))
            return {"batchItemFailures": [{"itemIdentifier": "custom"}]}
        """
    )
    nami_config(f"{module}.batch", mode="sqs")
    event = sqs_event(record("anything at all", "x"))
    context = object()

    result = entry.handler(event, context)

    assert result == {"batchItemFailures": [{"itemIdentifier": "custom"}]}
    ((seen_event, seen_context),) = sys.modules[module].SEEN
    assert seen_event is event and seen_context is context


def test_dotted_package_handler_path(
    user_module: Callable[[str], str],
    nami_config: Callable[..., None],
    tmp_path: Any,
) -> None:
    user_module("")  # puts tmp_path on sys.path
    package = tmp_path / "acme_hooks" / "billing"
    package.mkdir(parents=True)
    (tmp_path / "acme_hooks" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "consumer.py").write_text("SEEN = []\ndef run(webhook):\n    SEEN.append(webhook)\n")
    nami_config("acme_hooks.billing.consumer.run")
    try:
        entry.handler(sqs_event(record(envelope(b"{}"))), None)
        assert len(sys.modules["acme_hooks.billing.consumer"].SEEN) == 1
    finally:
        for name in ("acme_hooks", "acme_hooks.billing", "acme_hooks.billing.consumer"):
            sys.modules.pop(name, None)


def test_container_state_is_built_once(
    user_module: Callable[[str], str], nami_config: Callable[..., None]
) -> None:
    module = user_module("IMPORTS = [1]\ndef handle(webhook):\n    pass\n")
    nami_config(f"{module}.handle")
    entry.handler(sqs_event(), None)
    first = entry.current_consumer()
    entry.handler(sqs_event(record(envelope())), None)
    assert entry.current_consumer() is first


def test_missing_handler_is_a_clear_config_error(
    user_module: Callable[[str], str], nami_config: Callable[..., None]
) -> None:
    module = user_module("def other(webhook):\n    pass\n")
    nami_config(f"{module}.handle")
    with pytest.raises(ConfigError, match="has no function 'handle'"):
        entry.handler(sqs_event(), None)
    entry.reset()
    nami_config("no_such_module_here.handle")
    with pytest.raises(ConfigError, match="not found in the bundle"):
        entry.handler(sqs_event(), None)


def test_user_import_error_is_not_disguised(
    user_module: Callable[[str], str], nami_config: Callable[..., None]
) -> None:
    module = user_module("import not_installed_dependency\n")
    nami_config(f"{module}.handle")
    with pytest.raises(ModuleNotFoundError, match="not_installed_dependency"):
        entry.handler(sqs_event(), None)


def test_empty_batch() -> None:
    config = parse_config({"pipeline": "p", "stack": "acme-p", "handler": "m.f"})
    consumer = Consumer(config, function=print, emit=lambda line: None)
    assert consumer({"Records": []}) == {"batchItemFailures": []}
