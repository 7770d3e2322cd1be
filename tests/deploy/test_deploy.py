"""Plan and deploy against the moto server: what exists afterwards is read back through each
service's own API, and change-set calls are counted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from nami_action.apply import DeployOptions, deploy
from nami_action.aws import stacks as cfn
from nami_action.aws.session import Aws, AwsTarget
from nami_action.cli import cli
from nami_action.config import load_config
from nami_action.errors import NamiError
from nami_action.plan.decide import decide
from nami_action.plan.model import DeployResult
from nami_action.plan.planner import PlanOptions, PlanRun, make_plan
from nami_action.render.markdown import plan_markdown

from .support import BUCKET, REGION, Project

FAST = 0.05


def fresh_aws(endpoint: str) -> Aws:
    """A new session per run, so its call counter holds only that run's calls."""
    return Aws(AwsTarget(region=REGION, endpoint_url=endpoint))


def plan_run(
    project: Project, aws: Aws, *, keep: bool = False, only: tuple[str, ...] = ()
) -> PlanRun:
    options = PlanOptions(only, keep_change_sets=keep, poll_seconds=FAST)
    return make_plan(load_config(project.config), aws, options)


def deploy_project(project: Project, endpoint: str, **options: bool) -> tuple[DeployResult, Aws]:
    aws = fresh_aws(endpoint)
    run = plan_run(project, aws, keep=True)
    result = deploy(aws, run, DeployOptions(poll_seconds=FAST, **options), lambda event: None)
    return result, aws


def outcomes(result: DeployResult) -> dict[str, str]:
    return {p.pipeline: p.outcome for p in result.pipelines}


def test_first_deploy_creates_everything(project: Project, emulator: str, aws: Aws) -> None:
    result, _ = deploy_project(project, emulator)
    assert outcomes(result) == {"github": "created", "stripe": "created", "orders": "created"}
    assert all(p.endpoint and "/live/" in p.endpoint for p in result.pipelines)

    sqs, lam = aws.client("sqs"), aws.client("lambda")
    queue_url = sqs.get_queue_url(QueueName="shop-stripe")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["maxReceiveCount"] == 5
    assert redrive["deadLetterTargetArn"].endswith(":shop-stripe-dlq")
    assert attributes["VisibilityTimeout"] == "180"  # 6x the 30s consumer timeout

    functions = {f["FunctionName"]: f for f in lam.list_functions()["Functions"]}
    stripe = [f for f in functions.values() if "stripe" in f["FunctionName"]]
    assert len(stripe) == 1 and stripe[0]["Handler"] == "nami_runtime.entry.handler"
    mappings = lam.list_event_source_mappings(FunctionName=stripe[0]["FunctionName"])
    mapping = mappings["EventSourceMappings"][0]
    assert mapping["EventSourceArn"] == attributes["QueueArn"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 20}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]

    leftovers = [s for s in cfn.list_stacks(aws).values() if s.status == "REVIEW_IN_PROGRESS"]
    assert leftovers == []


def test_plan_deletes_its_change_sets_and_never_a_stack(project: Project, emulator: str) -> None:
    """The plan role has no DeleteStack: the empty REVIEW_IN_PROGRESS stacks its CREATE change
    sets leave stay (no resources, no change set), a second plan works beside them, and the
    next deploy removes them."""
    aws = fresh_aws(emulator)
    run = plan_run(project, aws)
    assert run.plan.counts() == {"create": 3, "update": 0, "delete": 0, "none": 0}
    assert all(p.changes for p in run.plan.pipelines)
    assert aws.calls["cloudformation:CreateChangeSet"] == 3
    assert aws.calls["cloudformation:DeleteChangeSet"] == 3
    assert aws.calls["cloudformation:DeleteStack"] == 0
    left = cfn.list_stacks(aws)
    assert {name: stack.status for name, stack in left.items()} == {
        "shop-github": "REVIEW_IN_PROGRESS",
        "shop-stripe": "REVIEW_IN_PROGRESS",
        "shop-orders": "REVIEW_IN_PROGRESS",
    }
    summaries = aws.client("cloudformation").list_change_sets(StackName="shop-github")
    assert summaries["Summaries"] == []

    again = fresh_aws(emulator)
    second = plan_run(project, again).plan
    assert again.calls["cloudformation:DeleteStack"] == 0
    # The same plan reads the same (a pull request's sticky comment is not rewritten).
    assert plan_markdown(second) == plan_markdown(run.plan)

    result, _ = deploy_project(project, emulator)
    assert set(outcomes(result).values()) == {"created"}
    assert {s.status for s in cfn.list_stacks(aws).values()} == {"CREATE_COMPLETE"}


def test_second_deploy_makes_no_change_set(project: Project, emulator: str) -> None:
    deploy_project(project, emulator)
    result, aws = deploy_project(project, emulator)
    assert set(outcomes(result).values()) == {"unchanged"}
    assert aws.calls["cloudformation:CreateChangeSet"] == 0
    assert aws.calls["cloudformation:ExecuteChangeSet"] == 0


