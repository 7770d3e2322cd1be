"""The bootstrap template: deterministic, lint-clean, and it says what the bucket must be."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nami_action.compile.bootstrap import (
    BUCKET_LOGICAL_ID,
    BUCKET_NAME_OUTPUT,
    bootstrap_template,
    bootstrap_template_json,
)

CFN_LINT = Path(sys.executable).parent / "cfn-lint"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(bootstrap_template_json())
    return data


def test_json_is_deterministic_and_sorted() -> None:
    text = bootstrap_template_json()
    assert text == bootstrap_template_json()
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"
    assert json.loads(text) == bootstrap_template().to_dict()


def test_cfn_lint_has_nothing_to_say(tmp_path: Path) -> None:
    path = tmp_path / "bootstrap.json"
    path.write_text(bootstrap_template_json())
    # --include-checks I: informational findings would show up too; there must be none.
    result = subprocess.run(
        [str(CFN_LINT), "--include-checks", "I", "--", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_bucket_is_private_versioned_encrypted_retained(template: dict[str, Any]) -> None:
    bucket = template["Resources"][BUCKET_LOGICAL_ID]
    assert bucket["Type"] == "AWS::S3::Bucket"
    assert bucket["DeletionPolicy"] == "Retain"
    assert bucket["UpdateReplacePolicy"] == "Retain"
    props = bucket["Properties"]
    assert "BucketName" not in props  # named by CloudFormation: no clashes across accounts
    sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    rules = {r["Id"]: r for r in props["LifecycleConfiguration"]["Rules"]}
    assert rules["ExpireNoncurrentVersions"]["NoncurrentVersionExpiration"] == {
        "NoncurrentDays": 30
    }
    assert rules["AbortIncompleteMultipartUploads"]["AbortIncompleteMultipartUpload"] == {
        "DaysAfterInitiation": 7
    }
    assert all(r["Status"] == "Enabled" for r in rules.values())


def test_policy_denies_plain_http(template: dict[str, Any]) -> None:
    policies = [r for r in template["Resources"].values() if r["Type"] == "AWS::S3::BucketPolicy"]
    assert len(policies) == 1
    props = policies[0]["Properties"]
    assert props["Bucket"] == {"Ref": BUCKET_LOGICAL_ID}
    (statement,) = props["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Principal"] == "*"
    assert statement["Action"] == "s3:*"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    arn = {"Fn::GetAtt": [BUCKET_LOGICAL_ID, "Arn"]}
    assert statement["Resource"] == [arn, {"Fn::Sub": "${ArtifactBucket.Arn}/*"}]


def test_outputs_bucket_name(template: dict[str, Any]) -> None:
    assert template["Outputs"][BUCKET_NAME_OUTPUT]["Value"] == {"Ref": BUCKET_LOGICAL_ID}
