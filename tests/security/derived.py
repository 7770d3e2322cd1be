"""What the roles of docs/iam must allow, derived rather than guessed.

- CloudFormation acts on a stack's resources with the caller's credentials, through each
  type's resource handler; every handler publishes the permissions it needs in the resource
  provider schema (`handlers.<create|read|update|delete>.permissions`), which cfn-lint ships.
  The templates here are the compiled everything-config (tests/compile/everything), written
  for the documents' project, region and account, once plain and once in an environment.
- Each permission is checked on the ARN of the resource nami names (generated names are
  `<stack>-<logical id>-<suffix>`, which CloudFormation makes), in the formats the IAM
  service authorization reference gives for that action (policy_sentry's copy of it); an
  action that takes no resource ARN is checked on "*". Conditions are evaluated with the
  values the request carries (the boundary the template sets, the service a role is passed
  to, the function a mapping names).
- A permission a handler lists only for a property nami never sets may be left out of a
  role when docs/iam/justifications.json names it with the reason.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from cfnlint.schema import PROVIDER_SCHEMA_MANAGER
from click.testing import CliRunner
from policy_sentry.querying.actions import get_action_data

from nami_action.cli import cli

from .iam_documents import IAM_DIR, PROJECT, Policy, iam_like, permits

ROOT = Path(__file__).resolve().parents[2]
EVERYTHING = ROOT / "tests" / "compile" / "everything"
REGION = "eu-west-1"
ACCOUNT = "123456789012"
SUFFIX = "1A2B3C4D5E6F"  # stands for the random part of a name CloudFormation generates
ARTIFACT = f"arn:aws:s3:::nami-bootstrap-artifactbucket-1a2b3c/nami/artifacts/{'a' * 64}.zip"
API_ID = "a1b2c3d4e5"
HANDLERS = ("create", "read", "update", "delete")


def justifications() -> dict[str, Any]:
    return dict(json.loads((IAM_DIR / "justifications.json").read_text()))


def compile_everything(folder: Path) -> list[dict[str, Any]]:
    """The everything-config's templates for the documents' project and region: without
    environments, and as the `staging` environment (stacks `<project>-staging-<pipeline>`)."""
    shutil.copytree(EVERYTHING, folder / "plain", ignore=shutil.ignore_patterns(".nami"))
    text = (folder / "plain" / "nami.yaml").read_text()
    text = re.sub(r"(?m)^project: .*$", f"project: {PROJECT}", text)
    text = re.sub(r"(?m)^region: .*$", f"region: {REGION}", text)
    text = re.sub(r"(?m)^artifacts: .*\n", "", text)  # the bootstrap bucket, as a parameter
    (folder / "plain" / "nami.yaml").write_text(text)
    shutil.copytree(folder / "plain", folder / "env")
    (folder / "env" / "nami.yaml").write_text(text + "environments:\n  staging: {}\n")
    templates = []
    for name, extra in (("plain", []), ("env", ["--env", "staging"])):
        out = folder / f"out-{name}"
        args = ["compile", str(folder / name / "nami.yaml"), "--out", str(out), *extra]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        templates += [json.loads(p.read_text()) for p in sorted(out.glob("*.template.json"))]
    return templates


@cache
def handler_permissions(resource_type: str) -> dict[str, tuple[str, ...]]:
    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(REGION, resource_type).schema
    handlers = schema.get("handlers", {})
    assert handlers, f"cfn-lint's schema of {resource_type} lists no handlers"
    return {h: tuple(handlers[h].get("permissions", [])) for h in HANDLERS if h in handlers}


@cache
def arn_patterns(action: str) -> frozenset[str]:
    """The resource ARN formats of an action, as IAM wildcard patterns ("*": no ARN)."""
    service, _, name = action.partition(":")
    rows = get_action_data(service, name) or {}
    formats = {row["resource_arn_format"] for row in rows.get(service, [])}
    return frozenset(re.sub(r"\$\{[^}]*\}", "*", f) for f in formats)


@dataclass(frozen=True, eq=False)  # hashed by identity: one object per template resource
class Resource:
    stack: str
    logical_id: str
    type: str
    properties: dict[str, Any]
    template: dict[str, Any]

    def name(self) -> str:
        """The physical name: the one the template sets, else CloudFormation's."""
        for key in ("QueueName", "DashboardName", "FunctionName", "TableName", "TopicName"):
            value = self.properties.get(key)
            if isinstance(value, dict) and "Fn::Sub" in value:
                value = value["Fn::Sub"].replace("${AWS::Region}", REGION)
            if isinstance(value, str) and self.type != "AWS::Lambda::EventSourceMapping":
                return value
        return f"{self.stack}-{self.logical_id}-{SUFFIX}"

    def referenced(self, resource_type: str) -> list[Resource]:
        """Resources of this type that this one names with Ref or GetAtt."""
        text = json.dumps(self.properties)
        return [
            r
            for r in resources_of(self.template, self.stack)
            if r.type == resource_type
            and (f'"Ref": "{r.logical_id}"' in text or f'["{r.logical_id}", "Arn"]' in text)
        ]


