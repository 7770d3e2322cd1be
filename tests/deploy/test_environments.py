"""Environments on the emulator: one config deployed twice side by side, promotion from
staging to production, and the account guard. Moto's account id is 123456789012."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from nami_action.apply import DeployOptions, deploy
from nami_action.aws import stacks as cfn
from nami_action.aws.session import Aws, AwsTarget
from nami_action.cli import cli
from nami_action.compile import names
from nami_action.config import load_config
from nami_action.plan.model import Plan
from nami_action.plan.planner import PlanOptions, make_plan

from .support import BUCKET, REGION

FAST = 0.05
MOTO_ACCOUNT = "123456789012"
OTHER_ACCOUNT = "210987654321"


def write_config(folder: Path, *, memory: int = 256, staging: int = 2, account: str = "") -> Path:
    production_account = account or MOTO_ACCOUNT
    path = folder / "nami.yaml"
    path.write_text(
        f"""\
version: 1
project: shop
region: {REGION}
artifacts: {{bucket: {BUCKET}}}
defaults:
  consumer: {{memory: {memory}}}
pipelines:
  github:
    verify: {{scheme: none}}
    consumer: {{code: consumer}}
  stripe:
    verify: {{scheme: none}}
    consumer: {{code: consumer}}
environments:
  staging:
    account: "{MOTO_ACCOUNT}"
    tags: {{stage: staging}}
    overrides:
      defaults:
        consumer: {{max_concurrency: {staging}}}
  production:
    account: "{production_account}"
    overrides:
      pipelines:
        stripe:
          consumer: {{max_concurrency: 30}}
"""
    )
    return path


@pytest.fixture
def folder(tmp_path: Path, aws: Aws) -> Path:
    (tmp_path / "consumer").mkdir()
    (tmp_path / "consumer" / "handler.py").write_text("def handle(webhook):\n    return None\n")
    aws.client("s3").create_bucket(Bucket=BUCKET)
    return tmp_path


def plan_env(config: Path, env: str, endpoint: str, *, keep: bool = False) -> tuple[Plan, Aws]:
    aws = Aws(AwsTarget(region=REGION, endpoint_url=endpoint))
    options = PlanOptions(keep_change_sets=keep, poll_seconds=FAST)
    run = make_plan(load_config(config, env=env), aws, options)
    if keep:
        result = deploy(aws, run, DeployOptions(poll_seconds=FAST), lambda event: None)
        assert result.ok, result.to_json()
    return run.plan, aws


def deploy_env(config: Path, env: str, endpoint: str) -> Plan:
    return plan_env(config, env, endpoint, keep=True)[0]


def actions(plan: Plan) -> dict[str, str]:
    return {p.stack_name: p.action for p in plan.pipelines}


def live_concurrency(aws: Aws, stack: str) -> int:
    function = (cfn.stack_resources(aws, stack) or {})[names.FUNCTION]
    mappings = aws.client("lambda").list_event_source_mappings(FunctionName=function)
    return int(mappings["EventSourceMappings"][0]["ScalingConfig"]["MaximumConcurrency"])


def test_two_environments_side_by_side(folder: Path, emulator: str, aws: Aws) -> None:
    config = write_config(folder)
    deploy_env(config, "staging", emulator)
    deploy_env(config, "production", emulator)
    stacks = {s.name for s in cfn.list_stacks(aws).values() if s.status != "REVIEW_IN_PROGRESS"}
    assert stacks == {
        "shop-staging-github",
        "shop-staging-stripe",
        "shop-production-github",
        "shop-production-stripe",
    }
    assert live_concurrency(aws, "shop-staging-github") == 2
    assert live_concurrency(aws, "shop-staging-stripe") == 2
    assert live_concurrency(aws, "shop-production-github") == 10
    assert live_concurrency(aws, "shop-production-stripe") == 30
    sqs = aws.client("sqs")
    assert sqs.get_queue_url(QueueName="shop-production-stripe-dlq")["QueueUrl"]
    # each environment sees only its own stacks: nothing to do, nothing of the other deleted
    for env in ("staging", "production"):
        plan, _ = plan_env(config, env, emulator)
        assert set(actions(plan).values()) == {"none"}, actions(plan)
        assert all(name.startswith(f"shop-{env}-") for name in actions(plan))


def test_an_override_change_plans_only_its_environment(
    folder: Path, emulator: str, aws: Aws
) -> None:
    config = write_config(folder)
    deploy_env(config, "staging", emulator)
    deploy_env(config, "production", emulator)
    write_config(folder, staging=3)
    staging, _ = plan_env(config, "staging", emulator)
    assert actions(staging) == {"shop-staging-github": "update", "shop-staging-stripe": "update"}
    production, _ = plan_env(config, "production", emulator)
    assert set(actions(production).values()) == {"none"}


def test_plan_production_after_staging_shows_the_promotion(
    folder: Path, emulator: str, aws: Aws
) -> None:
    config = write_config(folder)
    deploy_env(config, "staging", emulator)
    deploy_env(config, "production", emulator)
    write_config(folder, memory=512)  # the change being promoted
    deploy_env(config, "staging", emulator)
    runner = CliRunner()
    result = runner.invoke(cli, ["plan", str(config), "--env", "production", "--format", "json"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    by_stack = {p["stack_name"]: p for p in plan["pipelines"]}
    assert {name: p["action"] for name, p in by_stack.items()} == {
        "shop-production-github": "update",
        "shop-production-stripe": "update",
    }
    for pipeline in by_stack.values():
        changed = {(c["action"], c["logical_id"]) for c in pipeline["changes"]}
        assert ("Modify", names.FUNCTION) in changed, pipeline["changes"]
        assert '"MemorySize": 512' in pipeline["diff"]
    staging, _ = plan_env(config, "staging", emulator)
    assert set(actions(staging).values()) == {"none"}


def test_deploy_into_another_account_is_refused(folder: Path, emulator: str, aws: Aws) -> None:
    config = write_config(folder, account=OTHER_ACCOUNT)
    runner = CliRunner()
    for command in (["deploy"], ["plan"], ["destroy", "--all", "--config"]):
        args = [*command, str(config), "--env", "production"]
        result = runner.invoke(cli, args)
        assert result.exit_code == 1, result.output
        assert (
            f"error: the AWS credentials are for account {MOTO_ACCOUNT}, but environment "
            f"`production` (`environments.production.account`) is account {OTHER_ACCOUNT}"
        ) in result.output
    assert cfn.list_stacks(aws) == {}
    # the same credentials deploy the environment that names their account
    assert runner.invoke(cli, ["deploy", str(config), "--env", "staging"]).exit_code == 0
    assert {s.name for s in cfn.list_stacks(aws).values()} == {
        "shop-staging-github",
        "shop-staging-stripe",
    }


def test_bootstrap_goes_to_the_environments_region(folder: Path, emulator: str) -> None:
    config = write_config(folder)
    text = config.read_text().replace("  production:\n", "  production:\n    region: us-west-2\n")
    config.write_text(text)
    runner = CliRunner()
    staging = runner.invoke(cli, ["bootstrap", str(config)], env={"NAMI_ENV": "staging"})
    assert staging.exit_code == 0, staging.output
    assert f"({REGION})" in staging.output
    production = runner.invoke(cli, ["bootstrap", str(config), "--env", "production"])
    assert production.exit_code == 0, production.output
    assert "(us-west-2)" in production.output