def test_changing_one_pipeline_changes_only_its_stack(
    project: Project, emulator: str, aws: Aws
) -> None:
    deploy_project(project, emulator)
    project.pipelines["stripe"] = 40
    project.write()
    plan = plan_run(project, fresh_aws(emulator)).plan
    assert [(p.pipeline, p.action) for p in plan.changed] == [("stripe", "update")]
    stripe = plan.changed[0]
    assert [(c.action, c.logical_id) for c in stripe.changes] == [("Modify", "ConsumerEventSource")]
    assert '-          "MaximumConcurrency": 20\n+          "MaximumConcurrency": 40' in stripe.diff

    result, counted = deploy_project(project, emulator)
    assert outcomes(result) == {"github": "unchanged", "stripe": "updated", "orders": "unchanged"}
    assert counted.calls["cloudformation:CreateChangeSet"] == 1
    lam = aws.client("lambda")
    name = cfn.stack_resources(aws, "shop-stripe")["Consumer"]  # type: ignore[index]
    mapping = lam.list_event_source_mappings(FunctionName=name)["EventSourceMappings"][0]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 40}


def test_removed_pipeline_is_deleted_only_with_prune(project: Project, emulator: str) -> None:
    deploy_project(project, emulator)
    del project.pipelines["orders"]
    project.write()
    plan = plan_run(project, fresh_aws(emulator)).plan
    deletion = [p for p in plan.pipelines if p.action == "delete"]
    assert [p.pipeline for p in deletion] == ["orders"]
    assert [w.kind for w in deletion[0].warnings] == ["pipeline-deleted"]

    result, aws = deploy_project(project, emulator)
    assert outcomes(result)["orders"] == "skipped"
    assert "shop-orders" in cfn.list_stacks(aws)

    result, aws = deploy_project(project, emulator, prune=True)
    assert outcomes(result)["orders"] == "deleted"
    assert "shop-orders" not in cfn.list_stacks(aws)
    # The queues outlive the stack on AWS (DeletionPolicy RetainExceptOnCreate: kept unless
    # the create that made them rolls back). The emulator only honours "Retain" and deletes
    # them, so the policy is checked on the template that was deployed instead.
    deployed = plan_run(project, fresh_aws(emulator)).templates["github"]
    resources = json.loads(deployed)["Resources"]
    assert resources["Queue"]["DeletionPolicy"] == "RetainExceptOnCreate"
    assert resources["DeadLetterQueue"]["UpdateReplacePolicy"] == "Retain"


def test_queue_holding_messages_is_not_deleted_without_force(
    project: Project, emulator: str, aws: Aws
) -> None:
    deploy_project(project, emulator)
    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName="shop-orders")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody='{"v": 1}')
    del project.pipelines["orders"]
    project.write()

    result, _ = deploy_project(project, emulator, prune=True)
    assert outcomes(result)["orders"] == "refused"
    assert "could lose stored webhooks" in result.pipelines[-1].reasons[0]
    assert "shop-orders" in cfn.list_stacks(aws)
    assert not result.ok

    result, _ = deploy_project(project, emulator, prune=True, force=True)
    assert outcomes(result)["orders"] == "deleted"


def test_destroy_cli_guards_non_empty_queues(project: Project, emulator: str, aws: Aws) -> None:
    deploy_project(project, emulator)
    sqs = aws.client("sqs")
    sqs.send_message(
        QueueUrl=sqs.get_queue_url(QueueName="shop-github")["QueueUrl"], MessageBody="{}"
    )
    runner = CliRunner()
    args = ["destroy", "github", "--config", str(project.config), "--poll-seconds", "0.05"]
    refused = runner.invoke(cli, args)
    assert refused.exit_code == 1
    assert "refused" in refused.output and "Traceback" not in refused.output
    assert "shop-github" in cfn.list_stacks(aws)
    forced = runner.invoke(cli, [*args, "--force"])
    assert forced.exit_code == 0, forced.output
    assert "shop-github" not in cfn.list_stacks(aws)
    usage = runner.invoke(cli, ["destroy", "--config", str(project.config)])
    assert usage.exit_code == 2


