"""The deploy role from docs/iam, on the moto server with IAM enforcement on (what moto
enforces, and how the policy is adapted to it: enforced.py): the real `nami deploy` creates and
then updates a pipeline with its credentials alone, and it can neither read nor write what a
pull request's plan uploads."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from nami_action.aws.artifacts import deploy_bootstrap
from nami_action.aws.session import Aws, AwsTarget
from nami_action.cli import cli
from nami_action.compile.bootstrap import DEFAULT_STACK_NAME, bootstrap_template_json
from tests.conftest import REGION

from .enforced import BUCKET, assume, not_in_policy, record_calls, set_auth, write_config
from .iam_documents import load
from .test_plan_role_on_emulator import FAST, STACK, denied

pytestmark = pytest.mark.emulator


@pytest.fixture
def deploy_role(aws: Aws, emulator: str, monkeypatch: pytest.MonkeyPatch) -> Aws:
    # Something a plan uploaded: the deploy role must not even read it.
    aws.client("s3").put_object(Bucket=BUCKET, Key="nami/review/templates/x.json", Body=b"{}")
    assume(aws, "deploy", monkeypatch)
    return Aws(AwsTarget(region=REGION, endpoint_url=emulator))


def test_nami_deploy_works_with_the_deploy_role_alone(
    project_folder: Path, deploy_role: Aws, enforced: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(project_folder, {"stripe": 5}, REGION)
    deploy = ["deploy", str(config), "--poll-seconds", FAST]
    created = CliRunner().invoke(cli, deploy)
    assert created.exit_code == 0, created.output
    write_config(project_folder, {"stripe": 40}, REGION)
    calls = record_calls(monkeypatch)
    updated = CliRunner().invoke(cli, deploy)
    assert updated.exit_code == 0, updated.output
    assert "updated" in updated.output
    # The code did not change: the update keeps the S3 version the stack runs, after reading
    # that version's checksum (s3:GetObjectVersion), and uploads nothing.
    assert "s3:GetObjectVersion" in calls and "s3:PutObject" not in calls
    assert not_in_policy(calls, load("deploy-role-policy.json")) == set()

    s3 = deploy_role.client("s3")
    review = "nami/review/templates/x.json"
    assert denied(s3.get_object, Bucket=BUCKET, Key=review)
    assert denied(s3.put_object, Bucket=BUCKET, Key=review, Body=b"{}")
    set_auth(enforced, "inf")
    body = deploy_role.client("cloudformation").get_template(StackName=STACK)["TemplateBody"]
    assert body["Resources"]["ConsumerEventSource"]["Properties"]["ScalingConfig"] == {
        "MaximumConcurrency": 40
    }


def test_every_ingress_kind_deploys_with_the_deploy_role_and_the_bootstrap_bucket(
    project_folder: Path, aws: Aws, emulator: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each ingress kind, the bucket found through the bootstrap stack (ListStackResources),
    and every call nami makes is one the deploy role's documents allow."""
    deploy_bootstrap(aws, DEFAULT_STACK_NAME, bootstrap_template_json(), poll_seconds=1)
    kinds = {"rest": "rest", "http": "http", "url": "function-url"}
    config = write_config(
        project_folder, dict.fromkeys(kinds, 2), REGION, bucket=None, ingress=kinds
    )
    assume(aws, "deploy", monkeypatch)
    calls = record_calls(monkeypatch)
    set_auth(emulator, "0")
    try:
        result = CliRunner().invoke(cli, ["deploy", str(config), "--poll-seconds", FAST])
    finally:
        set_auth(emulator, "inf")
    assert result.exit_code == 0, result.output
    assert {"cloudformation:ExecuteChangeSet", "cloudformation:ListStackResources"} <= calls
    assert not_in_policy(calls, load("deploy-role-policy.json")) == set()
