"""nami status against a project deployed to the moto server."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from nami_action.apply import endpoint_url
from nami_action.aws.session import Aws, AwsTarget
from nami_action.cli.status import status
from nami_action.config import load_config
from nami_action.operate.pipelines import locate
from nami_action.operate.status import format_age, project_status

from .support import CONFIG, REGION, deploy_pipelines, pause_consumers, put, write_project


def test_status_figures_match_what_was_sent(emulator: str, aws: Aws, config_path: Path) -> None:
    deploy_pipelines(aws, config_path, ("github", "orders"))
    pause_consumers(aws)
    config = load_config(config_path)
    github = locate(aws, config.pipelines["github"])
    put(aws, github.queue_url, [f"w{i}" for i in range(7)])
    put(aws, github.dead_letter_url, [f"d{i}" for i in range(3)])
    taken = aws.client("sqs").receive_message(
        QueueUrl=github.queue_url, MaxNumberOfMessages=2, VisibilityTimeout=300
    )
    assert len(taken["Messages"]) == 2
    orders = locate(aws, config.pipelines["orders"])
    put(aws, orders.dead_letter_url, ["x"])

    result = CliRunner().invoke(status, [str(config_path), "--format", "json"])

    assert result.exit_code == 0, result.output
    rows = {row["pipeline"]: row for row in json.loads(result.stdout)["pipelines"]}
    assert list(rows) == ["github", "orders", "billing"]  # one entry each: no routes
    assert set(rows["github"]) == {
        *("pipeline", "stack", "stack_status", "in_config", "deployed", "endpoint"),
        *("waiting", "in_flight", "delayed", "dead_letters", "oldest_age_seconds"),
        *("last_deploy", "dashboard", "paused"),
    }
    assert {k: rows["github"][k] for k in ("waiting", "in_flight", "dead_letters")} == {
        "waiting": 5,
        "in_flight": 2,
        "dead_letters": 3,
    }
    assert (rows["orders"]["waiting"], rows["orders"]["dead_letters"]) == (0, 1)
    assert rows["github"]["stack_status"] == "CREATE_COMPLETE" and rows["github"]["deployed"]
    assert rows["github"]["endpoint"] == endpoint_url(aws, "shop-github", "/github")
    assert rows["github"]["oldest_age_seconds"] is None  # the emulator records no metrics
    assert rows["github"]["last_deploy"].endswith("Z")
    assert rows["billing"]["stack_status"] == "not deployed" and not rows["billing"]["deployed"]
    assert rows["billing"]["waiting"] is None

    text = CliRunner().invoke(status, [str(config_path)]).output
    table = text.split("\n\n")[1].splitlines()[1:]  # after the project line and headings
    assert [line.split()[0] for line in table] == ["github", "orders", "billing"]
    billing = next(line for line in text.splitlines() if line.startswith("billing"))
    assert "not deployed" in billing
    assert "OLDEST" in text and "CREATE_COMPLETE" in text

    # Cheap: one listing, then per deployed pipeline one resource list and two depth reads,
    # one GetMetricData for every queue, one listing of the event source mappings.
    counted = Aws(AwsTarget(region=REGION, endpoint_url=emulator))
    project_status(config, counted)
    assert dict(counted.calls) == {
        "cloudformation:DescribeStacks": 1,
        "cloudformation:ListStackResources": 2,
        "sqs:GetQueueAttributes": 4,
        "cloudwatch:GetMetricData": 1,
        "lambda:ListEventSourceMappings": 1,
    }

    # A pipeline removed from nami.yaml still has a stack (and webhooks): it stays listed.
    write_project(config_path.parent, CONFIG.split("  orders:")[0])
    rows = {
        row["pipeline"]: row
        for row in project_status(load_config(config_path), aws).as_dict()["pipelines"]
    }
    assert rows["orders"]["in_config"] is False and rows["orders"]["dead_letters"] == 1


def test_age_format() -> None:
    assert [format_age(s) for s in (None, 0, 59, 60, 3600 * 5, 86400 * 3)] == [
        "-",
        "0s",
        "59s",
        "1m",
        "5h",
        "3d",
    ]
