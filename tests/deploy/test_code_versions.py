"""The deployed functions run the S3 version of their zip that the deploy checked, whatever is
put under the zip's key around a plan (plan/code_versions.py), on the moto server: a plan, then
other bytes under the same key (a new object version), then the deploy."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest

from nami_action.apply import DeployOptions, deploy
from nami_action.aws import stacks as cfn
from nami_action.aws.artifacts import sha256_checksum
from nami_action.aws.session import Aws
from nami_action.compile import names
from nami_action.compile.consumer import ARTIFACT_VERSION_GIVEN, ARTIFACT_VERSION_PARAMETER
from nami_action.plan import decide, review
from nami_action.plan.model import DeployResult
from nami_action.plan.planner import PlanRun

from .support import BUCKET, Project
from .test_deploy import FAST, fresh_aws, plan_run

pytestmark = pytest.mark.emulator
STACK = "shop-github"


@pytest.fixture
def versioned(project: Project, aws: Aws) -> Project:
    """One pipeline; the bucket keeps versions, as the `nami bootstrap` bucket does."""
    aws.client("s3").put_bucket_versioning(
        Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"}
    )
    project.pipelines = {"github": 5}
    project.write()
    return project


def carry_out(aws: Aws, run: PlanRun) -> DeployResult:
    return deploy(aws, run, DeployOptions(poll_seconds=FAST), lambda event: None)


def overwrite(aws: Aws, key: str) -> str:
    """Someone with write access to the bucket puts other bytes under the zip's key."""
    answer = aws.client("s3").put_object(
        Bucket=BUCKET, Key=key, Body=b"not the reviewed zip", ChecksumAlgorithm="SHA256"
    )
    return str(answer["VersionId"])


def pinned_version(aws: Aws) -> str:
    (stack,) = aws.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"]
    values = {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])}
    return values[ARTIFACT_VERSION_PARAMETER]


def checksum_of(aws: Aws, key: str, version: str) -> str:
    head = aws.client("s3").head_object(
        Bucket=BUCKET, Key=key, VersionId=version, ChecksumMode="ENABLED"
    )
    return str(head["ChecksumSHA256"])


def deployed_code(aws: Aws) -> dict[str, Any]:
    body = aws.client("cloudformation").get_template(StackName=STACK)["TemplateBody"]
    return dict(body["Resources"][names.FUNCTION]["Properties"]["Code"])


def test_a_zip_overwritten_after_the_plan_deploys_the_planned_bytes(
    versioned: Project, emulator: str, aws: Aws
) -> None:
    planned = plan_run(versioned, fresh_aws(emulator))
    approved = review.fingerprint(planned, None)
    artifact = planned.artifacts["github"]
    assert approved["pipelines"]["github"]["code_version"] is None  # new code: no version yet
    assert planned.code["github"].version == ""  # the plan's change set leaves it out

    swapped = overwrite(aws, artifact.s3_key)
    run = plan_run(versioned, fresh_aws(emulator), keep=True)
    # The same bytes were planned and are deployed: the approved plan matches.
    assert review.differences(approved, review.fingerprint(run, None)) == []
    result = carry_out(fresh_aws(emulator), run)
    (github,) = result.pipelines
    assert github.outcome == "created", github.reasons
    assert any("did not hold the bytes of the local zip" in r for r in github.reasons)

    version = pinned_version(aws)
    assert version not in ("", swapped)
    assert checksum_of(aws, artifact.s3_key, version) == sha256_checksum(artifact.sha256)
    assert deployed_code(aws)["S3ObjectVersion"] == {
        "Fn::If": [
            ARTIFACT_VERSION_GIVEN,
            {"Ref": ARTIFACT_VERSION_PARAMETER},
            {"Ref": "AWS::NoValue"},
        ]
    }
    # Through Lambda's own API: the function's code is the planned zip.
    function = aws.client("lambda").get_function(FunctionName=github_function(aws))
    zip_digest = hashlib.sha256(artifact.path.read_bytes()).digest()
    assert function["Configuration"]["CodeSha256"] == base64.b64encode(zip_digest).decode()


def github_function(aws: Aws) -> str:
    resources = aws.client("cloudformation").list_stack_resources(StackName=STACK)
    (function,) = [
        r["PhysicalResourceId"]
        for r in resources["StackResourceSummaries"]
        if r["LogicalResourceId"] == names.FUNCTION
    ]
    return str(function)


