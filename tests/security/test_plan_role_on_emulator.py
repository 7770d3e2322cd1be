"""What the plan role's credentials can do, on the moto server with IAM enforcement on (what
moto enforces, and how the policy is adapted to it: enforced.py).

The role is made from docs/iam, assumed, and the real `nami plan` runs with its credentials:
it must succeed. Then everything a pull request must not do is tried with the same
credentials: each is denied. And `nami deploy` with them changes nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest
from click.testing import CliRunner

import nami_action.aws.stacks
from nami_action.apply import DeployOptions, deploy
from nami_action.aws import stacks as cfn
from nami_action.aws.artifacts import deploy_bootstrap
from nami_action.aws.session import Aws, AwsTarget
from nami_action.cli import cli
from nami_action.compile.bootstrap import DEFAULT_STACK_NAME, bootstrap_template_json
from nami_action.config import load_config
from nami_action.plan.planner import PlanOptions, make_plan
from tests.conftest import REGION

from .enforced import BUCKET, assume, not_in_policy, record_calls, set_auth, write_config
from .iam_documents import load

pytestmark = pytest.mark.emulator

FAST = "0.05"
STACK = "acme-webhooks-stripe"


@pytest.fixture
def deployed(project_folder: Path, aws: Aws) -> Path:
    """acme-webhooks-stripe deployed (with the emulator's unchecked default credentials)."""
    config = write_config(project_folder, {"stripe": 5}, REGION)
    options = PlanOptions(keep_change_sets=True, poll_seconds=0.05)
    run = make_plan(load_config(config), aws, options)
    result = deploy(aws, run, DeployOptions(poll_seconds=0.05), lambda event: None)
    assert result.ok, result
    return config


@pytest.fixture
def plan_role(deployed: Path, aws: Aws, emulator: str, monkeypatch: pytest.MonkeyPatch) -> Aws:
    assume(aws, "plan", monkeypatch)
    return Aws(AwsTarget(region=REGION, endpoint_url=emulator))


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
    plan_role: Aws, deployed: Path, enforced: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(deployed.parent, {"stripe": 40, "github": 5}, REGION)  # an update, a create
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

    set_auth(enforced, "inf")  # the plan role may not list the bucket; look as the admin
    listed = plan_role.client("s3").list_objects_v2(Bucket=BUCKET)["Contents"]
    templates = [o["Key"] for o in listed if o["Key"].endswith(".json")]
    assert len(templates) == 2
    assert all(key.startswith(cfn.REVIEW_TEMPLATE_PREFIX) for key in templates)


def test_what_a_pull_request_must_never_do_is_denied(plan_role: Aws, enforced: str) -> None:
    cfn_client = plan_role.client("cloudformation")
    template = json.dumps(cfn_client.get_template(StackName=STACK)["TemplateBody"])
    made = cfn_client.create_change_set(
        StackName=STACK,
        ChangeSetName="nami-plan-stripe-probe",
        TemplateBody=template.replace('"Nami', '"Changed by a pull request: Nami', 1),
        ChangeSetType="UPDATE",
        Capabilities=["CAPABILITY_IAM"],
    )
    assert denied(cfn_client.execute_change_set, ChangeSetName=made["Id"])
    assert denied(cfn_client.delete_stack, StackName=STACK)
    assert denied(
        cfn_client.update_stack,
        StackName=STACK,
        TemplateBody=template,
        Capabilities=["CAPABILITY_IAM"],
    )
    assert denied(cfn_client.create_stack, StackName="acme-webhooks-new", TemplateBody=template)
    cfn_client.delete_change_set(ChangeSetName=made["Id"])  # its own change set: allowed

    s3 = plan_role.client("s3")
    for key in (f"nami/artifacts/{'a' * 64}.zip", f"nami/templates/{'b' * 64}.json"):
        assert denied(s3.put_object, Bucket=BUCKET, Key=key, Body=b"swapped")
        assert denied(s3.delete_object, Bucket=BUCKET, Key=key)
    assert denied(s3.put_object, Bucket=BUCKET, Key="nami/reviewed/x.json", Body=b"{}")
    s3.put_object(Bucket=BUCKET, Key="nami/review/templates/x.json", Body=b"{}")

    resources = cfn.stack_resources(plan_role, STACK) or {}
    sqs = plan_role.client("sqs")
    queue = sqs.get_queue_url(QueueName=STACK)["QueueUrl"]
    assert denied(sqs.send_message, QueueUrl=queue, MessageBody="{}")
    assert denied(sqs.purge_queue, QueueUrl=queue)
    assert denied(sqs.delete_queue, QueueUrl=queue)
    lam = plan_role.client("lambda")
    assert denied(lam.update_function_configuration, FunctionName=resources["Consumer"], Timeout=3)
    iam = plan_role.client("iam")
    assert denied(iam.create_role, RoleName="x", AssumeRolePolicyDocument="{}")


def test_nami_deploy_with_the_plan_role_changes_nothing(
    plan_role: Aws, deployed: Path, enforced: str
) -> None:
    write_config(deployed.parent, {"stripe": 40}, REGION)
    result = CliRunner().invoke(cli, ["deploy", str(deployed), "--poll-seconds", FAST])
    assert result.exit_code == 1
    assert "access denied" in result.output and "Traceback" not in result.output
    set_auth(enforced, "inf")
    assert cfn.list_stacks(plan_role)[STACK].status == "CREATE_COMPLETE"
    body = plan_role.client("cloudformation").get_template(StackName=STACK)["TemplateBody"]
    assert '"MaximumConcurrency": 5' in json.dumps(body)


def test_the_plan_role_finds_the_bootstrap_bucket(
    project_folder: Path, aws: Aws, emulator: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without `artifacts.bucket` the plan reads the bucket from the nami-bootstrap stack."""
    deploy_bootstrap(aws, DEFAULT_STACK_NAME, bootstrap_template_json(), poll_seconds=1)
    config = write_config(project_folder, {"stripe": 5}, REGION, bucket=None)
    assume(aws, "plan", monkeypatch)
    set_auth(emulator, "0")
    try:
        result = CliRunner().invoke(
            cli, ["plan", str(config), "--format", "json", "--poll-seconds", FAST]
        )
    finally:
        set_auth(emulator, "inf")
    assert result.exit_code == 0, result.output
    (pipeline,) = json.loads(result.output)["pipelines"]
    assert (pipeline["action"], pipeline["error"]) == ("create", "")


def test_every_call_of_the_actions_plan_is_allowed_by_the_plan_role(
    plan_role: Aws, deployed: Path, enforced: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Action plans without drift reads (PlanOptions.drift is off), as `--no-drift`."""
    write_config(deployed.parent, {"stripe": 40, "github": 5}, REGION)
    calls = record_calls(monkeypatch)
    result = CliRunner().invoke(
        cli, ["plan", str(deployed), "--format", "json", "--no-drift", "--poll-seconds", FAST]
    )
    assert result.exit_code == 0, result.output
    assert {"cloudformation:CreateChangeSet", "cloudformation:DeleteChangeSet"} <= calls
    assert not_in_policy(calls, load("plan-role-policy.json")) == set()


def test_the_plan_role_reads_a_retiring_function_url(
    project_folder: Path, aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ingress change away from `function-url` keeps the old URL until it is quiet; the PR
    plan names it, read with GetFunctionUrlConfig, which the plan role must allow
    (docs/iam/plan-role-policy.json), or the plan says "(URL not readable)".

    Run without IAM enforcement: with it on, moto 5.2 answers every Lambda call (even under
    an Allow of "*") SignatureDoesNotMatch, measured here. So the emulator shows that the plan
    reads and shows the URL and that each call it made is one the plan role's document allows;
    test_iam_documents.py checks the grant's resource scope."""
    config = write_config(project_folder, {"stripe": 5}, REGION, ingress={"stripe": "function-url"})
    options = PlanOptions(keep_change_sets=True, poll_seconds=0.05)
    result = deploy(aws, make_plan(load_config(config), aws, options), DeployOptions(), print)
    assert result.ok, result
    # moto's CloudFormation skips AWS::Lambda::Url (DESIGN.md): made here, as AWS would have.
    ingest = (cfn.stack_resources(aws, STACK) or {})["IngestFunction"]
    url = aws.client("lambda").create_function_url_config(FunctionName=ingest, AuthType="NONE")
    write_config(project_folder, {"stripe": 5}, REGION)  # back to `rest`
    calls = record_calls(monkeypatch)
    planned = CliRunner().invoke(
        cli, ["plan", str(config), "--format", "json", "--no-drift", "--poll-seconds", FAST]
    )
    assert planned.exit_code == 0, planned.output
    (stripe,) = json.loads(planned.output)["pipelines"]
    (old,) = [w for w in stripe["warnings"] if w["kind"] in ("endpoint-live", "endpoint-retired")]
    # AWS's FunctionUrl ends with "/" (nami appends the path to it); moto's does not.
    assert f"old `function-url` endpoint {url['FunctionUrl']}" in old["message"]
    assert "lambda:GetFunctionUrlConfig" in calls
    assert not_in_policy(calls, load("plan-role-policy.json")) == set()
