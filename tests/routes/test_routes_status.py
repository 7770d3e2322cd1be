"""`nami status` on a deployed `routes:` pipeline (moto server): the router's row, then one row
per route (`stripe/crm`, as `nami dlq` takes it) with that route's queue and DLQ depths, the
age of its oldest webhook and whether its consumer is paused, at one ListStackResources for
the stack and one GetMetricData for every queue."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from nami_action.aws.session import Aws, AwsTarget
from nami_action.cli.status import status
from nami_action.compile import names
from nami_action.config.routes import logical_prefix
from nami_action.operate.status import project_status
from tests.routes.test_routes_emulator import BUCKET, send
from tests.stand_in import deploy_and_stand_in

pytestmark = pytest.mark.emulator


def queue_name(url: str) -> str:
    return url.rsplit("/", 1)[-1]


def put_age(aws: Aws, queue: str, seconds: float) -> None:
    """What SQS publishes for a queue (the emulator publishes no SQS metrics of its own)."""
    aws.client("cloudwatch").put_metric_data(
        Namespace="AWS/SQS",
        MetricData=[
            {
                "MetricName": "ApproximateAgeOfOldestMessage",
                "Dimensions": [{"Name": "QueueName", "Value": queue}],
                "Timestamp": datetime.now(UTC) - timedelta(minutes=1),
                "Value": seconds,
                "Unit": "Seconds",
            }
        ],
    )


def test_status_shows_each_route_as_a_row_of_its_own(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, routes_project: Callable[..., Path]
) -> None:
    path = routes_project("https://app.example.com")
    config, resources = deploy_and_stand_in(aws, monkeypatch, path, BUCKET)  # mappings paused
    crm = resources[logical_prefix("crm") + names.QUEUE]
    for i in range(3):
        send(aws, crm, "customer.created", f"evt_crm{i}")
    taken = aws.client("sqs").receive_message(QueueUrl=crm, VisibilityTimeout=300)
    assert len(taken["Messages"]) == 1  # in flight
    billing_dlq = resources[logical_prefix("billing") + names.DEAD_LETTER_QUEUE]
    for i in range(2):
        send(aws, billing_dlq, "invoice.paid", f"evt_bill{i}")  # as the billing route failed it
    put_age(aws, queue_name(crm), 420)
    # The `rest` route's consumer runs again (after the sends: moto polls on each send).
    lam = aws.client("lambda")
    rest = queue_name(resources[logical_prefix("rest") + names.QUEUE])
    for mapping in lam.list_event_source_mappings()["EventSourceMappings"]:
        if mapping["EventSourceArn"].endswith(f":{rest}"):
            lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=True)

    shown = CliRunner().invoke(status, [str(path), "--format", "json"])

    assert shown.exit_code == 0, shown.output
    rows = {row["pipeline"]: row for row in json.loads(shown.stdout)["pipelines"]}
    assert list(rows) == ["stripe", "stripe/billing", "stripe/crm", "stripe/audit", "stripe/rest"]
    figures = {
        name: (row["waiting"], row["in_flight"], row["dead_letters"], row["oldest_age_seconds"])
        for name, row in rows.items()
    }
    assert figures == {
        "stripe": (0, 0, 0, None),
        "stripe/billing": (0, 0, 2, None),
        "stripe/crm": (2, 1, 0, 420.0),
        "stripe/audit": (0, 0, 0, None),
        "stripe/rest": (0, 0, 0, None),
    }
    assert {name: row["paused"] for name, row in rows.items()} == {
        "stripe": True,
        "stripe/billing": True,
        "stripe/crm": True,
        "stripe/audit": True,
        "stripe/rest": False,
    }
    router, route = rows["stripe"], rows["stripe/crm"]
    assert route.keys() == router.keys()  # the same entry as a pipeline's
    assert route["stack"] == router["stack"] == config.pipelines["stripe"].stack_name
    assert route["stack_status"] == "CREATE_COMPLETE" and route["deployed"]
    assert route["endpoint"] is None and route["dashboard"] is None  # the router's, not theirs

    text = CliRunner().invoke(status, [str(path)]).output
    table = text.split("\n\n")[1].splitlines()[1:]  # after the project line and headings
    lines = {line.split()[0]: line.split() for line in table}
    # PIPELINE, STACK STATUS (", paused"), WAITING, IN FLIGHT, DLQ, OLDEST
    assert lines["stripe/crm"][:7] == [
        "stripe/crm",
        "CREATE_COMPLETE,",
        "paused",
        "2",
        "1",
        "0",
        "7m",
    ]
    assert lines["stripe/billing"][3:7] == ["0", "0", "2", "-"]
    assert lines["stripe/rest"][:6] == ["stripe/rest", "CREATE_COMPLETE", "0", "0", "0", "-"]

    # Still cheap: one resource list for the stack, one GetMetricData for the five queues.
    counted = Aws(AwsTarget(region=aws.region, endpoint_url=aws.target.endpoint_url))
    project_status(config, counted)
    assert dict(counted.calls) == {
        "cloudformation:DescribeStacks": 1,
        "cloudformation:ListStackResources": 1,
        "sqs:GetQueueAttributes": 10,
        "cloudwatch:GetMetricData": 1,
        "lambda:ListEventSourceMappings": 1,
    }


def test_the_routes_of_a_pipeline_gone_from_nami_yaml_are_read_from_its_stack(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, routes_project: Callable[..., Path]
) -> None:
    """Its stack and queues stay (with webhooks) until destroyed: each route is still a row,
    named from the stack's own queues, since nami.yaml no longer says which routes it had."""
    path = routes_project("https://app.example.com")
    _, resources = deploy_and_stand_in(aws, monkeypatch, path, BUCKET)
    send(aws, resources[logical_prefix("crm") + names.QUEUE], "customer.created", "evt_1")
    billing_dlq = resources[logical_prefix("billing") + names.DEAD_LETTER_QUEUE]
    for i in range(2):
        send(aws, billing_dlq, "invoice.paid", f"evt_bill{i}")
    # The pipeline renamed in nami.yaml: `other` is new (not deployed), `stripe` is gone.
    path.write_text(path.read_text().replace("  stripe:\n", "  other:\n"))

    shown = CliRunner().invoke(status, [str(path), "--format", "json"])

    assert shown.exit_code == 0, shown.output
    rows = {row["pipeline"]: row for row in json.loads(shown.stdout)["pipelines"]}
    assert list(rows) == [
        "other",
        "stripe",
        "stripe/audit",
        "stripe/billing",
        "stripe/crm",
        "stripe/rest",
    ]
    assert not rows["other"]["deployed"]
    gone = [rows[name] for name in rows if name.startswith("stripe")]
    assert all(not row["in_config"] and row["deployed"] for row in gone)
    assert {row["pipeline"]: (row["waiting"], row["dead_letters"]) for row in gone} == {
        "stripe": (0, 0),
        "stripe/audit": (0, 0),
        "stripe/billing": (0, 2),
        "stripe/crm": (1, 0),
        "stripe/rest": (0, 0),
    }
    text = CliRunner().invoke(status, [str(path)]).output
    assert "stripe/crm (not in nami.yaml)" in text


def test_a_route_dropped_from_nami_yaml_stays_a_row_until_deployed(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, routes_project: Callable[..., Path]
) -> None:
    path = routes_project("https://app.example.com")
    _, resources = deploy_and_stand_in(aws, monkeypatch, path, BUCKET)
    send(aws, resources[logical_prefix("rest") + names.QUEUE], "other.event", "evt_rest")
    written = path.read_text()
    path.write_text("".join(line for line in written.splitlines(True) if "rest:" not in line))

    shown = CliRunner().invoke(status, [str(path), "--format", "json"])

    assert shown.exit_code == 0, shown.output
    rows = {row["pipeline"]: row for row in json.loads(shown.stdout)["pipelines"]}
    assert list(rows) == ["stripe", "stripe/billing", "stripe/crm", "stripe/audit", "stripe/rest"]
    assert {name: row["in_config"] for name, row in rows.items()} == {
        "stripe": True,
        "stripe/billing": True,
        "stripe/crm": True,
        "stripe/audit": True,
        "stripe/rest": False,
    }
    assert rows["stripe/rest"]["waiting"] == 1
