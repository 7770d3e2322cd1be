"""Upload and bootstrap against the moto server (fixture `aws`).

The deploy paths moto cannot produce are in test_artifacts_stubbed.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nami_action.aws.artifacts import (
    bootstrap_bucket,
    bucket_exists,
    deploy_bootstrap,
    upload_artifact,
)
from nami_action.aws.session import Aws, AwsError
from nami_action.compile.bootstrap import DEFAULT_STACK_NAME, bootstrap_template_json
from nami_action.package import Artifact, build_artifact

pytestmark = pytest.mark.emulator


@pytest.fixture
def artifact(tmp_path: Path) -> Artifact:
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text("def handle(webhook):\n    return None\n")
    return build_artifact(code, architecture="arm64", python="3.12", cache_dir=tmp_path / "c")


def count_puts(aws: Aws) -> list[str]:
    calls: list[str] = []

    def hook(params: dict[str, Any], **_: Any) -> None:
        calls.append(str(params["url_path"]))  # the serialized request: /<key>

    aws.client("s3").meta.events.register("before-call.s3.PutObject", hook)
    return calls


def test_upload_then_skip(aws: Aws, artifact: Artifact) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="artifacts")
    puts = count_puts(aws)

    assert upload_artifact(aws, "artifacts", artifact) is True
    body = s3.get_object(Bucket="artifacts", Key=artifact.s3_key)["Body"].read()
    assert body == artifact.path.read_bytes()
    head = s3.head_object(Bucket="artifacts", Key=artifact.s3_key)
    assert head["ContentType"] == "application/zip"
    assert head["Metadata"] == {"nami-sha256": artifact.sha256}
    assert puts == [f"/{artifact.s3_key}"]

    assert upload_artifact(aws, "artifacts", artifact) is False
    assert puts == [f"/{artifact.s3_key}"]  # HeadObject found it: no second PutObject


def test_upload_to_missing_bucket_is_a_clear_error(aws: Aws, artifact: Artifact) -> None:
    with pytest.raises(AwsError, match=r"uploading .* \(NoSuchBucket\)"):
        upload_artifact(aws, "nami-missing-bucket", artifact)


def test_bucket_exists(aws: Aws) -> None:
    assert bucket_exists(aws, "nami-missing-bucket") is False
    aws.client("s3").create_bucket(Bucket="here")
    assert bucket_exists(aws, "here") is True


def test_deploy_bootstrap_creates_bucket_then_updates(aws: Aws, artifact: Artifact) -> None:
    assert bootstrap_bucket(aws, DEFAULT_STACK_NAME) is None
    template = bootstrap_template_json()
    bucket = deploy_bootstrap(aws, DEFAULT_STACK_NAME, template, poll_seconds=1)
    assert bucket.startswith("nami-bootstrap-artifactbucket")
    assert bucket_exists(aws, bucket)
    assert bootstrap_bucket(aws, DEFAULT_STACK_NAME) == bucket

    s3 = aws.client("s3")
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    # moto gap (5.2.x, measured): a bucket made through CloudFormation ignores
    # VersioningConfiguration, PublicAccessBlock, OwnershipControls and LifecycleConfiguration,
    # and AWS::S3::BucketPolicy is skipped. They are asserted on the template and cfn-lint
    # (test_bootstrap_template.py); here, whatever moto does report must be right.
    versioning = s3.get_bucket_versioning(Bucket=bucket)
    assert versioning.get("Status") in (None, "Enabled")

    # Running bootstrap again is an update (or "No updates", on real AWS) with the same bucket.
    assert deploy_bootstrap(aws, DEFAULT_STACK_NAME, template, poll_seconds=1) == bucket

    assert upload_artifact(aws, bucket, artifact) is True
    assert upload_artifact(aws, bucket, artifact) is False


def test_create_failure_names_the_reason(aws: Aws) -> None:
    aws.client("s3").create_bucket(Bucket="taken-name")
    bucket = {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "taken-name"}}
    template = json.dumps({"Resources": {"B": bucket}})
    # moto fails synchronously inside CreateStack; real AWS fails later, through the waiter
    # (that path: test_artifacts_stubbed.py). Either way the reason reaches the user.
    with pytest.raises(AwsError, match=r"creating stack clash .*BucketAlreadyExists"):
        deploy_bootstrap(aws, "clash", template, bucket_logical_id="B", poll_seconds=1)