def resources_of(template: dict[str, Any], stack: str) -> list[Resource]:
    return [
        Resource(stack, logical_id, r["Type"], r.get("Properties", {}), template)
        for logical_id, r in sorted(template["Resources"].items())
    ]


def stack_of(template: dict[str, Any]) -> str:
    return str(template["Description"].split(" pipeline ")[1].split(" ")[0])


def own_arns(resource: Resource) -> list[str]:
    """The ARNs the handlers of this resource act on (its own, and what it names)."""
    region, account, name = REGION, ACCOUNT, resource.name()
    kind = resource.type
    function = f"arn:aws:lambda:{region}:{account}:function:"
    if kind == "AWS::SQS::Queue":
        arns = [f"arn:aws:sqs:{region}:{account}:{name}"]
    elif kind == "AWS::Lambda::Function":
        arns = [function + name, ARTIFACT]
    elif kind == "AWS::Lambda::EventSourceMapping":
        arns = [f"arn:aws:lambda:{region}:{account}:event-source-mapping:6b1b5a4e-0c39"]
    elif kind in ("AWS::Lambda::Permission", "AWS::Lambda::Url"):
        arns = []
    elif kind == "AWS::IAM::Role":
        arns = [f"arn:aws:iam::{account}:role/{name}"]
    elif kind == "AWS::Logs::LogGroup":
        arns = [f"arn:aws:logs:{region}:{account}:log-group:{name}"]
    elif kind.startswith("AWS::ApiGateway::"):
        rest = f"arn:aws:apigateway:{region}::/restapis"
        arns = [rest, f"{rest}/{API_ID}", f"{rest}/{API_ID}/stages/live"]
        arns.append(f"arn:aws:apigateway:{region}::/tags/{_escaped(f'{rest}/{API_ID}')}")
    elif kind.startswith("AWS::ApiGatewayV2::"):
        apis = f"arn:aws:apigateway:{region}::/apis"
        arns = [apis, f"{apis}/{API_ID}", f"{apis}/{API_ID}/stages/live"]
        arns.append(f"arn:aws:apigateway:{region}::/tags/{_escaped(f'{apis}/{API_ID}')}")
    elif kind == "AWS::CloudWatch::Alarm":
        arns = [f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}"]
    elif kind == "AWS::CloudWatch::Dashboard":
        arns = [f"arn:aws:cloudwatch::{account}:dashboard/{name}"]
    elif kind == "AWS::SNS::Topic":
        arns = [f"arn:aws:sns:{region}:{account}:{name}"]
    elif kind == "AWS::SNS::Subscription":
        arns = [f"{topic}:0f1e2d3c-4b5a" for topic in _referenced_arns(resource, "AWS::SNS::Topic")]
    elif kind == "AWS::SecretsManager::Secret":  # Secrets Manager appends 6 random characters
        arns = [
            f"arn:aws:secretsmanager:{region}:{account}:secret:{resource.properties['Name']}-AbCdEf"
        ]
    elif kind == "AWS::DynamoDB::Table":
        arns = [f"arn:aws:dynamodb:{region}:{account}:table/{name}"]
    else:
        raise AssertionError(f"no ARNs known for {kind}: extend own_arns and the policies")
    functions = [function + f.name() for f in resource.referenced("AWS::Lambda::Function")]
    return arns + functions + _referenced_arns(resource, "AWS::IAM::Role")


