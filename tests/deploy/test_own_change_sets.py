"""A deploy executes only change sets it created itself, from its own compiled templates:
change sets a pull request's plan left on the stacks (or made on purpose) are never run."""

from __future__ import annotations

import json
from typing import Any

from nami_action.apply import DeployOptions, deploy
from nami_action.aws import stacks as cfn
from nami_action.aws.session import Aws
from nami_action.config import load_config
from nami_action.plan.planner import (
    DEPLOY_CHANGE_SET_PREFIX,
    PLAN_CHANGE_SET_PREFIX,
    PlanOptions,
    make_plan,
)

from .support import Project
from .test_deploy import FAST, deploy_project, fresh_aws, outcomes


def record_change_sets(aws: Aws) -> tuple[list[str], list[str]]:
    """Ids of the change sets this session created, and of those it executed."""
    created: list[str] = []
    executed: list[str] = []

    def after_create(parsed: dict[str, Any], **_: Any) -> None:
        created.append(parsed["Id"])

    def before_execute(params: dict[str, Any], **_: Any) -> None:
        executed.append(params["ChangeSetName"])

    events = aws.client("cloudformation").meta.events
    events.register("after-call.cloudformation.CreateChangeSet", after_create)
    events.register("provide-client-params.cloudformation.ExecuteChangeSet", before_execute)
    return created, executed


def pull_request_change_set(aws: Aws, stack: str, *, concurrency: int, create: bool) -> str:
    """What a pull request's job can do with the plan role: a change set of its own making."""
    template = {
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": stack}}}
    }
    if not create:
        deployed = cfn.deployed_template(aws, stack) or {}
        mapping = deployed["Resources"]["ConsumerEventSource"]["Properties"]
        mapping["ScalingConfig"] = {"MaximumConcurrency": concurrency}
        template = deployed
    made = aws.client("cloudformation").create_change_set(
        StackName=stack,
        ChangeSetName=f"{PLAN_CHANGE_SET_PREFIX}evil-{concurrency}",
        ChangeSetType="CREATE" if create else "UPDATE",
        TemplateBody=json.dumps(template),
        Capabilities=["CAPABILITY_IAM"],
    )
    return str(made["Id"])


def concurrency_of(aws: Aws, stack: str) -> int:
    function = (cfn.stack_resources(aws, stack) or {})["Consumer"]
    mapping = aws.client("lambda").list_event_source_mappings(FunctionName=function)
    return int(mapping["EventSourceMappings"][0]["ScalingConfig"]["MaximumConcurrency"])


def test_deploy_never_executes_a_change_set_left_by_a_pull_request(
    project: Project, emulator: str, aws: Aws
) -> None:
    deploy_project(project, emulator)
    foreign = pull_request_change_set(aws, "shop-stripe", concurrency=99, create=False)
    project.pipelines["stripe"] = 40
    project.pipelines["billing"] = 3  # a new pipeline, whose name a pull request took first
    project.write()
    foreign_new = pull_request_change_set(aws, "shop-billing", concurrency=1, create=True)

    session = fresh_aws(emulator)
    created, executed = record_change_sets(session)
    run = make_plan(
        load_config(project.config), session, PlanOptions(keep_change_sets=True, poll_seconds=FAST)
    )
    result = deploy(session, run, DeployOptions(poll_seconds=FAST), lambda event: None)

    assert outcomes(result)["stripe"] == "updated"
    assert outcomes(result)["billing"] == "created"
    assert len(executed) == 2 and set(executed) <= set(created)
    assert foreign not in executed and foreign_new not in executed
    assert all(f":changeSet/{DEPLOY_CHANGE_SET_PREFIX}" in change_set for change_set in executed)
    assert concurrency_of(aws, "shop-stripe") == 40
    assert concurrency_of(aws, "shop-billing") == 3


def test_deploy_removes_the_empty_stack_of_a_pull_request_that_was_never_merged(
    project: Project, emulator: str, aws: Aws
) -> None:
    deploy_project(project, emulator)
    project.pipelines["experiment"] = 2
    project.write()
    pull_request = fresh_aws(emulator)
    make_plan(load_config(project.config), pull_request, PlanOptions(poll_seconds=FAST))
    assert cfn.list_stacks(aws)["shop-experiment"].status == "REVIEW_IN_PROGRESS"
    assert pull_request.calls["cloudformation:DeleteStack"] == 0

    del project.pipelines["experiment"]  # the pull request was closed
    project.write()
    result, _ = deploy_project(project, emulator)
    assert set(outcomes(result).values()) == {"unchanged"}
    assert "shop-experiment" not in cfn.list_stacks(aws)
