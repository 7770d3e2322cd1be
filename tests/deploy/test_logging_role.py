"""plan says to run `nami bootstrap` when API Gateway's account has no CloudWatch role, which
every stage's access logs need (moto server: it implements GetAccount and UpdateAccount)."""

from __future__ import annotations

from click.testing import CliRunner

from nami_action.aws.apigateway import logging_role_arn
from nami_action.aws.session import Aws, AwsTarget
from nami_action.cli import cli
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
