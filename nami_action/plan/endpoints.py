"""What a plan says and decides about a pipeline's endpoints, and its ingress note.

Each ingress kind is its own API (a REST API, an HTTP API, a function URL) with its own id in
the URL, so a change of `ingress` gives a new URL while senders still call the old one. The old
endpoint is never deleted while it may be in use: the template keeps it (compiled by the same
code, writing into the same queue, compile/pipeline.py `retiring`) until a plan reads from
CloudWatch that it had no request for `ingress_retire_after`. The plan names each old endpoint
still live, with its count, and each one it retires.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from nami_action.aws.metrics import Unread
from nami_action.aws.session import Aws
from nami_action.aws.traffic import request_counts
from nami_action.compile.ingress_http import VERIFIED_ON_AWS, api_metric
from nami_action.compile.pipeline import as_kind
from nami_action.compile.record import RETIRING
from nami_action.config import PipelineConfig
from nami_action.config.models import IngressFunction
from nami_action.config.units import format_duration
from nami_action.cost.model import METADATA_KEY
from nami_action.errors import NamiError
from nami_action.operate.pipelines import endpoint_of
from nami_action.plan.model import PlanWarning, WarningKind

# The resource type that tells a compiled or deployed template's ingress kind.
API_KINDS = {
    "AWS::ApiGateway::RestApi": "rest",
    "AWS::ApiGatewayV2::Api": "http",
    "AWS::Lambda::Url": "function-url",
}


def ingress_kinds(template: dict[str, Any] | None) -> set[str]:
    """The kinds of every endpoint a template holds: the current one and any retiring."""
    resources = (template or {}).get("Resources", {})
    return {API_KINDS[r["Type"]] for r in resources.values() if r.get("Type") in API_KINDS}


@dataclass(frozen=True)
class OldEndpoint:
    """An endpoint of an earlier `ingress` kind that a deployed stack still holds."""

    kind: str
    url: str | None  # None: not derivable (the emulator skips HTTP APIs and function URLs)
    requests: float | None  # in the last `ingress_retire_after`; None: CloudWatch has none
    unread: str = ""  # why its traffic could not be read: then it is kept, to be safe

    @property
    def keep(self) -> bool:
        return bool(self.unread) or bool(self.requests)


def old_endpoints(
    aws: Aws, pipeline: PipelineConfig, deployed: dict[str, Any] | None, resources: dict[str, str]
) -> list[OldEndpoint]:
    """The deployed endpoints of other kinds than `pipeline.spec.ingress`, with their traffic
    over the retire window (one GetMetricData call for all of them)."""
    kinds = sorted(ingress_kinds(deployed) - {pipeline.spec.ingress})
    if not kinds:
        return []
    metrics = [api_metric(as_kind(pipeline, kind), "Count", physical=resources) for kind in kinds]
    readable = [all(value for _, value in dims) for _, _, dims in metrics]
    window = timedelta(seconds=pipeline.spec.ingress_retire_after)
    asked = [metric for metric, ok in zip(metrics, readable, strict=True) if ok]
    try:
        read = request_counts(aws, asked, window)
    except NamiError as exc:
        read = [Unread(f"CloudWatch: {exc}")] * len(asked)
    counts = iter(read)
    unreadable = Unread("no deployed id to read its CloudWatch metric by")
    return [
        judged(kind, _url(aws, resources, pipeline.path, kind), next(counts) if ok else unreadable)
        for kind, ok in zip(kinds, readable, strict=True)
    ]


def judged(kind: str, url: str | None, count: float | Unread | None) -> OldEndpoint:
    """An old endpoint and its request count: a count not read in full keeps it."""
    if isinstance(count, Unread):
        return OldEndpoint(kind, url, None, unread=count.why)
    return OldEndpoint(kind, url, count)


def _url(aws: Aws, resources: dict[str, str], path: str, kind: str) -> str | None:
    """None where it cannot be read (a role without docs/iam's plan-role grant of
    lambda:GetFunctionUrlConfig may not read a function URL's config)."""
    try:
        return endpoint_of(aws, resources, path, kind)
    except NamiError:
        return None


def endpoint_warnings(pipeline: PipelineConfig, old: list[OldEndpoint]) -> list[PlanWarning]:
    """None of these loses a webhook: a live old endpoint stays, a quiet one is removed."""
    quiet = format_duration(pipeline.spec.ingress_retire_after)
    warnings = []
    for endpoint in old:
        where = f"old `{endpoint.kind}` endpoint {endpoint.url or '(URL not readable)'}"
        if endpoint.unread:
            said = (
                f"{where} is kept, still writing into the queue: its traffic cannot be read "
                f"({endpoint.unread})"
            )
        elif endpoint.keep:
            said = (
                f"{where} still live: {endpoint.requests:.0f} request"
                f"{'' if endpoint.requests == 1 else 's'} in the last {quiet}; it keeps writing "
                f"into the queue and is retired when quiet for {quiet} "
                "(`ingress_retire_after`)"
            )
        else:
            said = f"{where} had no request in the last {quiet}: this deploy removes it"
        kind: WarningKind = "endpoint-live" if endpoint.keep else "endpoint-retired"
        warnings.append(PlanWarning(pipeline.name, kind, f"{pipeline.name}: {said}"))
    return warnings


def kind_change_warning(
    pipeline: PipelineConfig, deployed: dict[str, Any] | None
) -> list[PlanWarning]:
    """The deployed current kind (recorded in the template's Metadata) differs: a new URL."""
    before = deployed_kind(deployed)
    after = pipeline.spec.ingress
    if before is None or before == after:
        return []
    return [
        PlanWarning(
            pipeline.name,
            "endpoint-changed",
            f"{pipeline.name}: ingress changes from `{before}` to `{after}`: a new endpoint "
            f"URL (`nami status` shows it after the deploy); the old one stays live, writing "
            f"into the same queue, until it has had no request for "
            f"{format_duration(pipeline.spec.ingress_retire_after)}: update the senders",
        )
    ]


def deployed_kind(deployed: dict[str, Any] | None) -> str | None:
    """The current kind of a deployed template: all its kinds but those it records retiring."""
    retiring = set(((deployed or {}).get("Metadata") or {}).get(METADATA_KEY, {}).get(RETIRING, []))
    current = ingress_kinds(deployed) - retiring
    return next(iter(sorted(current)), None)


def ingress_note(pipeline: PipelineConfig) -> str:
    """What the plan says about a pipeline's endpoint, beyond its kind's defaults."""
    spec = pipeline.spec
    if spec.ingress == "function-url":
        cap = (spec.ingress_function or IngressFunction()).reserved_concurrency
        if cap is None:
            return "function URL, uncapped (`ingress_function.reserved_concurrency: null`)"
        return (
            f"function URL, at most {cap} request{'s' if cap != 1 else ''} at once "
            "(`ingress_function.reserved_concurrency`; above it Lambda answers 429)"
        )
    if spec.ingress == "http":
        # Response mapping cannot replace the body (compile/ingress_http.py): say it each plan.
        shown = "a refused request shows the sender SQS's error text (use `rest` to hide it)"
        if VERIFIED_ON_AWS:
            return f"HTTP API: {shown}"
        return f"HTTP API, not yet verified on AWS (`make aws-smoke`, docs/aws-smoke.md); {shown}"
    return ""