def test_failed_create_is_recovered_on_next_deploy(
    project: Project, emulator: str, aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nami_action.plan.code_versions
    from nami_action.aws.artifacts import StoredZip

    # A create that fails while executing: the function's code is nowhere to be found.
    # (moto fails it inside ExecuteChangeSet and leaves REVIEW_IN_PROGRESS; AWS would roll
    # back to ROLLBACK_COMPLETE, which the next deploy deletes and re-creates.)
    text = project.config.read_text()
    project.config.write_text(text.replace(BUCKET, "bucket-that-was-deleted"))
    with monkeypatch.context() as patched:
        patched.setattr(
            nami_action.plan.code_versions,
            "upload_artifact",
            lambda *args: StoredZip("unchanged", None),
        )
        failed, _ = deploy_project(project, emulator)
    assert set(outcomes(failed).values()) == {"failed"}
    assert all(p.reasons for p in failed.pipelines)

    project.config.write_text(text)
    recovered, _ = deploy_project(project, emulator)
    assert set(outcomes(recovered).values()) == {"created"}, recovered.pipelines
    statuses = {s.name: s.status for s in cfn.list_stacks(aws).values()}
    assert statuses == dict.fromkeys(
        ["shop-github", "shop-stripe", "shop-orders"], "CREATE_COMPLETE"
    )


def test_interrupted_deploy_rerun_completes(project: Project, emulator: str, aws: Aws) -> None:
    # A deploy killed after making its change sets, before executing them.
    plan_run(project, fresh_aws(emulator), keep=True)
    assert {s.status for s in cfn.list_stacks(aws).values()} == {"REVIEW_IN_PROGRESS"}
    result, _ = deploy_project(project, emulator)
    assert set(outcomes(result).values()) == {"created"}, result.pipelines
    assert {s.status for s in cfn.list_stacks(aws).values()} == {"CREATE_COMPLETE"}


def test_rollback_complete_stack_is_planned_as_re_create() -> None:
    stack = cfn.StackInfo("shop-x", "id", "ROLLBACK_COMPLETE", "", {}, None)
    action, reason = decide(stack, '{"Description": "x"}')
    assert action == "create" and "re-created" in reason


def test_plan_cli_formats_and_detailed_exit_code(
    project: Project, emulator: str, tmp_path: Path
) -> None:
    runner = CliRunner()
    base = ["plan", str(project.config), "--poll-seconds", "0.05"]
    out = tmp_path / "plan.json"
    result = runner.invoke(
        cli, [*base, "--format", "json", "--out", str(out), "--detailed-exitcode"]
    )
    assert result.exit_code == 2, result.output
    data = json.loads(out.read_text())
    assert data["counts"] == {"create": 3, "update": 0, "delete": 0, "none": 0}
    markdown = runner.invoke(cli, [*base, "--format", "markdown", "--pipelines", "github"])
    assert markdown.exit_code == 0
    assert "shop-github" in markdown.output and "shop-stripe" not in markdown.output
    unknown = runner.invoke(cli, [*base, "--pipelines", "nope"])
    assert unknown.exit_code == 1 and "unknown pipeline nope" in unknown.output
    deploy_project(project, emulator)
    quiet = runner.invoke(cli, [*base, "--detailed-exitcode"])
    assert quiet.exit_code == 0 and "3 unchanged" in quiet.output


def test_missing_artifact_bucket_is_a_clear_error(project: Project, emulator: str) -> None:
    project.config.write_text(
        project.config.read_text().replace("artifacts: {bucket: nami-test-artifacts}\n", "")
    )
    result = CliRunner().invoke(cli, ["plan", str(project.config)])
    assert result.exit_code == 1
    assert "run `nami bootstrap`" in result.output and "Traceback" not in result.output


def test_a_stack_nami_did_not_make_is_never_taken_over(
    project: Project, emulator: str, aws: Aws
) -> None:
    template = {
        "Resources": {"Keep": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "hand-made"}}}
    }
    aws.client("cloudformation").create_stack(
        StackName="shop-github", TemplateBody=json.dumps(template)
    )
    plan = plan_run(project, fresh_aws(emulator)).plan
    github = next(p for p in plan.pipelines if p.pipeline == "github")
    assert "already exists and was made by something else" in github.error
    result, counted = deploy_project(project, emulator)
    assert outcomes(result) == {"github": "failed", "stripe": "created", "orders": "created"}
    assert counted.calls["cloudformation:CreateChangeSet"] == 2
    resources = cfn.stack_resources(aws, "shop-github") or {}
    assert set(resources) == {"Keep"}  # untouched


def test_leftover_queue_is_reported_before_a_create(
    project: Project, emulator: str, aws: Aws
) -> None:
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName="shop-orders")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="{}")
    plan = plan_run(project, fresh_aws(emulator)).plan
    orders = next(p for p in plan.pipelines if p.pipeline == "orders")
    assert orders.error.startswith("queue shop-orders (1 webhooks) already exists")
    assert all(not p.error for p in plan.pipelines if p.pipeline != "orders")


def test_before_change_is_asked_before_each_execution(project: Project, emulator: str) -> None:
    """The Action's last check (the commit is still main's tip) runs right before each
    ExecuteChangeSet; a refusal leaves that stack untouched and its change set removed."""
    asked: list[str] = []

    def guard(pipeline: str) -> None:
        asked.append(pipeline)
        if pipeline == "stripe":
            raise NamiError("the tip of main moved")

    aws = fresh_aws(emulator)
    run = plan_run(project, aws, keep=True)
    options = DeployOptions(poll_seconds=FAST, max_parallel=1, before_change=guard)
    result = deploy(aws, run, options, lambda event: None)
    assert sorted(asked) == ["github", "orders", "stripe"]
    assert outcomes(result) == {"github": "created", "stripe": "failed", "orders": "created"}
    (stripe,) = [p for p in result.pipelines if p.pipeline == "stripe"]
    assert "the tip of main moved" in stripe.reasons
    assert cfn.describe_stack(aws, "shop-stripe") is None  # its review stack went too
