"""What the plan role's credentials can do, on the moto server with IAM enforcement on.

The role is made from docs/iam (trust policy verbatim), assumed, and the real `nami plan` runs
with its credentials: it must succeed. Then everything a pull request must not do is tried
with the same credentials: each is denied.

What moto 5.2 enforces (read from moto/core/authorization.py and moto/iam/access_control.py,
switched on through POST /moto-api/reset-auth, which ThreadedMotoServer serves):
- the signature, and the action of every call, against the caller's role policies, with
  explicit Deny winning;
- Resource for S3 (the bucket/key ARN) and for SQS queues that exist; every CloudFormation
  call, and SQS on a queue that does not exist, is evaluated against Resource "*";
- of conditions, only StringEquals on sts:ExternalId; other keys and operators pass.
So the Allow statements for CloudFormation and SQS are widened to "*" here (their ARN scoping,
the change-set name and tag-on-create conditions, and the trust conditions are checked by
reading the documents, test_iam_documents.py); S3 statements and every Deny stay verbatim.
"""

from __future__ import annotations

import copy
import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest
from click.testing import CliRunner

import nami_action.aws.stacks
from nami_action.apply import DeployOptions, deploy
from nami_action.aws import stacks as cfn
from nami_action.aws.session import Aws, AwsTarget
from nami_action.cli import cli
from nami_action.config import load_config
from nami_action.plan.planner import PlanOptions, make_plan
from tests.conftest import REGION

from .iam_documents import PROJECT, Policy, as_list, load, statements

pytestmark = pytest.mark.emulator

BUCKET = "nami-bootstrap-artifactbucket-emulated"
PIPELINE = """  {name}:
    verify: {{scheme: none}}
    consumer:
      code: consumer
      max_concurrency: {concurrency}
"""
FAST = "0.05"


def write_config(folder: Path, pipelines: dict[str, int]) -> Path:
    body = "".join(PIPELINE.format(name=n, concurrency=c) for n, c in pipelines.items())
    config = folder / "nami.yaml"
    config.write_text(
        f"version: 1\nproject: {PROJECT}\nregion: {REGION}\nartifacts: {{bucket: {BUCKET}}}\n"
        f"pipelines:\n{body}"
    )
    return config


def as_moto_evaluates(policy: Policy) -> Policy:
    """The plan policy with its CloudFormation and SQS Allow resources widened to "*", the
    only resource moto matches them against (see the module docstring)."""
    widened = copy.deepcopy(policy)
    for statement in statements(widened, "Allow"):
        services = {action.split(":")[0] for action in as_list(statement["Action"])}
        if services <= {"cloudformation", "sqs"}:
            statement["Resource"] = "*"
    return widened


def set_auth(endpoint: str, free_calls: str) -> None:
    """moto's switch: after `free_calls` more requests, every request is authorized."""
    request = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth",
        data=free_calls.encode(),
        method="POST",
        headers={"Content-Type": "text/plain"},  # a form type would hide the body from moto
    )
    urllib.request.urlopen(request, timeout=10).close()


@pytest.fixture
def deployed(tmp_path: Path, aws: Aws) -> Path:
    """acme-webhooks-stripe deployed (with the emulator's unchecked default credentials)."""
    (tmp_path / "consumer").mkdir()
    (tmp_path / "consumer" / "handler.py").write_text("def handle(webhook):\n    return None\n")
    aws.client("s3").create_bucket(Bucket=BUCKET)
    config = write_config(tmp_path, {"stripe": 5})
    run = make_plan(load_config(config), aws, PlanOptions(keep_change_sets=True, poll_seconds=0.05))
    result = deploy(aws, run, DeployOptions(poll_seconds=0.05), lambda event: None)
    assert result.ok, result
    return config


@pytest.fixture
def as_plan_role(
    emulator: str, aws: Aws, deployed: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Aws]:
    """Credentials of the plan role from docs/iam, and IAM enforcement on until the end."""
    role = aws.client("iam").create_role(
        RoleName="nami-plan",
        AssumeRolePolicyDocument=json.dumps(load("plan-role-trust-policy.json")),
    )["Role"]
    aws.client("iam").put_role_policy(
        RoleName="nami-plan",
        PolicyName="nami-plan",
        PolicyDocument=json.dumps(as_moto_evaluates(load("plan-role-policy.json"))),
    )
    # moto does not check web identity tokens or the trust conditions (test_iam_documents.py
    # evaluates those); what matters here is what the credentials can do.
    credentials = aws.client("sts").assume_role_with_web_identity(
        RoleArn=role["Arn"], RoleSessionName="nami-plan", WebIdentityToken="github-oidc-token"
    )["Credentials"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", credentials["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", credentials["SecretAccessKey"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", credentials["SessionToken"])
    set_auth(emulator, "0")
    try:
        yield Aws(AwsTarget(region=REGION, endpoint_url=emulator))
    finally:
        set_auth(emulator, "inf")


