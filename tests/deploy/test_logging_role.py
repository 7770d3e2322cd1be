"""plan says to run `nami bootstrap` when API Gateway's account has no CloudWatch role, which
every stage's access logs need, and bootstrap sets one only where none is set (moto server: it
implements GetAccount and UpdateAccount; its CloudFormation ignores AWS::ApiGateway::Account,
which is why nami no longer relies on that resource)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from nami_action.aws.apigateway import (
    LoggingRole,
    ensure_logging_role,
    logging_role_arn,
    stack_role_arn,
)
from nami_action.aws.session import Aws, AwsTarget
from nami_action.cli import cli
from nami_action.compile.bootstrap import (
    API_GATEWAY_LOGS_ROLE,
    DEFAULT_STACK_NAME,
    bootstrap_template_json,
)
from nami_action.config import load_config
from nami_action.plan.planner import PlanOptions, make_plan

from .support import REGION, FaultProxy, Project

ROLE = "arn:aws:iam::123456789012:role/nami-bootstrap-ApiGatewayLogsRole"


def kinds(project: Project, aws: Aws) -> dict[str, list[str]]:
    plan = make_plan(load_config(project.config), aws, PlanOptions(poll_seconds=0.05)).plan
    return {p.pipeline: [w.kind for w in p.warnings] for p in plan.pipelines}


def test_missing_role_is_a_warning_on_every_pipeline_that_deploys_a_stage(
    project: Project, aws: Aws
) -> None:
    assert logging_role_arn(aws) is None
    assert kinds(project, aws) == {name: ["logging-role-missing"] for name in project.pipelines}
    result = CliRunner().invoke(cli, ["plan", str(project.config)])
    assert "has no CloudWatch logging role" in result.output
    assert "Run `nami bootstrap`" in result.output


def test_no_warning_once_the_role_is_set(project: Project, aws: Aws) -> None:
    aws.client("apigateway").update_account(
        patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": ROLE}]
    )
    assert logging_role_arn(aws) == ROLE
    assert kinds(project, aws) == {name: [] for name in project.pipelines}


def test_an_unreadable_setting_is_not_a_failure(project: Project, proxy: FaultProxy) -> None:
    """A role without apigateway:GET on /account: the plan goes on, unchecked."""
    denied = (
        '{"__type": "AccessDeniedException", '
        '"message": "User is not authorized to access this resource"}'
    )
    proxy.fail("GET", 403, denied, times=1)  # the first REST GET is GetAccount
    aws = Aws(AwsTarget(region=REGION, endpoint_url=proxy.url))
    assert logging_role_arn(aws) == ""


def test_the_warning_is_said_once_per_command(project: Project, aws: Aws) -> None:
    assert len(project.pipelines) > 1
    result = CliRunner().invoke(cli, ["plan", str(project.config)])
    assert result.output.count("has no CloudWatch logging role") == 1, result.output


def test_bootstrap_names_its_role_when_none_is_named(emulator: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["bootstrap", "--region", REGION], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    aws = Aws(AwsTarget(region=REGION, endpoint_url=emulator))
    named = logging_role_arn(aws)
    assert named and named.split("/")[-1].startswith("nami-bootstrap-ApiGatewayLogsRole")
    assert f"API Gateway logging role: {named}\n" in result.output
    assert stack_role_arn(aws, DEFAULT_STACK_NAME, API_GATEWAY_LOGS_ROLE) == named


def test_bootstrap_keeps_a_role_the_account_already_uses(emulator: str) -> None:
    aws = Aws(AwsTarget(region=REGION, endpoint_url=emulator))
    aws.client("apigateway").update_account(
        patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": ROLE}]
    )
    for _ in range(2):  # and a second bootstrap (an update) keeps it too
        result = CliRunner().invoke(cli, ["bootstrap", "--region", REGION])
        assert result.exit_code == 0, result.output
        assert f"API Gateway logging role: {ROLE} (already set" in result.output
        assert logging_role_arn(aws) == ROLE


def test_a_role_iam_has_not_propagated_yet_is_retried(emulator: str, proxy: FaultProxy) -> None:
    """UpdateAccount refuses a role created seconds ago until IAM has propagated it."""
    not_yet = (
        '{"__type": "BadRequestException", "message": "The role ARN does not have required '
        'permissions set to API Gateway"}'
    )
    proxy.fail("PATCH", 400, not_yet, times=2)
    aws = Aws(AwsTarget(region=REGION, endpoint_url=proxy.url))
    role = ensure_logging_role(aws, ROLE, delay_seconds=0.01)
    assert role == LoggingRole(ROLE, changed=True)
    assert proxy.seen["PATCH"] == 3
    assert logging_role_arn(aws) == ROLE


def test_the_bootstrap_role_outlives_its_stack() -> None:
    resources = json.loads(bootstrap_template_json())["Resources"]
    assert not [r for r in resources.values() if r["Type"] == "AWS::ApiGateway::Account"]
    role = resources[API_GATEWAY_LOGS_ROLE]
    assert role["DeletionPolicy"] == role["UpdateReplacePolicy"] == "Retain"
