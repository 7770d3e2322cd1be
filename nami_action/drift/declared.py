"""The values a deployed template declares for the properties Nami manages, flattened to
dotted paths ("RedrivePolicy.maxReceiveCount") that the live reads use too.

Refs and GetAtts are resolved to the physical ids of the stack's resources; a value that
cannot be resolved here is left out (not compared) rather than guessed. Properties the
template leaves out are compared against AWS's documented defaults, so a console change of
a defaulted setting (a queue's delay, a mapping's batch size) is drift as well.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

QUEUE = "AWS::SQS::Queue"
MAPPING = "AWS::Lambda::EventSourceMapping"
FUNCTION = "AWS::Lambda::Function"
STAGE = "AWS::ApiGateway::Stage"
ALARM = "AWS::CloudWatch::Alarm"
MANAGED_TYPES = (QUEUE, MAPPING, FUNCTION, STAGE, ALARM)
ENVIRONMENT_PREFIX = "Environment.Variables."
# Map-valued properties: a key the live resource has and the template does not is drift.
OPEN_PREFIXES = (ENVIRONMENT_PREFIX,)
THROTTLE_PREFIX = "MethodSettings[*/*]."

# AWS defaults for properties a template may leave out (SQS CreateQueue "Attributes";
# Lambda CreateEventSourceMapping BatchSize/MaximumBatchingWindowInSeconds;
# Lambda CreateFunction MemorySize/Timeout).
# A mapping's `Enabled` is not compared, read or restored: it is the switch of `nami pause` /
# `nami resume` (operating state, like a queue's depth), so a paused pipeline is not drift and
# neither a deploy nor a drift repair may switch it back on.
NOT_DRIFT = {MAPPING: ("Enabled",)}
DEFAULTS: dict[str, dict[str, Any]] = {
    QUEUE: {
        "DelaySeconds": 0,
        "MessageRetentionPeriod": 345600,
        "VisibilityTimeout": 30,
        "ReceiveMessageWaitTimeSeconds": 0,
    },
    MAPPING: {
        "BatchSize": 10,
        "MaximumBatchingWindowInSeconds": 0,
        "ScalingConfig.MaximumConcurrency": None,
    },
    FUNCTION: {"MemorySize": 128, "Timeout": 3},
    STAGE: {},
    ALARM: {},
}
QUEUE_PROPERTIES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
)
ALARM_PROPERTIES = (
    "ComparisonOperator",
    "DatapointsToAlarm",
    "EvaluationPeriods",
    "Period",
    "Threshold",
)


class Unresolved(Exception):
    """A template value that depends on something not known here."""


@dataclass(frozen=True)
class Pseudo:
    """CloudFormation's pseudo parameters for one stack."""

    region: str
    account: str
    stack_name: str
    parameters: dict[str, str] = field(default_factory=dict)

    @property
    def partition(self) -> str:
        if self.region.startswith("cn-"):
            return "aws-cn"
        return "aws-us-gov" if self.region.startswith("us-gov-") else "aws"

    def value(self, name: str) -> str:
        values = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::Partition": self.partition,
            "AWS::StackName": self.stack_name,
            "AWS::URLSuffix": "amazonaws.com.cn"
            if self.region.startswith("cn-")
            else "amazonaws.com",
        }
        if name in values:
            return values[name]
        if name in self.parameters:
            return self.parameters[name]
        raise Unresolved(name)


def account_of(stack_id: str) -> str:
    """The account in a stack ARN (arn:aws:cloudformation:REGION:ACCOUNT:stack/...)."""
    parts = stack_id.split(":")
    return parts[4] if len(parts) > 5 else ""


@dataclass(frozen=True)
class Declared:
    """One managed resource of a deployed stack with its declared values."""

    logical_id: str
    resource_type: str
    physical_id: str
    properties: dict[str, Any]  # dotted path -> declared value
    rest_api_id: str = ""  # a Stage is found by its API and name
    raw: dict[str, Any] = field(default_factory=dict)  # resolved template properties