def denied(call: Any, **kwargs: Any) -> bool:
    try:
        call(**kwargs)
    except botocore.exceptions.ClientError as exc:
        code = exc.response["Error"]["Code"]
        # moto answers SQS's JSON protocol with an XML body botocore cannot read: code "403".
        assert code in ("AccessDenied", "AccessDeniedException", "403"), exc
        assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == 403, exc
        return True
    return False


def test_nami_plan_works_with_the_plan_role_alone(
    as_plan_role: Aws, deployed: Path, emulator: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(deployed.parent, {"stripe": 40, "github": 5})  # one update, one create
    # Templates go through S3 (as a large one would), so the review-prefix upload is checked.
    monkeypatch.setattr(nami_action.aws.stacks, "TEMPLATE_BODY_LIMIT", 0)
    result = CliRunner().invoke(
        cli, ["plan", str(deployed), "--format", "json", "--poll-seconds", FAST]
    )
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    actions = {p["pipeline"]: (p["action"], p.get("error")) for p in plan["pipelines"]}
    assert actions == {"stripe": ("update", ""), "github": ("create", "")}
    assert all(p["changes"] for p in plan["pipelines"])

    set_auth(emulator, "inf")  # the plan role may not list the bucket; look as the admin
    listed = as_plan_role.client("s3").list_objects_v2(Bucket=BUCKET)["Contents"]
    templates = [o["Key"] for o in listed if o["Key"].endswith(".json")]
    assert len(templates) == 2
    assert all(key.startswith(cfn.REVIEW_TEMPLATE_PREFIX) for key in templates)


def test_what_a_pull_request_must_never_do_is_denied(as_plan_role: Aws, deployed: Path) -> None:
    cfn_client = as_plan_role.client("cloudformation")
    stack = "acme-webhooks-stripe"
    template = json.dumps(cfn_client.get_template(StackName=stack)["TemplateBody"])
    made = cfn_client.create_change_set(
        StackName=stack,
        ChangeSetName="nami-plan-stripe-probe",
        TemplateBody=template.replace('"Nami', '"Changed by a pull request: Nami', 1),
        ChangeSetType="UPDATE",
        Capabilities=["CAPABILITY_IAM"],
    )
    assert denied(cfn_client.execute_change_set, ChangeSetName=made["Id"])
    assert denied(cfn_client.delete_stack, StackName=stack)
    assert denied(
        cfn_client.update_stack,
        StackName=stack,
        TemplateBody=template,
        Capabilities=["CAPABILITY_IAM"],
    )
    assert denied(cfn_client.create_stack, StackName="acme-webhooks-new", TemplateBody=template)
    cfn_client.delete_change_set(ChangeSetName=made["Id"])  # its own change set: allowed

    s3 = as_plan_role.client("s3")
    for key in (f"nami/artifacts/{'a' * 64}.zip", f"nami/templates/{'b' * 64}.json"):
        assert denied(s3.put_object, Bucket=BUCKET, Key=key, Body=b"swapped")
        assert denied(s3.delete_object, Bucket=BUCKET, Key=key)
    assert denied(s3.put_object, Bucket=BUCKET, Key="nami/reviewed/x.json", Body=b"{}")
    s3.put_object(Bucket=BUCKET, Key="nami/review/templates/x.json", Body=b"{}")

    resources = cfn.stack_resources(as_plan_role, stack) or {}
    sqs = as_plan_role.client("sqs")
    queue = sqs.get_queue_url(QueueName="acme-webhooks-stripe")["QueueUrl"]
    assert denied(sqs.send_message, QueueUrl=queue, MessageBody="{}")
    assert denied(sqs.purge_queue, QueueUrl=queue)
    assert denied(sqs.delete_queue, QueueUrl=queue)
    lam = as_plan_role.client("lambda")
    assert denied(lam.update_function_configuration, FunctionName=resources["Consumer"], Timeout=3)
    iam = as_plan_role.client("iam")
    assert denied(iam.create_role, RoleName="x", AssumeRolePolicyDocument="{}")


def test_nami_deploy_with_the_plan_role_changes_nothing(
    as_plan_role: Aws, deployed: Path, emulator: str
) -> None:
    write_config(deployed.parent, {"stripe": 40})
    result = CliRunner().invoke(cli, ["deploy", str(deployed), "--poll-seconds", FAST])
    assert result.exit_code == 1
    assert "access denied" in result.output and "Traceback" not in result.output
    set_auth(emulator, "inf")
    stacks = cfn.list_stacks(as_plan_role)
    assert stacks["acme-webhooks-stripe"].status == "CREATE_COMPLETE"
    body = as_plan_role.client("cloudformation").get_template(StackName="acme-webhooks-stripe")
    assert '"MaximumConcurrency": 5' in json.dumps(body["TemplateBody"])
