"""Artifact storage on S3 and the bootstrap stack that creates the bucket."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any, Literal

import botocore.exceptions

from nami_action.aws.session import Aws, AwsError, error_code, error_message, translate_errors
from nami_action.aws.stacks import deployed_template, describe_stack, stack_resources
from nami_action.compile.bootstrap import BUCKET_LOGICAL_ID
from nami_action.package import Artifact

NOT_FOUND_CODES = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}
# A version id S3 does not know: 404 (NoSuchVersion) or, for a malformed id, 400.
NO_VERSION_CODES = {*NOT_FOUND_CODES, "NoSuchVersion", "400", "InvalidArgument"}
NO_UPDATES = "No updates are to be performed"
BUSY_SUFFIXES = ("_IN_PROGRESS",)
# Bootstrap makes one bucket in well under a minute; the 10-minute cap (5 s x 120) only
# guards against a stuck stack.
DEFAULT_POLL_SECONDS = 5
DEFAULT_MAX_POLLS = 120


# The bootstrap stack creates the role API Gateway uses to write access logs.
CAPABILITIES: list[Literal["CAPABILITY_IAM"]] = ["CAPABILITY_IAM"]


Upload = Literal["unchanged", "uploaded", "replaced"]


@dataclass(frozen=True)
class StoredZip:
    """What upload_artifact found or did, and the S3 version that holds exactly the zip."""

    upload: Upload
    version: str | None  # None: the bucket keeps no versions (versioning never turned on)


def upload_artifact(aws: Aws, bucket: str, artifact: Artifact) -> StoredZip:
    """Make the object at the zip's content-hash key hold exactly the local zip: "unchanged"
    (it did), "uploaded" (there was none) or "replaced" (it held other or unchecked bytes);
    with the version id of the object whose checksum was checked (or that was just put).

    A key that exists proves nothing: anyone who can write to the bucket can put other bytes
    under it. The object's SHA-256 checksum (stored by S3 at upload, read back with
    ChecksumMode=ENABLED) is compared with the local zip's; a missing or different checksum
    is uploaded again, and S3 verifies the new upload against the checksum we send
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html).
    If that upload is refused, the deploy stops here rather than point a function at
    bytes nobody checked. The version id comes from the same answer as the checksum, so the
    function can be pinned to exactly the checked bytes (S3ObjectVersion), whatever is put
    under the key afterwards.

    The role needs s3:ListBucket on the bucket: without it S3 answers 403, not 404, for a
    missing key, and that is reported as access denied rather than guessed at.
    """
    expected = sha256_checksum(artifact.sha256)
    found, version = _stored(aws, bucket, artifact.s3_key)
    if found == expected:
        return StoredZip("unchanged", version)
    try:
        version = _put_zip(aws, bucket, artifact, expected)
    except AwsError as exc:
        if found is None:
            raise
        raise AwsError(
            f"s3://{bucket}/{artifact.s3_key} does not hold {artifact.path.name} "
            f"(SHA-256 {found or 'none recorded'} in S3, {expected} here) and uploading it again "
            f"failed, so the deploy stops: {exc}"
        ) from exc
    return StoredZip("uploaded" if found is None else "replaced", version)


def version_holds(aws: Aws, bucket: str, artifact: Artifact, version: str) -> bool:
    """Whether that S3 version of the zip's key holds exactly the zip (S3's stored SHA-256).
    A version's bytes never change, but it can be deleted (or expire once noncurrent); a
    version that is gone or unknown is False. Reading a version needs s3:GetObjectVersion."""
    found, _ = _stored(aws, bucket, artifact.s3_key, version)
    return found == sha256_checksum(artifact.sha256)


def sha256_checksum(hex_digest: str) -> str:
    """S3's form of a SHA-256 checksum: the base64 of the raw digest."""
    return base64.b64encode(bytes.fromhex(hex_digest)).decode()


def _stored(
    aws: Aws, bucket: str, key: str, version: str | None = None
) -> tuple[str | None, str | None]:
    """(SHA-256 checksum: "" if none recorded, None if no such object; its version id)."""
    where = f"s3://{bucket}/{key}" + (f" (version {version})" if version else "")
    pinned = {"VersionId": version} if version else {}
    with translate_errors(f"checking {where}"):
        try:
            head = aws.client("s3").head_object(
                Bucket=bucket, Key=key, ChecksumMode="ENABLED", **pinned
            )
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) not in (NO_VERSION_CODES if version else NOT_FOUND_CODES):
                raise
            return None, None
    return str(head.get("ChecksumSHA256") or ""), _version_id(head)


def _put_zip(aws: Aws, bucket: str, artifact: Artifact, checksum: str) -> str | None:
    """Upload the zip; returns the new object's version id (None: the bucket keeps none)."""
    with (
        translate_errors(f"uploading {artifact.path.name} to s3://{bucket}"),
        artifact.path.open("rb") as body,
    ):
        # ChecksumAlgorithm makes S3 keep the checksum with the object; the value we send is
        # the digest the key was named by, so S3 rejects bytes that do not match it (BadDigest).
        answer = aws.client("s3").put_object(
            Bucket=bucket,
            Key=artifact.s3_key,
            Body=body,
            ContentType="application/zip",
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=checksum,
        )
    if answer.get("ChecksumSHA256") != checksum:
        raise AwsError(
            f"S3 did not confirm the SHA-256 of s3://{bucket}/{artifact.s3_key} "
            f"(answered {answer.get('ChecksumSHA256') or 'none'}, sent {checksum})"
        )
    return _version_id(answer)


