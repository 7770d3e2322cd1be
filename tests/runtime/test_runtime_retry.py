"""consumer.retry: the schedule (pure), and the runtime applying it to SQS on the moto server."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from nami_action.compile import CodeLocation, compile_config
from nami_action.config import load_config
from nami_action.runtime import entry
from nami_action.runtime.config import RuntimeConfig, parse_config
from nami_action.runtime.retry import MAX_DELAY, RetrySchedule, horizon, queue_url

from .runtime_builders import envelope

FAILING = """
    def handle(webhook):
        raise RuntimeError("downstream is down")
"""


def test_exponential_doubles_up_to_the_maximum() -> None:
    schedule = RetrySchedule("exponential", initial=10, maximum=60)
    assert [schedule.delay(n) for n in range(1, 7)] == [10, 20, 40, 60, 60, 60]


def test_fixed_waits_the_same_every_time() -> None:
    schedule = RetrySchedule("fixed", initial=45, maximum=3600)
    assert {schedule.delay(n) for n in range(1, 50)} == {45}


def test_a_delay_stays_within_sqs_twelve_hours_even_for_huge_counts() -> None:
    schedule = RetrySchedule("exponential", initial=3600, maximum=10**9)
    assert schedule.delay(1) == 3600
    # 12 h from the receive, less the longest batching window and invocation before the call.
    assert schedule.delay(10_000) == MAX_DELAY == 12 * 3600 - 300 - 900
    assert RetrySchedule("fixed", initial=10**6).delay(1) == MAX_DELAY


def test_horizon_is_the_waits_between_attempts() -> None:
    schedule = RetrySchedule("exponential", initial=60, maximum=3600)
    # 8 attempts: 7 waits of 1, 2, 4, 8, 16, 32, 60 minutes.
    assert horizon(schedule.delay, 8) == 60 * (1 + 2 + 4 + 8 + 16 + 32 + 60)
    assert horizon(schedule.delay, 1) == 0


def test_retry_settings_round_trip_and_bad_ones_are_refused() -> None:
    schedule = RetrySchedule("fixed", 30, 600)
    assert RetrySchedule.from_json(schedule.to_json()) == schedule
    with pytest.raises(ValueError, match="backoff"):
        RetrySchedule.from_json({"backoff": "linear", "initial": 1, "max": 2})
    with pytest.raises(ValueError, match="initial"):
        RetrySchedule.from_json({"backoff": "fixed", "initial": "10s", "max": 2})


@pytest.mark.parametrize(
    ("arn", "url"),
    [
        (
            "arn:aws:sqs:eu-west-1:123456789012:acme-github",
            "https://sqs.eu-west-1.amazonaws.com/123456789012/acme-github",
        ),
        (
            "arn:aws-cn:sqs:cn-north-1:123456789012:q.fifo",
            "https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q.fifo",
        ),
        ("arn:aws:sns:us-east-1:123456789012:topic", None),
        ("not an arn", None),
    ],
)
def test_queue_url_from_the_event_source_arn(arn: str, url: str | None) -> None:
    assert queue_url(arn) == url


@pytest.fixture
def source_queue(emulator: str, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """The pipeline's queue: hidden 60 s after a receive unless the schedule says otherwise."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator)
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="acme-github", Attributes={"VisibilityTimeout": "60"})[
        "QueueUrl"
    ]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return str(url), str(arn)


def lambda_event(queue: tuple[str, str]) -> dict[str, Any]:
    """Receive the queued message the way the event source mapping does; as Lambda's event."""
    url, arn = queue
    messages = boto3.client("sqs").receive_message(
        QueueUrl=url, AttributeNames=["All"], MaxNumberOfMessages=1
    )["Messages"]
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m["Attributes"],
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": "us-east-1",
            }
            for m in messages
        ]
    }


def visible_count(url: str) -> int:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def outcome_lines(out: str) -> list[dict[str, Any]]:
    return [line for line in map(json.loads, out.splitlines()) if "outcome" in line]


Attempt = tuple[dict[str, Any], Any, dict[str, Any]]  # Lambda's event, result, log line


