"""What the IAM tests assume of the emulator, checked on the emulator itself.

AWS authorizes HeadObject with s3:GetObject ("To use HEAD, you must have the s3:GetObject
permission": https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html); there is
no s3:HeadObject action (https://docs.aws.amazon.com/service-authorization/latest/reference/
list_amazons3.html). moto 5.2.6 authorizes S3 calls by their API operation name instead
(moto/core/responses.py: BaseResponse._get_action returns the router's operation, and S3's
ACTION_MAP, which mapped HEAD to GetObject, is no longer read), so nami's deploy role, which
needs only s3:GetObject for its HEAD checks, is refused there. pyproject pins moto below 5.2.6;
this test fails on the moto that has that behaviour, so the pin is lifted knowingly (the
latest-deps workflow runs it on the newest moto every week).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from nami_action.aws.session import Aws, AwsTarget

from .enforced import set_auth

BUCKET = "nami-canary-bucket"
KEY = "nami/artifacts/canary.zip"


def reader_credentials(aws: Aws) -> dict[str, Any]:
    """An IAM user allowed s3:GetObject on the bucket's objects and nothing else."""
    iam = aws.client("iam")
    iam.create_user(UserName="canary-reader")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"}
        ],
    }
    iam.put_user_policy(
        UserName="canary-reader", PolicyName="get-only", PolicyDocument=json.dumps(policy)
    )
    key: dict[str, Any] = iam.create_access_key(UserName="canary-reader")["AccessKey"]
    return key


@pytest.mark.parametrize("checksum_mode", [{}, {"ChecksumMode": "ENABLED"}], ids=["plain", "sha"])
def test_head_object_needs_only_get_object(
    aws: Aws, emulator: str, monkeypatch: pytest.MonkeyPatch, checksum_mode: dict[str, str]
) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"zip", ChecksumAlgorithm="SHA256")
    key = reader_credentials(aws)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    reader = Aws(AwsTarget(region=aws.target.region, endpoint_url=emulator)).client("s3")
    set_auth(emulator, "0")
    try:
        reader.get_object(Bucket=BUCKET, Key=KEY, **checksum_mode)["Body"].read()
        try:
            reader.head_object(Bucket=BUCKET, Key=KEY, **checksum_mode)
        except ClientError as error:
            pytest.fail(
                f"the emulator refuses HeadObject with s3:GetObject (AWS allows it): {error}"
            )
        with pytest.raises(ClientError, match=r"403|AccessDenied"):
            reader.put_object(Bucket=BUCKET, Key=KEY, Body=b"x")  # enforcement really is on
    finally:
        set_auth(emulator, "inf")
