"""Dedupe markers in DynamoDB and secret references, against the moto server."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from nami_action.runtime import entry, secrets
from nami_action.runtime.config import parse_config
from nami_action.runtime.consumer import Consumer
from nami_action.runtime.dedupe import DynamoMarkers

from .runtime_builders import envelope, record, sqs_event

TABLE = "acme-github-dedupe"
NOW = 1_700_000_000

HANDLER = """
    CALLS = []

    def handle(webhook):
        CALLS.append(webhook.json())
        if webhook.json().get("fail"):
            raise ValueError("not yet")
"""


@pytest.fixture
def table(emulator: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator)
    client = boto3.client("dynamodb", endpoint_url=emulator)
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return client


def stripe_event(event_id: str, **extra: Any) -> dict[str, Any]:
    body = json.dumps({"id": event_id, "type": "invoice.paid", **extra}).encode()
    return record(envelope(body))  # a new request id and message id per delivery


def markers(client: Any) -> dict[str, dict[str, Any]]:
    items = client.scan(TableName=TABLE)["Items"]
    return {item["id"]["S"]: item for item in items}


def test_duplicate_delivery_calls_the_handler_once(
    table: Any,
    user_module: Callable[[str], str],
    nami_config: Callable[..., None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    module = user_module(HANDLER)
    dedupe = {"header": None, "json_path": "$.id", "window": 3600}
    nami_config(f"{module}.handle", dedupe_table=TABLE, dedupe=dedupe)

    # Stripe retried evt_1: same event id, different request and SQS message.
    first = entry.handler(sqs_event(stripe_event("evt_1"), stripe_event("evt_2")), None)
    again = entry.handler(sqs_event(stripe_event("evt_1")), None)

    assert first == again == {"batchItemFailures": []}
    assert [call["id"] for call in sys.modules[module].CALLS] == ["evt_1", "evt_2"]
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    outcomes = [line for line in lines if "outcome" in line]
    assert [(o["eventId"], o["outcome"]) for o in outcomes] == [
        ("evt_1", "handled"),
        ("evt_2", "handled"),
        ("evt_1", "duplicate"),
    ]
    stored = markers(table)["github#evt_1"]
    assert stored["status"]["S"] == "done" and "leaseUntil" not in stored
    assert abs(int(stored["expiresAt"]["N"]) - (time.time() + 3600)) < 60


def test_failed_call_removes_the_marker_so_the_retry_runs(
    table: Any, user_module: Callable[[str], str], nami_config: Callable[..., None]
) -> None:
    module = user_module(HANDLER)
    nami_config(f"{module}.handle", dedupe_table=TABLE, dedupe={"json_path": "$.id"})
    failing = stripe_event("evt_9", fail=True)

    result = entry.handler(sqs_event(failing), None)
    assert result == {"batchItemFailures": [{"itemIdentifier": failing["messageId"]}]}
    assert markers(table) == {}

    # SQS redelivers the same message; this time the handler succeeds.
    sys.modules[module].CALLS.clear()
    retry = stripe_event("evt_9")
    assert entry.handler(sqs_event(retry), None) == {"batchItemFailures": []}
    assert sys.modules[module].CALLS == [{"id": "evt_9", "type": "invoice.paid"}]
    assert markers(table)["github#evt_9"]["status"]["S"] == "done"


def test_dedupe_by_header_and_fallback_to_request_id(
    table: Any, user_module: Callable[[str], str], nami_config: Callable[..., None]
) -> None:
    module = user_module("CALLS = []\ndef handle(webhook):\n    CALLS.append(webhook.id)\n")
    nami_config(f"{module}.handle", dedupe_table=TABLE, dedupe={"header": "X-GitHub-Delivery"})
    delivery = {"x-github-delivery": "d-1"}
    no_header = envelope(b"{}", request_id="req-7")
    event = sqs_event(
        record(envelope(b"{}", delivery)),
        record(envelope(b"{}", delivery)),
        record(no_header),
        record(no_header),  # the same request queued twice
    )

    entry.handler(event, None)

    assert len(sys.modules[module].CALLS) == 2
    assert set(markers(table)) == {"github#d-1", "github#req-7"}


def consumer(function: Callable[..., Any], clock: Callable[[], float]) -> Consumer:
    config = parse_config(
        {
            "pipeline": "github",
            "stack": "acme-github",
            "handler": "m.f",
            "dedupe": {"json_path": "$.id", "window": 60},
        },
        TABLE,
    )
    return Consumer(config, function, markers=DynamoMarkers(TABLE), clock=clock, emit=print)


class Context:
    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def failed_ids(result: dict[str, Any]) -> list[str]:
    return [item["itemIdentifier"] for item in result["batchItemFailures"]]


def test_a_claim_left_processing_is_retried_until_its_lease_ends(
    table: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[int] = []
    now = [float(NOW)]
    run = consumer(lambda webhook: calls.append(1), lambda: now[0])
    message = stripe_event("evt_timeout")

    # A run claims the marker and is killed before finishing (simulated: claim only).
    lost = DynamoMarkers(TABLE).claim("github#evt_timeout", NOW, NOW + 60, NOW + 30).owner
    assert lost is not None

    # While the first run's lease (its invocation deadline) holds, a copy is retried later:
    # the first run may never finish, so dropping it as a duplicate could lose it.
    assert failed_ids(run(sqs_event(message), Context(30_000))) == [message["messageId"]]
    assert calls == []
    retried = json.loads(capsys.readouterr().out.splitlines()[0])
    assert retried["outcome"] == "failed" and "has not finished (processing)" in retried["reason"]
    # After it, the redelivered message takes the marker over and runs.
    now[0] = NOW + 31
    assert run(sqs_event(message), Context(30_000)) == {"batchItemFailures": []}
    assert calls == [1]
    # And the dead run can no longer delete the marker it lost.
    DynamoMarkers(TABLE).release("github#evt_timeout", lost)
    assert markers(table)["github#evt_timeout"]["status"]["S"] == "done"
    # Now, and only now, a copy is a duplicate.
    assert run(sqs_event(stripe_event("evt_timeout")), None) == {"batchItemFailures": []}
    assert calls == [1]


def test_a_released_claim_lets_the_retry_run(table: Any) -> None:
    calls: list[int] = []
    run = consumer(lambda webhook: calls.append(1), lambda: float(NOW))
    message = stripe_event("evt_2")
    owner = DynamoMarkers(TABLE).claim("github#evt_2", NOW, NOW + 60, NOW + 300).owner
    assert owner is not None and failed_ids(run(sqs_event(message), None)) == [message["messageId"]]
    DynamoMarkers(TABLE).release("github#evt_2", owner)  # the first copy failed after all
    assert run(sqs_event(message), None) == {"batchItemFailures": []}
    assert calls == [1]


def test_expired_marker_not_yet_swept_by_ttl_is_ignored(table: Any) -> None:
    calls: list[int] = []
    now = [float(NOW)]
    run = consumer(lambda webhook: calls.append(1), lambda: now[0])
    run(sqs_event(stripe_event("evt_old")), None)
    run(sqs_event(stripe_event("evt_old")), None)
    assert calls == [1]
    now[0] = NOW + 61  # past the 60 s window; DynamoDB TTL may not have deleted it yet
    run(sqs_event(stripe_event("evt_old")), None)
    assert calls == [1, 1]


def test_dedupe_store_unavailable_fails_the_record_for_retry(
    emulator: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator)  # no table created
    calls: list[int] = []
    message = stripe_event("evt_x")
    result = consumer(lambda webhook: calls.append(1), lambda: NOW)(sqs_event(message), None)
    assert result == {"batchItemFailures": [{"itemIdentifier": message["messageId"]}]}
    assert calls == []
    assert (
        "ResourceNotFoundException" in json.loads(capsys.readouterr().out.splitlines()[0])["error"]
    )


# --- secrets ------------------------------------------------------------------------------


def test_secrets_from_ssm_and_secrets_manager_are_in_env_before_import(
    emulator: str,
    monkeypatch: pytest.MonkeyPatch,
    user_module: Callable[[str], str],
    nami_config: Callable[..., None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator)
    boto3.client("ssm", endpoint_url=emulator).put_parameter(
        Name="/acme/slack-url", Value="https://hooks.example/T1", Type="SecureString"
    )
    boto3.client("secretsmanager", endpoint_url=emulator).create_secret(
        Name="acme/billing-api-key", SecretString="sk_live_abc"
    )
    for name in ("SLACK_URL", "BILLING_KEY"):
        monkeypatch.delenv(name, raising=False)
    module = user_module(
        """
        import os

        AT_IMPORT = (os.environ["SLACK_URL"], os.environ["BILLING_KEY"])

        def handle(webhook):
            pass
        """
    )
    nami_config(
        f"{module}.handle",
        secrets={
            "SLACK_URL": "ssm:/acme/slack-url",
            "BILLING_KEY": "secretsmanager:acme/billing-api-key",
        },
    )

    entry.handler(sqs_event(record(envelope())), None)

    assert sys.modules[module].AT_IMPORT == ("https://hooks.example/T1", "sk_live_abc")
    assert os.environ["BILLING_KEY"] == "sk_live_abc"
    assert "sk_live_abc" not in capsys.readouterr().out


def test_secrets_are_cached_per_container(emulator: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator)
    ssm = boto3.client("ssm", endpoint_url=emulator)
    ssm.put_parameter(Name="/p", Value="one", Type="SecureString")
    assert secrets.resolve("ssm:/p") == "one"
    ssm.put_parameter(Name="/p", Value="two", Type="SecureString", Overwrite=True)
    assert secrets.resolve("ssm:/p") == "one"
    secrets.clear_cache()
    assert secrets.resolve("ssm:/p") == "two"


def test_missing_secret_fails_cold_start_without_leaking(
    emulator: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator)
    with pytest.raises(
        secrets.SecretError, match="cannot read SSM parameter /nope: ParameterNotFound"
    ):
        secrets.resolve("ssm:/nope")
    with pytest.raises(secrets.SecretError, match="cannot read secret gone: ResourceNotFound"):
        secrets.resolve("secretsmanager:gone")
    with pytest.raises(secrets.SecretError, match="unknown secret reference"):
        secrets.resolve("vault:/x")
