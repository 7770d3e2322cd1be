"""The plan's guard for a change of ingress kind: the endpoint URL changes with it.

Each kind is its own API (a REST API, an HTTP API) with its own id, and the id is in the URL.
Deploying the change deletes the old API: a sender still posting to the old URL gets 403/404
and, once its retries run out, the webhook is lost without ever being acknowledged. So the
plan says so loudly, and deploy asks for `--force` (the same guard as a replaced queue).
"""

from __future__ import annotations

from typing import Any

from nami_action.compile.ingress_http import VERIFIED_ON_AWS
from nami_action.config import PipelineConfig
from nami_action.config.models import IngressFunction
from nami_action.plan.model import PlanWarning

# The resource type that tells a compiled or deployed template's ingress kind.
API_KINDS = {
    "AWS::ApiGateway::RestApi": "rest",
    "AWS::ApiGatewayV2::Api": "http",
    "AWS::Lambda::Url": "function-url",
}


def ingress_kind(template: dict[str, Any] | None) -> str | None:
    resources = (template or {}).get("Resources", {})
    kinds = {API_KINDS.get(r.get("Type", "")) for r in resources.values()} - {None}
    return next(iter(sorted(k for k in kinds if k)), None)


def endpoint_warnings(
    pipeline: str, deployed: dict[str, Any] | None, compiled: dict[str, Any] | None
) -> list[PlanWarning]:
    before, after = ingress_kind(deployed), ingress_kind(compiled)
    if before is None or after is None or before == after:
        return []
    return [
        PlanWarning(
            pipeline,
            "endpoint-changed",
            f"{pipeline}: ingress changes from `{before}` to `{after}`: the endpoint URL "
            "changes and the old one is deleted; senders must be updated to the new URL "
            "(`nami status` shows it), or webhooks sent to the old one are lost",
            loses_messages=True,
        )
    ]


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
    if spec.ingress == "http" and not VERIFIED_ON_AWS:
        return "HTTP API, not yet verified on AWS (`make aws-smoke`, docs/aws-smoke.md)"
    return ""
