"""Faults injected between nami and the emulator by a proxy on 127.0.0.1."""

from __future__ import annotations

from click.testing import CliRunner

from nami_action.aws.session import Aws
from nami_action.cli import cli
from nami_action.config import load_config
from nami_action.plan.planner import PlanOptions, make_plan

from .support import REGION, FaultProxy, Project, cfn_error

FAST = PlanOptions(poll_seconds=0.05)


def test_throttling_is_retried(project: Project, proxy: FaultProxy, proxied_aws: Aws) -> None:
    proxy.fail("DescribeStacks", 400, cfn_error("Throttling", "Rate exceeded"), times=3)
    plan = make_plan(load_config(project.config), proxied_aws, FAST).plan
    assert plan.counts()["create"] == 3
    assert proxy.seen["DescribeStacks"] >= 4  # three throttled answers, then the real one


def test_access_denied_is_one_clear_message(project: Project, proxy: FaultProxy) -> None:
    proxy.fail(
        "DescribeStacks",
        403,
        cfn_error(
            "AccessDenied",
            "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: "
            "cloudformation:DescribeStacks",
        ),
        times=100,
    )
    result = CliRunner().invoke(
        cli, ["plan", str(project.config), "--endpoint-url", proxy.url, "--region", REGION]
    )
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == [
        "error: access denied while listing CloudFormation stacks: User: "
        "arn:aws:iam::123456789012:user/ci is not authorized to perform: "
        "cloudformation:DescribeStacks"
    ]


def test_failed_change_set_is_reported_with_its_reason(project: Project, proxy: FaultProxy) -> None:
    reason = "Template format error: Unresolved resource dependencies [Nope] in the Resources"
    failed = (
        '<DescribeChangeSetResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">'
        "<DescribeChangeSetResult><ChangeSetName>x</ChangeSetName><ChangeSetId>arn:x</ChangeSetId>"
        "<StackName>shop-github</StackName><Status>FAILED</Status>"
        f"<StatusReason>{reason}</StatusReason><ExecutionStatus>UNAVAILABLE</ExecutionStatus>"
        "</DescribeChangeSetResult></DescribeChangeSetResponse>"
    )
    proxy.fail("DescribeChangeSet", 200, failed, times=1)
    result = CliRunner().invoke(
        cli,
        [
            "plan",
            str(project.config),
            "--endpoint-url",
            proxy.url,
            "--region",
            REGION,
            "--max-parallel",
            "1",
            "--poll-seconds",
            "0.05",
        ],
    )
    assert result.exit_code == 1
    assert f"error: change set failed: {reason}" in result.output
    assert "Traceback" not in result.output


def test_missing_credentials_are_one_clear_message(project: Project, monkeypatch: object) -> None:
    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    result = CliRunner().invoke(cli, ["plan", str(project.config)])
    assert result.exit_code == 1
    assert "no AWS credentials found" in result.output
    assert "Traceback" not in result.output


def test_role_arn_is_assumed_before_any_call(project: Project, emulator: str) -> None:
    from nami_action.aws.session import AwsTarget

    role = "arn:aws:iam::123456789012:role/nami-deploy"
    aws = Aws(AwsTarget(region=REGION, endpoint_url=emulator, role_arn=role))
    identity = aws.client("sts").get_caller_identity()
    assert identity["Arn"].startswith("arn:aws:sts::123456789012:assumed-role/nami-deploy/nami")
    plan = make_plan(load_config(project.config), aws, FAST).plan
    assert plan.counts()["create"] == 3