@pytest.fixture
def failing_consumer(
    source_queue: tuple[str, str],
    user_module: Callable[[str], str],
    nami_config: Callable[..., None],
    capsys: pytest.CaptureFixture[str],
) -> Callable[..., Attempt]:
    """Queue one webhook (once), deliver it to a handler that always fails."""
    module = user_module(FAILING)
    boto3.client("sqs").send_message(QueueUrl=source_queue[0], MessageBody=json.dumps(envelope()))

    def attempt(retry: dict[str, Any] | None = None, queue_arn: str | None = None) -> Attempt:
        nami_config(f"{module}.handle", **({"retry": retry} if retry else {}))
        entry.reset()
        event = lambda_event(source_queue)
        if queue_arn:
            event["Records"][0]["eventSourceARN"] = queue_arn
        result = entry.handler(event, None)
        (line,) = outcome_lines(capsys.readouterr().out)
        return event, result, line

    return attempt


def failed_ids(event: dict[str, Any]) -> dict[str, list[dict[str, str]]]:
    return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]]}


def test_a_failed_webhook_comes_back_after_its_scheduled_delay(
    source_queue: tuple[str, str], failing_consumer: Callable[..., Attempt]
) -> None:
    url, _ = source_queue
    schedule = {"backoff": "exponential", "initial": 2, "max": 60}
    event, result, line = failing_consumer(schedule)
    postponed_at = time.monotonic()

    assert result == failed_ids(event)
    assert (line["outcome"], line["retryIn"]) == ("failed", 2)
    assert visible_count(url) == 0  # hidden: the delay runs
    while visible_count(url) == 0:
        assert time.monotonic() - postponed_at < 15, "not visible again (queue timeout is 60 s)"
        time.sleep(0.2)
    assert time.monotonic() - postponed_at >= 1.5

    # Second attempt: the receive count is 2, so the wait doubles.
    again, _, line = failing_consumer(schedule)
    assert again["Records"][0]["attributes"]["ApproximateReceiveCount"] == "2"
    assert line["retryIn"] == 4


def test_a_refused_visibility_change_still_reports_the_record_failed(
    source_queue: tuple[str, str], failing_consumer: Callable[..., Attempt]
) -> None:
    # A queue that is gone: SQS refuses the change, and the webhook must not be lost for it.
    gone = "arn:aws:sqs:us-east-1:123456789012:gone"
    event, result, line = failing_consumer({"backoff": "fixed", "initial": 5, "max": 5}, gone)

    assert result == failed_ids(event)
    assert line["outcome"] == "failed"
    assert "retryIn" not in line
    assert "gone" in line["retryError"] or "NonExistentQueue" in line["retryError"]
    assert visible_count(source_queue[0]) == 0  # hidden for the queue's own 60 s, still stored


def test_without_a_schedule_nothing_changes_the_visibility(
    source_queue: tuple[str, str], failing_consumer: Callable[..., Attempt]
) -> None:
    event, result, line = failing_consumer()
    assert result == failed_ids(event)
    assert "retryIn" not in line and "retryError" not in line
    time.sleep(2.5)
    assert visible_count(source_queue[0]) == 0


EVERYTHING = Path(__file__).parents[1] / "compile" / "everything" / "nami.yaml"
CODE = CodeLocation("artifacts-bucket", "nami/artifacts/" + "0" * 64 + ".zip")


def test_the_compiled_schedule_reaches_the_runtime_and_its_queue_only() -> None:
    config = load_config(EVERYTHING)
    templates = compile_config(config, dict.fromkeys(config.pipelines, CODE))
    with_retry = json.loads(templates[config.pipelines["slack"].stack_name])
    without = json.loads(templates[config.pipelines["hmac"].stack_name])

    def runtime(template: dict[str, Any]) -> RuntimeConfig:
        env = template["Resources"]["Consumer"]["Properties"]["Environment"]["Variables"]
        return parse_config(json.loads(env["NAMI_CONFIG"]))

    assert runtime(with_retry).retry == RetrySchedule("exponential", 30, 7200)
    assert runtime(without).retry is None
    policies = with_retry["Resources"]["ConsumerRole"]["Properties"]["Policies"]
    changing = [
        s
        for policy in policies
        for s in policy["PolicyDocument"]["Statement"]
        if "sqs:ChangeMessageVisibility" in s["Action"]
    ]
    assert [s["Resource"] for s in changing] == [[{"Fn::GetAtt": ["Queue", "Arn"]}]]