def test_an_update_keeps_the_version_the_stack_runs_or_one_with_the_reviewed_bytes(
    versioned: Project, emulator: str, aws: Aws
) -> None:
    created = carry_out(fresh_aws(emulator), plan_run(versioned, fresh_aws(emulator), keep=True))
    assert [p.outcome for p in created.pipelines] == ["created"]
    running = pinned_version(aws)

    # A settings change, same code: the plan keeps the version the stack runs.
    versioned.pipelines = {"github": 40}
    versioned.write()
    planned = plan_run(versioned, fresh_aws(emulator))
    approved = review.fingerprint(planned, None)
    assert approved["pipelines"]["github"]["code_version"] == running
    key = planned.artifacts["github"].s3_key
    overwrite(aws, key)

    run = plan_run(versioned, fresh_aws(emulator), keep=True)
    assert review.differences(approved, review.fingerprint(run, None)) == []
    updated = carry_out(fresh_aws(emulator), run)
    assert [p.outcome for p in updated.pipelines] == ["updated"], updated.pipelines
    assert pinned_version(aws) == running
    assert checksum_of(aws, key, running) == sha256_checksum(planned.artifacts["github"].sha256)
    # Lambda's API cannot show it here: moto 5.2's Lambda ignores S3ObjectVersion and reads
    # the key's current object (moto/awslambda/models.py, _set_function_code), so its
    # CodeSha256 is the overwritten bytes'. AWS fetches the version the template names
    # (https://docs.aws.amazon.com/lambda/latest/api/API_FunctionCode.html), which is
    # `running`, checked above through CloudFormation and S3.

    # The kept version disappears (deleted, or expired as noncurrent): every plan still sees
    # the stack run it, and cannot read S3 to know. The deploy pins another version whose
    # SHA-256 it checked is the reviewed zip's, and the approved plan stands.
    versioned.pipelines = {"github": 60}
    versioned.write()
    approved = review.fingerprint(plan_run(versioned, fresh_aws(emulator)), None)
    assert approved["pipelines"]["github"]["code_version"] == running
    aws.client("s3").delete_object(Bucket=BUCKET, Key=key, VersionId=running)
    run = plan_run(versioned, fresh_aws(emulator), keep=True)
    repinned = run.code["github"].version
    assert repinned not in ("", running)
    assert "no longer holds the zip" in run.code["github"].note
    assert review.differences(approved, review.fingerprint(run, None)) == []
    (github,) = carry_out(fresh_aws(emulator), run).pipelines
    assert github.outcome == "updated", github
    assert any("approved plan stands" in reason for reason in github.reasons), github.reasons
    assert pinned_version(aws) == repinned
    assert checksum_of(aws, key, repinned) == sha256_checksum(planned.artifacts["github"].sha256)

    # Other bytes under the key and the running version gone: the deploy puts the reviewed
    # zip back (a new version), and still runs exactly the reviewed bytes.
    versioned.pipelines = {"github": 70}
    versioned.write()
    approved = review.fingerprint(plan_run(versioned, fresh_aws(emulator)), None)
    overwrite(aws, key)
    aws.client("s3").delete_object(Bucket=BUCKET, Key=key, VersionId=repinned)
    run = plan_run(versioned, fresh_aws(emulator), keep=True)
    assert review.differences(approved, review.fingerprint(run, None)) == []
    assert carry_out(fresh_aws(emulator), run).pipelines[0].outcome == "updated"
    again = pinned_version(aws)
    assert again not in (running, repinned)
    assert checksum_of(aws, key, again) == sha256_checksum(planned.artifacts["github"].sha256)


def test_a_bucket_without_versions_deploys_with_a_warning(
    project: Project, emulator: str, aws: Aws
) -> None:
    project.pipelines = {"github": 5}
    project.write()
    run = plan_run(project, fresh_aws(emulator), keep=True)
    (github,) = carry_out(fresh_aws(emulator), run).pipelines
    assert github.outcome == "created"
    assert any("keeps no object versions" in r for r in github.reasons), github.reasons
    assert pinned_version(aws) == ""

    # Same code, other settings: the stack keeps running the key unpinned (its code is not
    # fetched again), and plan and deploy agree on that.
    project.pipelines = {"github": 40}
    project.write()
    approved = review.fingerprint(plan_run(project, fresh_aws(emulator)), None)
    assert approved["pipelines"]["github"]["code_version"] == ""
    run = plan_run(project, fresh_aws(emulator), keep=True)
    assert review.differences(approved, review.fingerprint(run, None)) == []
    (github,) = carry_out(fresh_aws(emulator), run).pipelines
    assert github.outcome == "updated" and github.reasons == []


def test_a_change_set_without_changes_is_empty_and_a_new_version_alone_is_a_change(
    versioned: Project, emulator: str, aws: Aws
) -> None:
    """The same template with the same ArtifactVersion changes nothing; another version of
    the zip alone is a change (CloudFormation updates the function's code).

    AWS creates the empty change set and ends it FAILED ("The submitted information didn't
    contain changes..."). moto 5.2 does that only for a change set without Parameters; with
    them it refuses CreateChangeSet itself with "No updates are to be performed."
    (moto/cloudformation/responses.py, _validate_different_update). create_change_set reads
    both as an empty change set; this test meets the second, AWS the first."""
    carry_out(fresh_aws(emulator), plan_run(versioned, fresh_aws(emulator), keep=True))
    running = pinned_version(aws)
    run = plan_run(versioned, fresh_aws(emulator))
    assert [p.action for p in run.plan.pipelines] == ["none"]
    body = {"TemplateBody": decide.compact(run.templates["github"])}
    tags = names.resource_tags(run.config, run.config.pipelines["github"])

    def change_set(name: str, version: str) -> cfn.ChangeSetResult:
        parameters = {ARTIFACT_VERSION_PARAMETER: version}
        return cfn.create_change_set(
            aws,
            STACK,
            name,
            body,
            create=False,
            tags=tags,
            poll_seconds=FAST,
            parameters=parameters,
        )

    same = change_set("nami-plan-same", running)
    assert same.empty and same.status == "FAILED", same
    other = overwrite(aws, run.artifacts["github"].s3_key)
    changed = change_set("nami-plan-other", other)
    assert not changed.empty and changed.status == "CREATE_COMPLETE"
    cfn.delete_change_set(aws, changed.change_set_id)
