"""The plan's guard for a change of ingress kind: the endpoint URL changes with it.

Each kind is its own API (a REST API, an HTTP API) with its own id, and the id is in the URL.
Deploying the change deletes the old API: a sender still posting to the old URL gets 403/404
and, once its retries run out, the webhook is lost without ever being acknowledged. So the
plan says so loudly, and deploy asks for `--force` (the same guard as a replaced queue).
"""

from __future__ import annotations

from typing import Any

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