def _version_id(answer: Any) -> str | None:
    """The answer's version id. "null" is the one object a bucket with versioning suspended
    overwrites in place: no pin, like a bucket that never had versioning (None)."""
    version = str(answer.get("VersionId") or "")
    return None if version in ("", "null") else version


def bucket_exists(aws: Aws, bucket: str) -> bool:
    """True if the bucket exists and is ours; False if it does not exist.

    A bucket that answers 403 exists but belongs to someone else (or we lack s3:ListBucket):
    neither True nor False would be honest, so that raises AwsError (access denied).
    """
    with translate_errors(f"checking bucket {bucket}"):
        try:
            aws.client("s3").head_bucket(Bucket=bucket)
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) in NOT_FOUND_CODES:
                return False
            raise
    return True


def bootstrap_bucket(
    aws: Aws, stack_name: str, bucket_logical_id: str = BUCKET_LOGICAL_ID
) -> str | None:
    """The artifact bucket of a deployed bootstrap stack, or None if there is no such stack."""
    resources = stack_resources(aws, stack_name)
    return (resources or {}).get(bucket_logical_id)


def deploy_bootstrap(
    aws: Aws,
    stack_name: str,
    template_body: str,
    *,
    bucket_logical_id: str = BUCKET_LOGICAL_ID,
    poll_seconds: int = DEFAULT_POLL_SECONDS,
    max_polls: int = DEFAULT_MAX_POLLS,
) -> str:
    """Create or update the bootstrap stack, wait for it, and return the bucket name.

    "No updates are to be performed" is success. A stack left in ROLLBACK_COMPLETE by a failed
    first deploy cannot be updated, only deleted; it holds nothing (its bucket never got
    created or is retained), so it is deleted and created again.
    """
    cfn = aws.client("cloudformation")
    waiter_config = {"Delay": poll_seconds, "MaxAttempts": max_polls}
    status = _stack_status(aws, stack_name)
    if status is not None and status.endswith(BUSY_SUFFIXES):
        raise AwsError(
            f"stack {stack_name} is busy ({status}); wait for it to finish and run again"
        )
    if status == "ROLLBACK_COMPLETE":
        with translate_errors(f"deleting the failed stack {stack_name}"):
            cfn.delete_stack(StackName=stack_name)
        _wait(aws, "stack_delete_complete", stack_name, waiter_config, "deleting")
        status = None

    if status is None or status == "DELETE_COMPLETE":
        with translate_errors(f"creating stack {stack_name}"):
            cfn.create_stack(
                StackName=stack_name, TemplateBody=template_body, Capabilities=CAPABILITIES
            )
        _wait(aws, "stack_create_complete", stack_name, waiter_config, "creating")
    elif deployed_template(aws, stack_name) != json.loads(template_body):
        with translate_errors(f"updating stack {stack_name}"):
            try:
                cfn.update_stack(
                    StackName=stack_name, TemplateBody=template_body, Capabilities=CAPABILITIES
                )
                updating = True
            except botocore.exceptions.ClientError as exc:
                if NO_UPDATES not in error_message(exc):
                    raise
                updating = False
        if updating:
            _wait(aws, "stack_update_complete", stack_name, waiter_config, "updating")

    bucket = bootstrap_bucket(aws, stack_name, bucket_logical_id)
    if not bucket:
        raise AwsError(f"stack {stack_name} has no {bucket_logical_id} bucket resource")
    return bucket


def _stack_status(aws: Aws, stack_name: str) -> str | None:
    info = describe_stack(aws, stack_name)
    return info.status if info else None


def _wait(
    aws: Aws,
    waiter_name: str,
    stack_name: str,
    config: dict[str, int],
    doing: str,
) -> None:
    waiter = aws.client("cloudformation").get_waiter(waiter_name)
    try:
        waiter.wait(StackName=stack_name, WaiterConfig=config)
    except botocore.exceptions.WaiterError as exc:
        reasons = _failure_reasons(aws, stack_name)
        status = _stack_status(aws, stack_name) or "gone"
        detail = "; ".join(reasons) if reasons else str(exc)
        raise AwsError(f"{doing} stack {stack_name} failed ({status}): {detail}") from exc


def _failure_reasons(aws: Aws, stack_name: str) -> list[str]:
    """`LogicalId (Type): reason` for each failed resource of the latest operation."""
    reasons: list[str] = []
    with translate_errors(f"reading the events of stack {stack_name}"):
        pages = aws.client("cloudformation").get_paginator("describe_stack_events")
        for page in pages.paginate(StackName=stack_name):
            for event in page["StackEvents"]:
                if _is_operation_start(event, stack_name):
                    return list(reversed(reasons))
                if str(event.get("ResourceStatus", "")).endswith("_FAILED"):
                    reason = event.get("ResourceStatusReason") or "no reason given"
                    reasons.append(
                        f"{event.get('LogicalResourceId')} ({event.get('ResourceType')}): {reason}"
                    )
    return list(reversed(reasons))


def _is_operation_start(event: Any, stack_name: str) -> bool:
    return bool(
        event.get("ResourceType") == "AWS::CloudFormation::Stack"
        and event.get("LogicalResourceId") == stack_name
        and event.get("ResourceStatus") in {"CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS"}
        and event.get("ResourceStatusReason") == "User Initiated"
    )
