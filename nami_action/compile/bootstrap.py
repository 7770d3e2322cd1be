"""The bootstrap stack: one private, versioned, encrypted S3 bucket for consumer zips.

Deployed once per account and region (`nami bootstrap`); every pipeline stack then points its
Lambda at `s3://<bucket>/nami/artifacts/<sha256>.zip`. The bucket is retained when the stack is
deleted or the resource replaced: deployed functions may still reference its objects.
"""

from __future__ import annotations

import json

from troposphere import GetAtt, Output, Ref, Sub, Template
from troposphere.iam import Role
from troposphere.s3 import (
    AbortIncompleteMultipartUpload,
    Bucket,
    BucketEncryption,
    BucketPolicy,
    LifecycleConfiguration,
    LifecycleRule,
    NoncurrentVersionExpiration,
    OwnershipControls,
    OwnershipControlsRule,
    PublicAccessBlockConfiguration,
    ServerSideEncryptionByDefault,
    ServerSideEncryptionRule,
    VersioningConfiguration,
)

DEFAULT_STACK_NAME = "nami-bootstrap"
API_GATEWAY_LOGS_ROLE = "ApiGatewayLogsRole"
BUCKET_LOGICAL_ID = "ArtifactBucket"
BUCKET_POLICY_LOGICAL_ID = "ArtifactBucketPolicy"
BUCKET_NAME_OUTPUT = "BucketName"
NONCURRENT_VERSION_DAYS = 30
ABORT_MULTIPART_DAYS = 7


def bootstrap_template() -> Template:
    template = Template(
        Description="Nami bootstrap: the S3 bucket holding consumer Lambda artifacts"
    )
    bucket = template.add_resource(
        Bucket(
            BUCKET_LOGICAL_ID,
            DeletionPolicy="Retain",
            UpdateReplacePolicy="Retain",
            BucketEncryption=BucketEncryption(
                ServerSideEncryptionConfiguration=[
                    ServerSideEncryptionRule(
                        ServerSideEncryptionByDefault=ServerSideEncryptionByDefault(
                            SSEAlgorithm="AES256"
                        )
                    )
                ]
            ),
            VersioningConfiguration=VersioningConfiguration(Status="Enabled"),
            PublicAccessBlockConfiguration=PublicAccessBlockConfiguration(
                BlockPublicAcls=True,
                BlockPublicPolicy=True,
                IgnorePublicAcls=True,
                RestrictPublicBuckets=True,
            ),
            OwnershipControls=OwnershipControls(
                Rules=[OwnershipControlsRule(ObjectOwnership="BucketOwnerEnforced")]
            ),
            LifecycleConfiguration=LifecycleConfiguration(
                Rules=[
                    LifecycleRule(
                        Id="ExpireNoncurrentVersions",
                        Status="Enabled",
                        NoncurrentVersionExpiration=NoncurrentVersionExpiration(
                            NoncurrentDays=NONCURRENT_VERSION_DAYS
                        ),
                    ),
                    LifecycleRule(
                        Id="AbortIncompleteMultipartUploads",
                        Status="Enabled",
                        AbortIncompleteMultipartUpload=AbortIncompleteMultipartUpload(
                            DaysAfterInitiation=ABORT_MULTIPART_DAYS
                        ),
                    ),
                ]
            ),
        )
    )
    template.add_resource(
        BucketPolicy(
            BUCKET_POLICY_LOGICAL_ID,
            Bucket=Ref(bucket),
            PolicyDocument={
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "DenyInsecureTransport",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": [
                            GetAtt(bucket, "Arn"),
                            Sub(f"${{{BUCKET_LOGICAL_ID}.Arn}}/*"),
                        ],
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    }
                ],
            },
        )
    )
    _add_api_gateway_logging(template)
    template.add_output(
        Output(
            BUCKET_NAME_OUTPUT,
            Description="Bucket for consumer artifacts (nami/artifacts/<sha256>.zip)",
            Value=Ref(bucket),
        )
    )
    return template


def _add_api_gateway_logging(template: Template) -> None:
    """API Gateway writes stage access logs only once the region's API Gateway account
    settings name a CloudWatch role. That setting is the account's, not this stack's, so the
    stack only makes the role (retained: the setting may outlive the stack) and `nami
    bootstrap` names it in the settings when none is named yet (aws/apigateway.py). The
    AWS-managed policy is the one AWS documents for this role."""
    template.add_resource(
        Role(
            API_GATEWAY_LOGS_ROLE,
            AssumeRolePolicyDocument={
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "apigateway.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            },
            ManagedPolicyArns=[
                Sub(
                    "arn:${AWS::Partition}:iam::aws:policy/service-role/"
                    "AmazonAPIGatewayPushToCloudWatchLogs"
                )
            ],
            DeletionPolicy="Retain",
            UpdateReplacePolicy="Retain",
        )
    )


def bootstrap_template_json() -> str:
    """The template as JSON text: sorted keys, stable indentation, trailing newline."""
    return json.dumps(bootstrap_template().to_dict(), indent=2, sort_keys=True) + "\n"
