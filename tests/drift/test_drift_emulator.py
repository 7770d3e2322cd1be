"""`nami drift` and the deploy that restores, against the moto server: a pipeline deployed by
nami, then changed behind CloudFormation's back with boto3."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from nami_action.aws.session import Aws
from nami_action.cli import cli
from nami_action.config import load_config
from tests.operate.support import FAST, deploy_pipelines, write_project


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def physical(aws: Aws, stack: str) -> dict[str, str]:
    summaries = aws.client("cloudformation").list_stack_resources(StackName=stack)
    return {
        s["LogicalResourceId"]: s["PhysicalResourceId"] for s in summaries["StackResourceSummaries"]
    }


def deployed_github(aws: Aws, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    config = write_project(tmp_path)
    deploy_pipelines(aws, config, ("github",))
    return config, physical(aws, load_config(config).pipelines["github"].stack_name)


def drift_behind_cloudformation(aws: Aws, resources: dict[str, str]) -> None:
    """What an engineer does in the console during an incident."""
    aws.client("lambda").update_event_source_mapping(
        UUID=resources["ConsumerEventSource"], ScalingConfig={"MaximumConcurrency": 50}
    )
    aws.client("sqs").set_queue_attributes(
        QueueUrl=resources["Queue"], Attributes={"MessageRetentionPeriod": "86400"}
    )


def findings(result: Result) -> list[dict[str, Any]]:
    report = json.loads(result.output)
    return [f for p in report["pipelines"] for f in p["findings"]]


def test_a_clean_pipeline_exits_0(aws: Aws, tmp_path: Path) -> None:
    config, _ = deployed_github(aws, tmp_path)
    result = run("drift", str(config), "--poll-seconds", str(FAST))
    assert result.exit_code == 0, result.output
    assert "No drift in shop (us-east-1): 1 pipelines checked" in result.output
    # moto has no DetectStackDrift: said once, and the direct reads still ran.
    assert result.output.count("CloudFormation drift detection unavailable") == 1
    assert "orders: not deployed" in result.output


def test_changed_concurrency_and_retention_are_named_and_exit_2(aws: Aws, tmp_path: Path) -> None:
    config, resources = deployed_github(aws, tmp_path)
    drift_behind_cloudformation(aws, resources)
    result = run("drift", str(config), "--format", "json", "--no-cloudformation")
    assert result.exit_code == 2, result.output
    found = {(f["logical_id"], f["property"]): (f["declared"], f["live"]) for f in findings(result)}
    assert found == {
        ("ConsumerEventSource", "ScalingConfig.MaximumConcurrency"): ("10", "50"),
        ("Queue", "MessageRetentionPeriod"): ("345600", "86400"),
    }
    text = run("drift", str(config), "--no-cloudformation")
    assert text.exit_code == 2
    assert "ScalingConfig.MaximumConcurrency  10 -> 50" in text.output
    assert "MessageRetentionPeriod" in text.output and "345600 -> 86400" in text.output


def test_a_deleted_queue_is_reported(aws: Aws, tmp_path: Path) -> None:
    config, resources = deployed_github(aws, tmp_path)
    aws.client("sqs").delete_queue(QueueUrl=resources["DeadLetterQueue"])
    result = run("drift", str(config), "--format", "json", "--no-cloudformation")
    assert result.exit_code == 2, result.output
    deleted = [f for f in findings(result) if f["kind"] == "deleted"]
    assert [f["logical_id"] for f in deleted] == ["DeadLetterQueue"]


def test_a_secret_looking_environment_value_is_never_printed(aws: Aws, tmp_path: Path) -> None:
    config, resources = deployed_github(aws, tmp_path)
    lam = aws.client("lambda")
    current = lam.get_function_configuration(FunctionName=resources["Consumer"])
    variables = {**current["Environment"]["Variables"], "API_TOKEN": "hunter2-very-secret"}
    variables["LOG_LEVEL"] = "debug"
    lam.update_function_configuration(
        FunctionName=resources["Consumer"], Environment={"Variables": variables}
    )
    result = run("drift", str(config), "--no-cloudformation")
    assert result.exit_code == 2, result.output
    assert "hunter2" not in result.output
    assert "Environment.Variables.API_TOKEN  (unset) -> (changed)" in result.output
    assert "Environment.Variables.LOG_LEVEL  (unset) -> debug" in result.output


def test_plan_marks_the_drifted_pipeline_and_deploy_puts_it_back(aws: Aws, tmp_path: Path) -> None:
    config, resources = deployed_github(aws, tmp_path)
    drift_behind_cloudformation(aws, resources)
    fast = ("--poll-seconds", str(FAST), "--pipelines", "github")

    plan = run("plan", str(config), *fast, "--format", "json")
    assert plan.exit_code == 0, plan.output
    (github,) = json.loads(plan.output)["pipelines"]
    assert github["action"] == "none"
    (warning,) = [w for w in github["warnings"] if w["kind"] == "drifted"]
    assert "ConsumerEventSource ScalingConfig.MaximumConcurrency 10 -> 50" in warning["message"]
    assert "Queue MessageRetentionPeriod 345600 -> 86400" in warning["message"]
    text = run("plan", str(config), *fast).output
    assert "warning: shop-github drifted from its template (deploy puts the declared" in text
    assert "drifted" not in run("plan", str(config), *fast, "--no-drift").output

    deployed = run("deploy", str(config), *fast, "--format", "json")
    assert deployed.exit_code == 0, deployed.output
    (result,) = json.loads(deployed.stdout)["pipelines"]
    assert result["outcome"] == "restored"
    assert result["reasons"] == [
        "restored ConsumerEventSource ScalingConfig.MaximumConcurrency to its declared value",
        "restored Queue MessageRetentionPeriod to its declared value",
    ]
    mapping = aws.client("lambda").get_event_source_mapping(UUID=resources["ConsumerEventSource"])
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 10}
    assert run("drift", str(config), "--no-cloudformation").exit_code == 0
    again = run("deploy", str(config), *fast, "--format", "json")
    assert json.loads(again.stdout)["pipelines"][0]["outcome"] == "unchanged"


def test_deploy_without_drift_leaves_the_live_change(aws: Aws, tmp_path: Path) -> None:
    config, resources = deployed_github(aws, tmp_path)
    drift_behind_cloudformation(aws, resources)
    deployed = run(
        "deploy",
        str(config),
        "--poll-seconds",
        str(FAST),
        "--no-drift",
        "--pipelines",
        "github",
        "--format",
        "json",
    )
    assert json.loads(deployed.stdout)["pipelines"][0]["outcome"] == "unchanged"
    assert run("drift", str(config), "--no-cloudformation").exit_code == 2


def test_a_deleted_resource_fails_the_deploy_and_says_how(aws: Aws, tmp_path: Path) -> None:
    config, resources = deployed_github(aws, tmp_path)
    aws.client("sqs").delete_queue(QueueUrl=resources["DeadLetterQueue"])
    deployed = run(
        "deploy",
        str(config),
        "--poll-seconds",
        str(FAST),
        "--pipelines",
        "github",
        "--format",
        "json",
    )
    assert deployed.exit_code == 1, deployed.output
    (result,) = json.loads(deployed.stdout)["pipelines"]
    assert result["outcome"] == "failed"
    assert any(
        "DeadLetterQueue was deleted" in r and "nami destroy github" in r for r in result["reasons"]
    )


def test_an_update_restores_the_drift_its_change_set_leaves(aws: Aws, tmp_path: Path) -> None:
    """CloudFormation applies only what the template changes: the new concurrency lands, the
    queue's drifted retention stays until the restore step puts it back."""
    config, resources = deployed_github(aws, tmp_path)
    drift_behind_cloudformation(aws, resources)
    config.write_text(
        config.read_text().replace(
            "    consumer: {code: consumer}\n  orders:",
            "    consumer: {code: consumer, max_concurrency: 7}\n  orders:",
        )
    )
    deployed = run(
        "deploy",
        str(config),
        "--poll-seconds",
        str(FAST),
        "--pipelines",
        "github",
        "--format",
        "json",
    )
    assert deployed.exit_code == 0, deployed.output
    (result,) = json.loads(deployed.stdout)["pipelines"]
    assert (result["action"], result["outcome"]) == ("update", "updated")
    assert result["reasons"] == ["restored Queue MessageRetentionPeriod to its declared value"]
    mapping = aws.client("lambda").get_event_source_mapping(UUID=resources["ConsumerEventSource"])
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 7}
    assert run("drift", str(config), "--no-cloudformation").exit_code == 0