class Resolver:
    """Refs, GetAtts and Subs of one template, resolved to physical ids."""

    def __init__(self, template: dict[str, Any], physical: dict[str, str], pseudo: Pseudo):
        self.resources: dict[str, Any] = template.get("Resources") or {}
        self.physical, self.pseudo = physical, pseudo

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self.ref(str(argument))
            if key == "Fn::GetAtt":
                names = argument.split(".", 1) if isinstance(argument, str) else argument
                return self.get_att(str(names[0]), str(names[1]))
            if key == "Fn::Sub":
                return self.sub(argument)
            if key.startswith("Fn::"):
                raise Unresolved(key)
        return {k: self.resolve(v) for k, v in value.items()}

    def ref(self, name: str) -> str:
        if name in self.physical:
            return self.physical[name]
        return self.pseudo.value(name)

    def get_att(self, logical_id: str, attribute: str) -> str:
        kind = (self.resources.get(logical_id) or {}).get("Type")
        physical = self.physical.get(logical_id)
        if kind == QUEUE and physical:
            # A queue's physical id is its URL: .../ACCOUNT/NAME
            account, name = physical.rstrip("/").split("/")[-2:]
            if attribute == "QueueName":
                return name
            if attribute == "Arn":
                return f"arn:{self.pseudo.partition}:sqs:{self.pseudo.region}:{account}:{name}"
        raise Unresolved(f"{logical_id}.{attribute}")

    def sub(self, argument: Any) -> str:
        text, extra = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])

        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in extra:
                return str(self.resolve(extra[name]))
            if "." in name:
                return self.get_att(*name.split(".", 1))
            return self.ref(name)

        return re.sub(r"\$\{([^}!]+)\}", one, str(text))


def declared_resources(
    template: dict[str, Any], physical: dict[str, str], pseudo: Pseudo
) -> list[Declared]:
    """Every managed resource the stack actually has (a physical id), with its values."""
    resolver = Resolver(template, physical, pseudo)
    found = []
    for logical_id, resource in sorted((template.get("Resources") or {}).items()):
        kind = resource.get("Type")
        if kind not in MANAGED_TYPES or not physical.get(logical_id):
            continue
        raw = _resolved_properties(resolver, resource.get("Properties") or {})
        found.append(
            Declared(
                logical_id=logical_id,
                resource_type=kind,
                physical_id=physical[logical_id],
                properties={**DEFAULTS[kind], **FLATTEN[kind](raw)},
                rest_api_id=str(raw.get("RestApiId", "")) if kind == STAGE else "",
                raw=raw,
            )
        )
    return found


def _resolved_properties(resolver: Resolver, properties: dict[str, Any]) -> dict[str, Any]:
    """Each top-level property resolved; one that cannot be is left out (not compared)."""
    resolved = {}
    for name, value in properties.items():
        try:
            resolved[name] = resolver.resolve(value)
        except Unresolved:
            continue
    return resolved


def _queue(raw: dict[str, Any]) -> dict[str, Any]:
    flat = {name: raw[name] for name in QUEUE_PROPERTIES if name in raw}
    redrive = raw.get("RedrivePolicy")
    if isinstance(redrive, dict):
        flat["RedrivePolicy.maxReceiveCount"] = redrive.get("maxReceiveCount")
        flat["RedrivePolicy.deadLetterTargetArn"] = redrive.get("deadLetterTargetArn")
    return flat


def _mapping(raw: dict[str, Any]) -> dict[str, Any]:
    flat: dict[str, Any] = {
        name: raw[name] for name in ("BatchSize", "MaximumBatchingWindowInSeconds") if name in raw
    }
    scaling = raw.get("ScalingConfig")
    if isinstance(scaling, dict) and "MaximumConcurrency" in scaling:
        flat["ScalingConfig.MaximumConcurrency"] = scaling["MaximumConcurrency"]
    return flat


def _function(raw: dict[str, Any]) -> dict[str, Any]:
    flat: dict[str, Any] = {name: raw[name] for name in ("MemorySize", "Timeout") if name in raw}
    variables = (raw.get("Environment") or {}).get("Variables") or {}
    flat.update({ENVIRONMENT_PREFIX + name: value for name, value in variables.items()})
    return flat


def _stage(raw: dict[str, Any]) -> dict[str, Any]:
    flat = {}
    for setting in raw.get("MethodSettings") or []:
        if setting.get("HttpMethod") == "*" and setting.get("ResourcePath") == "/*":
            for name in ("ThrottlingBurstLimit", "ThrottlingRateLimit"):
                if name in setting:
                    flat[THROTTLE_PREFIX + name] = setting[name]
    return flat


def _alarm(raw: dict[str, Any]) -> dict[str, Any]:
    return {name: raw[name] for name in ALARM_PROPERTIES if name in raw}


FLATTEN = {QUEUE: _queue, MAPPING: _mapping, FUNCTION: _function, STAGE: _stage, ALARM: _alarm}