def _referenced_arns(resource: Resource, resource_type: str) -> list[str]:
    return [arn for r in resource.referenced(resource_type) for arn in own_arns(r)]


def _escaped(arn: str) -> str:
    return arn.replace(":", "%3A").replace("/", "%2F")


def request_context(resource: Resource, arn: str) -> dict[str, str]:
    """The condition keys the request carries when a handler of this resource calls AWS."""
    context: dict[str, str] = {}
    for role in [
        r for r in resources_of(resource.template, resource.stack) if r.type == "AWS::IAM::Role"
    ]:
        if own_arns(role)[0] == arn:
            (statement,) = role.properties["AssumeRolePolicyDocument"]["Statement"]
            context["iam:PassedToService"] = statement["Principal"]["Service"]
        boundary = role.properties.get("PermissionsBoundary")
        own = resource.type == "AWS::IAM::Role" and role.logical_id == resource.logical_id
        if own and isinstance(boundary, dict):  # Fn::Sub with the partition and the account
            context["iam:PermissionsBoundary"] = (
                boundary["Fn::Sub"]
                .replace("${AWS::Partition}", "aws")
                .replace("${AWS::AccountId}", ACCOUNT)
            )
    functions = resource.referenced("AWS::Lambda::Function")
    if functions:
        context["lambda:FunctionArn"] = own_arns(functions[0])[0]
    return context


@dataclass(frozen=True)
class Missing:
    resource_type: str
    handler: str
    action: str
    resource: str

    def __str__(self) -> str:
        return f"{self.action} on {self.resource} ({self.resource_type} {self.handler})"


def missing_handler_permissions(
    policy: Policy, templates: list[dict[str, Any]], handlers: tuple[str, ...], role: str
) -> list[Missing]:
    """Every (type, handler, action, ARN) the policy does not allow and no justification
    of this role names."""
    excused = justifications()["handler_permissions_not_granted"][role]
    missing: set[Missing] = set()
    arns: dict[Resource, list[str]] = {}
    contexts: dict[tuple[Resource, str], dict[str, str]] = {}
    for resource, handler, action in _handler_actions(templates, handlers):
        if action in excused or f"{resource.type} {action}" in excused:
            continue
        if resource not in arns:  # worked out once per resource, not per permission
            arns[resource] = own_arns(resource)
        for arn in _targets(arns[resource], action):
            if (resource, arn) not in contexts:
                contexts[resource, arn] = request_context(resource, arn)
            if not permits(policy, action, arn, contexts[resource, arn]):
                missing.add(Missing(resource.type, handler, action, arn))
    return sorted(missing, key=str)


def _handler_actions(
    templates: list[dict[str, Any]], handlers: tuple[str, ...]
) -> Iterator[tuple[Resource, str, str]]:
    for template in templates:
        for resource in resources_of(template, stack_of(template)):
            for handler, actions in handler_permissions(resource.type).items():
                if handler in handlers:
                    for action in actions:
                        yield resource, handler, action


def handler_actions(templates: list[dict[str, Any]], handlers: tuple[str, ...]) -> set[str]:
    return {action for _, _, action in _handler_actions(templates, handlers)}


def _targets(arns: list[str], action: str) -> list[str]:
    """The ARNs among the resource's own that the action can name; "*" if none can."""
    if action.lower().startswith("apigateway:"):
        # API Gateway authorizes HTTP verbs on resource paths; the reference lists them
        # per API kind, and every path of the resource's kind is what a handler touches.
        return [a for a in arns if a.startswith("arn:aws:apigateway:")] or ["*"]
    patterns = arn_patterns(action)
    named = [a for a in arns if any(iam_like(p, a) for p in patterns if p != "*")]
    if named or "*" in patterns or not patterns:
        return named or ["*"]
    # The reference names no format for this resource kind (yet: e.g. dashboard tags): the
    # handler acts on the resource itself.
    service = action.split(":")[0].lower()
    return [a for a in arns if a.split(":")[2] == service] or ["*"]
