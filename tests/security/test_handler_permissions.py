"""The deploy and drift roles allow every permission CloudFormation's resource handlers need
for the everything-config's templates (how it is derived: derived.py), the boundary covers
what nami's own roles are given, and each check fails on a deliberately broken copy."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from nami_action.config import load_config

from . import derived
from .derived import HANDLERS, handler_actions, justifications, missing_handler_permissions
from .iam_documents import Policy, as_list, load, permits

ROOT = Path(__file__).resolve().parents[2]
EVERY_INGRESS_KIND = {"rest", "http", "function-url"}


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    return derived.compile_everything(tmp_path_factory.mktemp("everything"))


def test_the_everything_config_uses_every_feature() -> None:
    """What the derivation is only as good as: each ingress kind, FIFO with group_by,
    dedupe, retry, alarms by e-mail, topic and https, the dashboard on and off."""
    config = load_config(derived.EVERYTHING / "nami.yaml")
    specs = [p.spec for p in config.pipelines.values()]
    assert {s.ingress for s in specs} == EVERY_INGRESS_KIND
    assert any(s.queue.fifo and s.queue.group_by for s in specs)
    assert any(s.dedupe for s in specs) and any(s.consumer.retry for s in specs)
    assert any(s.alarms.email and s.alarms.https and s.alarms.topic for s in specs)
    assert {s.dashboard for s in specs} == {True, False}


def test_the_templates_hold_every_resource_type(templates: list[dict[str, Any]]) -> None:
    stacks = {derived.stack_of(t) for t in templates}
    assert "acme-webhooks-staging-gh" in stacks and "acme-webhooks-gh" in stacks  # environments
    types = {r["Type"] for t in templates for r in t["Resources"].values()}
    assert {"AWS::ApiGatewayV2::Api", "AWS::Lambda::Url", "AWS::DynamoDB::Table"} <= types
    assert len(types) == 22


def test_the_deploy_role_allows_every_handler_permission(
    templates: list[dict[str, Any]],
) -> None:
    missing = missing_handler_permissions(
        load("deploy-role-policy.json"), templates, HANDLERS, "deploy"
    )
    assert [str(m) for m in missing] == []


def test_the_drift_role_allows_every_read_handler_permission(
    templates: list[dict[str, Any]],
) -> None:
    missing = missing_handler_permissions(
        load("drift-role-policy.json"), templates, ("read",), "drift"
    )
    assert [str(m) for m in missing] == []


def _without(policy: Policy, action: str) -> Policy:
    broken = copy.deepcopy(policy)
    for statement in broken["Statement"]:
        if statement["Effect"] == "Allow":
            statement["Action"] = [a for a in as_list(statement["Action"]) if a != action]
    broken["Statement"] = [s for s in broken["Statement"] if s["Action"]]
    return broken


@pytest.mark.parametrize(
    "action",
    ["lambda:CreateFunctionUrlConfig", "lambda:AddPermission", "apigateway:POST", "iam:CreateRole"],
)
def test_a_dropped_permission_fails_the_check(templates: list[dict[str, Any]], action: str) -> None:
    broken = _without(load("deploy-role-policy.json"), action)
    missing = missing_handler_permissions(broken, templates, HANDLERS, "deploy")
    assert {m.action for m in missing} == {action}


def test_a_template_role_without_the_boundary_cannot_be_created(
    templates: list[dict[str, Any]],
) -> None:
    """The deploy role creates roles only with the boundary: a template that loses it fails."""
    stripped = json.loads(json.dumps(templates[:1]).replace('"PermissionsBoundary"', '"X"'))
    missing = missing_handler_permissions(
        load("deploy-role-policy.json"), stripped, HANDLERS, "deploy"
    )
    assert {"iam:CreateRole", "iam:PutRolePolicy"} <= {m.action for m in missing}


@pytest.mark.parametrize("role", ["deploy", "drift"])
def test_every_justification_is_still_needed(templates: list[dict[str, Any]], role: str) -> None:
    """An entry names an action some handler lists, and the role really leaves it out."""
    handlers = HANDLERS if role == "deploy" else ("read",)
    listed = handler_actions(templates, handlers)
    policy = load(f"{role}-role-policy.json")
    for key, reason in justifications()["handler_permissions_not_granted"][role].items():
        action = key.split(" ")[-1]
        assert action in listed, f"{key}: no handler lists it any more"
        assert len(reason) > 20, key
        assert not permits(policy, action, "*", {}), f"{key}: granted on * after all"


# --- the permissions boundary -------------------------------------------------------------

CONTEXT = {"AWS::Region": derived.REGION, "AWS::AccountId": derived.ACCOUNT}


def _resolved(value: Any, template: dict[str, Any], stack: str) -> str:
    """The ARN a role's policy names: GetAtt Arn of the queue/log group/table, or a Sub."""
    if isinstance(value, dict) and "Fn::Sub" in value:
        text = str(value["Fn::Sub"]).replace("${AWS::Partition}", "aws")
        for key, replacement in CONTEXT.items():
            text = text.replace(f"${{{key}}}", replacement)
        return text
    logical_id = value["Fn::GetAtt"][0]
    (resource,) = [r for r in derived.resources_of(template, stack) if r.logical_id == logical_id]
    return derived.own_arns(resource)[0] + (":*" if resource.type == "AWS::Logs::LogGroup" else "")


@pytest.mark.parametrize("example", ["nami.yaml", "nami-environments.yaml"])
def test_the_boundary_covers_every_role_nami_creates(example: str, tmp_path: Path) -> None:
    """Whatever a compiled role is given, the boundary allows it (else the consumer fails at
    run time): the examples' roles, with their secrets under the boundary's prefix."""
    from click.testing import CliRunner

    from nami_action.cli import cli

    boundary = load("permissions-boundary-policy.json")
    config = ROOT / "examples" / example
    extra = ["--env", "production"] if "environments" in example else []
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["compile", str(config), "--out", str(out), *extra])
    assert result.exit_code == 0, result.output
    checked = 0
    for path in sorted(out.glob("*.template.json")):
        template = json.loads(path.read_text())
        stack = derived.stack_of(template)
        for resource in derived.resources_of(template, stack):
            if resource.type != "AWS::IAM::Role":
                continue
            for policy in resource.properties["Policies"]:
                for statement in policy["PolicyDocument"]["Statement"]:
                    for action in statement["Action"]:
                        for value in statement["Resource"]:
                            arn = _resolved(value, template, stack)
                            assert permits(boundary, action, arn, {}), (stack, action, arn)
                            checked += 1
    assert checked > 20


def test_the_boundary_check_sees_a_secret_outside_the_prefix() -> None:
    boundary = load("permissions-boundary-policy.json")
    inside = f"arn:aws:ssm:{derived.REGION}:{derived.ACCOUNT}:parameter/acme/webhooks/github"
    outside = f"arn:aws:ssm:{derived.REGION}:{derived.ACCOUNT}:parameter/billing/db-password"
    assert permits(boundary, "ssm:GetParameter", inside, {})
    assert not permits(boundary, "ssm:GetParameter", outside, {})
    assert not permits(boundary, "iam:CreateRole", "*", {})
