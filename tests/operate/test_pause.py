"""nami pause / resume on the moto server: the consumer stops, the queue keeps every webhook;
status and plan say paused; a deploy leaves a paused pipeline paused."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.stub import Stubber
from click.testing import CliRunner

from nami_action.apply import DeployOptions, deploy
from nami_action.aws.session import Aws, AwsError
from nami_action.cli import cli
from nami_action.config import load_config
from nami_action.drift.detect import DriftOptions, detect_drift
from nami_action.operate.pause import paused_queues
from nami_action.operate.pipelines import locate
from nami_action.operate.status import project_status
from nami_action.plan.planner import PlanOptions, make_plan
from nami_action.render.markdown import deploy_markdown
from nami_action.render.text import deploy_text, plan_text

from .support import CONFIG, FAST, deploy_pipelines, depth, envelope, put, write_project


def mapping_state(aws: Aws, stack: str = "shop-github") -> str:
    resources = aws.client("cloudformation").list_stack_resources(StackName=stack)
    (uuid,) = [
        r["PhysicalResourceId"]
        for r in resources["StackResourceSummaries"]
        if r["LogicalResourceId"] == "ConsumerEventSource"
    ]
    return str(aws.client("lambda").get_event_source_mapping(UUID=uuid)["State"])


def nami(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def test_pause_keeps_webhooks_queued_and_resume_restarts(
    emulator: str, aws: Aws, config_path: Path
) -> None:
    deploy_pipelines(aws, config_path, ("github",))
    assert mapping_state(aws) == "Enabled"

    code, output = nami("pause", "github", str(config_path))
    assert code == 0, output
    assert "github: paused" in output and "queue.retention (4d)" in output
    assert mapping_state(aws) == "Disabled"
    # Paused, webhooks are stored and nothing takes them (moto polls an enabled mapping on
    # every send; here they all stay).
    queue = locate(aws, load_config(config_path).pipelines["github"]).queue_url
    put(aws, queue, [envelope(i) for i in range(3)])
    assert depth(aws, queue) == (3, 0)

    assert "was already paused" in nami("pause", "github", str(config_path))[1]
    # (Through the API: moto's server thread prints notes into the CLI's captured stdout.)
    rows = {row.pipeline: row for row in project_status(load_config(config_path), aws).pipelines}
    assert (rows["github"].paused, rows["billing"].paused) == (True, False)
    assert "CREATE_COMPLETE, paused" in nami("status", str(config_path))[1]

    code, output = nami("resume", "github", str(config_path))
    assert code == 0, output
    assert "github: resumed" in output
    assert mapping_state(aws) == "Enabled"
    assert "was not paused" in nami("resume", "github", str(config_path))[1]


def test_pause_of_a_pipeline_not_deployed_is_one_clear_error(
    emulator: str, config_path: Path
) -> None:
    code, output = nami("pause", "billing", str(config_path))
    assert code != 0
    assert "pipeline `billing` has no deployed consumer" in output
    code, output = nami("pause", "bililng", str(config_path))
    assert code != 0 and "did you mean `billing`" in output


def test_plan_shows_paused_and_deploy_keeps_it_paused(
    emulator: str, aws: Aws, config_path: Path
) -> None:
    deploy_pipelines(aws, config_path, ("github",))
    assert nami("pause", "github", str(config_path))[0] == 0
    # A change to the event source mapping itself: CloudFormation updates that resource.
    smaller_batches = "consumer: {code: consumer, batch_size: 5}"
    write_project(
        config_path.parent, CONFIG.replace("consumer: {code: consumer}", smaller_batches, 1)
    )
    config = load_config(config_path)

    planned = make_plan(config, aws, PlanOptions(("github",), poll_seconds=FAST))
    (github,) = planned.plan.pipelines
    assert (github.action, github.paused) == ("update", True)
    assert "[paused: stays paused after deploy]" in plan_text(planned.plan)

    run = make_plan(config, aws, PlanOptions(("github",), keep_change_sets=True, poll_seconds=FAST))
    result = deploy(aws, run, DeployOptions(poll_seconds=FAST), lambda event: None)

    (done,) = result.pipelines
    assert done.outcome == "updated", done
    assert mapping_state(aws) == "Disabled"
    assert any("the consumer stays paused" in reason for reason in done.reasons)
    assert "stays paused" in deploy_text(result)
    assert done.paused and "updated · ⏸️ kept paused" in deploy_markdown(result)


def test_a_role_that_may_not_list_mappings_plans_without_the_mark(aws: Aws) -> None:
    # moto answers every call unless IAM enforcement is on (tests/security): Stubber for the
    # denial. A plan role without lambda:ListEventSourceMappings must still plan.
    client = aws.client("lambda")
    with Stubber(client) as stub:
        stub.add_client_error(
            "list_event_source_mappings", "AccessDeniedException", http_status_code=403
        )
        assert paused_queues(aws, ["shop-github"]) == set()
        stub.add_client_error(
            "list_event_source_mappings", "InvalidParameterValueException", http_status_code=400
        )
        with pytest.raises(AwsError, match="listing the Lambda event source mappings"):
            paused_queues(aws, ["shop-github"])


# `nami deploy --drift`: plan with the live reads, deploy puts drifted values back.
REPAIR = PlanOptions(("github",), keep_change_sets=True, poll_seconds=FAST, drift=True)


def mapping_of(aws: Aws, stack: str = "shop-github") -> dict[str, object]:
    resources = aws.client("cloudformation").list_stack_resources(StackName=stack)
    (uuid,) = [
        r["PhysicalResourceId"]
        for r in resources["StackResourceSummaries"]
        if r["LogicalResourceId"] == "ConsumerEventSource"
    ]
    found: dict[str, object] = aws.client("lambda").get_event_source_mapping(UUID=uuid)
    return found


def test_paused_is_not_drift_and_stays_paused_through_restore_deploy_and_resume(
    emulator: str, aws: Aws, config_path: Path
) -> None:
    deploy_pipelines(aws, config_path, ("github",))
    assert nami("pause", "github", str(config_path))[0] == 0
    config = load_config(config_path)

    # Paused and otherwise untouched: no drift (Enabled is the pause switch, not config).
    report = detect_drift(config, aws, DriftOptions(("github",), cloudformation=False))
    assert report.drifted == [] and report.exit_code == 0, report.to_dict()
    unchanged = make_plan(config, aws, PlanOptions(("github",), poll_seconds=FAST, drift=True)).plan
    (github,) = unchanged.pipelines
    assert (github.action, github.paused, github.drifted) == ("none", True, False)

    # Real drift on the same mapping while paused: a deploy with nothing else to do repairs
    # the batch size and leaves the consumer paused.
    uuid = str(mapping_of(aws)["UUID"])
    aws.client("lambda").update_event_source_mapping(UUID=uuid, BatchSize=3)
    assert mapping_state(aws) == "Disabled"
    run = make_plan(config, aws, REPAIR)
    (github,) = run.plan.pipelines
    assert (github.action, github.paused, github.drifted) == ("none", True, True)
    result = deploy(aws, run, DeployOptions(poll_seconds=FAST), lambda event: None)
    (done,) = result.pipelines
    assert done.outcome == "restored", done
    assert mapping_of(aws)["BatchSize"] == 10
    assert mapping_state(aws) == "Disabled" and done.paused
    assert any("stays paused" in reason for reason in done.reasons), done.reasons

    # A deploy of an unchanged, undrifted, paused pipeline: still paused.
    run = make_plan(config, aws, REPAIR)
    (done,) = deploy(aws, run, DeployOptions(poll_seconds=FAST), lambda event: None).pipelines
    assert (done.outcome, done.paused, mapping_state(aws)) == ("unchanged", True, "Disabled")

    # Resumed, it is not drift either, and a deploy leaves it running.
    assert nami("resume", "github", str(config_path))[0] == 0
    assert detect_drift(config, aws, DriftOptions(("github",), cloudformation=False)).exit_code == 0
    run = make_plan(config, aws, REPAIR)
    (done,) = deploy(aws, run, DeployOptions(poll_seconds=FAST), lambda event: None).pipelines
    assert (done.outcome, done.paused, mapping_state(aws)) == ("unchanged", False, "Enabled")
