"""The roles of docs/iam on the moto server with IAM enforcement on.

What moto 5.2 enforces (read from moto/core/authorization.py and moto/iam/access_control.py;
switched on through POST /moto-api/reset-auth, which ThreadedMotoServer serves):
- the signature, and the action of every call against the caller's role policies, an explicit
  Deny winning;
- Resource for S3 (the bucket/key ARN) and for SQS queues that exist; every CloudFormation
  and Lambda call, and SQS on a queue that does not exist, is matched against Resource "*"
  only;
- of conditions, only StringEquals (on sts:ExternalId); every other operator counts as met;
- CloudWatch's actions under its endpoint prefix, `monitoring:`, not IAM's `cloudwatch:`.
So the Allow statements for CloudFormation, SQS and Lambda are widened to "*" here, each
`cloudwatch:` action is also granted as `monitoring:`, and a Deny with a condition is left
out (moto would apply it unconditionally). Their ARN scoping and conditions
are checked by reading the documents (test_iam_documents.py); S3 statements and every
unconditional Deny stay verbatim. Resources CloudFormation itself creates are not authorized
by moto at all, so only the calls nami makes are put to the test.
"""

from __future__ import annotations

import copy
import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from nami_action.aws import session
from nami_action.aws.session import Aws

from .iam_documents import PROJECT, Policy, allowed, as_list, iam_like, load, statements

BUCKET = "nami-bootstrap-artifactbucket-emulated"
PIPELINE = """  {name}:
    ingress: {ingress}
    verify: {{scheme: none}}
    consumer:
      code: consumer
      max_concurrency: {concurrency}
"""


def write_config(
    folder: Path,
    pipelines: dict[str, int],
    region: str,
    *,
    bucket: str | None = BUCKET,
    ingress: dict[str, str] | None = None,
) -> Path:
    """nami.yaml of the example project; bucket None: the bootstrap stack's bucket."""
    kinds = ingress or {}
    body = "".join(
        PIPELINE.format(name=n, concurrency=c, ingress=kinds.get(n, "rest"))
        for n, c in pipelines.items()
    )
    artifacts = f"artifacts: {{bucket: {bucket}}}\n" if bucket else ""
    config = folder / "nami.yaml"
    config.write_text(
        f"version: 1\nproject: {PROJECT}\nregion: {region}\n{artifacts}pipelines:\n{body}"
    )
    return config


def as_moto_evaluates(policy: Policy) -> Policy:
    """The policy as moto can evaluate it (see the module docstring)."""
    adapted = copy.deepcopy(policy)
    adapted["Statement"] = [
        s for s in as_list(adapted["Statement"]) if s["Effect"] == "Allow" or "Condition" not in s
    ]
    for statement in statements(adapted, "Allow"):
        actions = as_list(statement["Action"])
        services = {action.split(":")[0] for action in actions}
        if services <= {"cloudformation", "sqs", "lambda"}:
            statement["Resource"] = "*"
        if "cloudwatch" in services:
            statement["Action"] = [
                *actions,
                *(a.replace("cloudwatch:", "monitoring:", 1) for a in actions),
            ]
    return adapted


def set_auth(endpoint: str, free_calls: str) -> None:
    """moto's switch: after `free_calls` more requests, every request is authorized."""
    request = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth",
        data=free_calls.encode(),
        method="POST",
        headers={"Content-Type": "text/plain"},  # a form type would hide the body from moto
    )
    urllib.request.urlopen(request, timeout=10).close()


def assume(aws: Aws, role: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the role from docs/iam/<role>-role-*.json, assume it as GitHub's OIDC token would,
    and put its credentials in the environment (the default chain nami uses)."""
    iam = aws.client("iam")
    created = iam.create_role(
        RoleName=f"nami-{role}",
        AssumeRolePolicyDocument=json.dumps(load(f"{role}-role-trust-policy.json")),
    )["Role"]
    iam.put_role_policy(
        RoleName=f"nami-{role}",
        PolicyName=f"nami-{role}",
        PolicyDocument=json.dumps(as_moto_evaluates(load(f"{role}-role-policy.json"))),
    )
    # moto checks neither the web identity token nor the trust conditions
    # (test_iam_documents.py evaluates those); what matters here is what the credentials do.
    credentials: dict[str, Any] = aws.client("sts").assume_role_with_web_identity(
        RoleArn=created["Arn"], RoleSessionName=f"nami-{role}", WebIdentityToken="oidc-token"
    )["Credentials"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", credentials["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", credentials["SecretAccessKey"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", credentials["SessionToken"])


# botocore operation -> the IAM action it is authorized as, where the names differ.
AUTHORIZED_AS = {
    "s3:HeadObject": "s3:GetObject",
    "s3:HeadBucket": "s3:ListBucket",
    "s3:ListObjectsV2": "s3:ListBucket",
}
NEEDS_NO_PERMISSION = {"sts:GetCallerIdentity"}


def record_calls(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """Every AWS call nami makes from here on, as the IAM action it needs (a botocore
    before-call hook on each client nami creates)."""
    calls: set[str] = set()
    original = session.Aws.client

    def hook(model: Any, params: Any = None, **_: Any) -> None:
        service = model.service_model.service_name
        name = f"{service}:{model.name}"
        if service == "apigateway":  # authorized as the HTTP verb on the path
            name = f"apigateway:{model.http['method']}"
        name = AUTHORIZED_AS.get(name, name)
        if name == "s3:GetObject" and "versionId" in ((params or {}).get("query_string") or {}):
            # "If you include a versionId in your request header, you must have the
            # s3:GetObjectVersion permission" (S3 API reference, GetObject and HeadObject).
            name = "s3:GetObjectVersion"
        calls.add(name)

    def client(self: session.Aws, service: str) -> Any:
        made = original(self, service)
        if not getattr(made, "_nami_recorded", False):
            made.meta.events.register("before-call", hook)
            made._nami_recorded = True
        return made

    monkeypatch.setattr(session.Aws, "client", client)
    return calls


def not_in_policy(calls: set[str], policy: Policy) -> set[str]:
    """The recorded calls no Allow statement of the policy names (resources and conditions
    are what the emulator enforces, or what test_handler_permissions.py reads)."""
    actions = {action.lower() for action, _ in allowed(policy)}
    return {
        call
        for call in calls - NEEDS_NO_PERMISSION
        if not any(iam_like(a, call.lower()) for a in actions)
    }
