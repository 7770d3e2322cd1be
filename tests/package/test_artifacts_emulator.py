"""Upload and bootstrap against the moto server (fixture `aws`).

The deploy paths moto cannot produce are in test_artifacts_stubbed.py."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from nami_action.aws.artifacts import (
    StoredZip,
    bootstrap_bucket,
    bucket_exists,
    deploy_bootstrap,
    sha256_checksum,
    upload_artifact,
    version_holds,
)
from nami_action.aws.session import Aws, AwsError, AwsTarget
from nami_action.compile.bootstrap import DEFAULT_STACK_NAME, bootstrap_template_json
from nami_action.package import Artifact, build_artifact
from tests.conftest import REGION
from tests.deploy.support import FaultProxy

ACCESS_DENIED = (
    "<Error><Code>AccessDenied</Code><Message>not allowed by the bucket policy</Message></Error>"
)

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


def versioned_bucket(aws: Aws, name: str) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})


def test_upload_then_skip(aws: Aws, artifact: Artifact) -> None:
    s3 = aws.client("s3")
    versioned_bucket(aws, "artifacts")
    puts = count_puts(aws)

    stored = upload_artifact(aws, "artifacts", artifact)
    assert stored.upload == "uploaded"
    body = s3.get_object(Bucket="artifacts", Key=artifact.s3_key)["Body"].read()
    assert body == artifact.path.read_bytes()
    head = s3.head_object(Bucket="artifacts", Key=artifact.s3_key, ChecksumMode="ENABLED")
    assert head["ContentType"] == "application/zip"
    digest = hashlib.sha256(artifact.path.read_bytes()).digest()
    assert head["ChecksumSHA256"] == base64.b64encode(digest).decode()
    assert puts == [f"/{artifact.s3_key}"]
    assert stored.version == head["VersionId"]

    again = upload_artifact(aws, "artifacts", artifact)
    assert puts == [f"/{artifact.s3_key}"]  # the stored checksum matched: no second PutObject
    assert again.upload == "unchanged" and again.version == stored.version


def test_a_bucket_without_versioning_gives_no_version(aws: Aws, artifact: Artifact) -> None:
    aws.client("s3").create_bucket(Bucket="artifacts")
    assert upload_artifact(aws, "artifacts", artifact).version is None
    assert upload_artifact(aws, "artifacts", artifact).version is None  # HeadObject: none either


def test_version_holds_only_for_the_zips_bytes(aws: Aws, artifact: Artifact) -> None:
    s3 = aws.client("s3")
    versioned_bucket(aws, "artifacts")
    good = upload_artifact(aws, "artifacts", artifact).version
    assert good is not None
    swapped = s3.put_object(Bucket="artifacts", Key=artifact.s3_key, Body=b"other bytes")
    assert version_holds(aws, "artifacts", artifact, good)  # a version's bytes never change
    assert not version_holds(aws, "artifacts", artifact, swapped["VersionId"])
    s3.delete_object(Bucket="artifacts", Key=artifact.s3_key, VersionId=good)
    assert not version_holds(aws, "artifacts", artifact, good)  # gone is not a refusal


@pytest.mark.parametrize("checksum", [True, False], ids=["own-checksum", "no-checksum"])
def test_swapped_object_under_the_same_key_is_replaced(
    aws: Aws, artifact: Artifact, checksum: bool
) -> None:
    """Someone with write access put other bytes at the zip's key: the key alone would say
    "already uploaded". The SHA-256 S3 keeps says otherwise, and the local zip goes up again."""
    s3 = aws.client("s3")
    versioned_bucket(aws, "artifacts")
    extra = {"ChecksumAlgorithm": "SHA256"} if checksum else {}
    bad = s3.put_object(Bucket="artifacts", Key=artifact.s3_key, Body=b"not the zip", **extra)
    puts = count_puts(aws)

    stored = upload_artifact(aws, "artifacts", artifact)
    assert stored.upload == "replaced"
    assert stored.version not in (None, bad["VersionId"])
    body = s3.get_object(Bucket="artifacts", Key=artifact.s3_key, VersionId=stored.version)
    assert body["Body"].read() == artifact.path.read_bytes()
    assert puts == [f"/{artifact.s3_key}"]
    assert upload_artifact(aws, "artifacts", artifact) == StoredZip("unchanged", stored.version)


def test_swapped_object_that_cannot_be_replaced_stops_the_deploy(
    emulator: str, artifact: Artifact
) -> None:
    """If the upload that would repair a swapped object is refused, nothing may go on with
    the bytes in S3: one clear error naming both checksums."""
    Aws(AwsTarget(region=REGION, endpoint_url=emulator)).client("s3").create_bucket(
        Bucket="artifacts"
    )
    proxy = FaultProxy(emulator)
    try:
        aws = Aws(AwsTarget(region=REGION, endpoint_url=proxy.url))
        aws.client("s3").put_object(Bucket="artifacts", Key=artifact.s3_key, Body=b"swapped")
        proxy.fail("PUT", 403, ACCESS_DENIED)
        with pytest.raises(AwsError) as raised:
            upload_artifact(aws, "artifacts", artifact)
    finally:
        proxy.close()
    message = str(raised.value)
    assert f"s3://artifacts/{artifact.s3_key} does not hold {artifact.path.name}" in message
    assert sha256_checksum(artifact.sha256) in message
    assert "the deploy stops" in message and "access denied" in message


def test_sha256_checksum_is_s3s_base64_form() -> None:
    digest = hashlib.sha256(b"hello").hexdigest()
    assert sha256_checksum(digest) == "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ="


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

    assert upload_artifact(aws, bucket, artifact).upload == "uploaded"
    assert upload_artifact(aws, bucket, artifact).upload == "unchanged"


def test_create_failure_names_the_reason(aws: Aws) -> None:
    aws.client("s3").create_bucket(Bucket="taken-name")
    bucket = {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "taken-name"}}
    template = json.dumps({"Resources": {"B": bucket}})
    # moto fails synchronously inside CreateStack; real AWS fails later, through the waiter
    # (that path: test_artifacts_stubbed.py). Either way the reason reaches the user.
    with pytest.raises(AwsError, match=r"creating stack clash .*BucketAlreadyExists"):
        deploy_bootstrap(aws, "clash", template, bucket_logical_id="B", poll_seconds=1)
