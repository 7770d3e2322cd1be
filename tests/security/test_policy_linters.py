"""cloudsplaining and parliament on every document in docs/iam: 0 findings, or each one in
docs/iam/justifications.json with its reason; a justification that no longer matches a finding
fails too. Each tool is also run on a deliberately broken copy (an added AttachRolePolicy, an
unknown action), so a check that cannot fail would show.

cloudsplaining runs with --flag-all-risky-actions (a risky action counts even when scoped by
ARN or condition) for the high-risk categories, and in its default mode for the rest;
parliament with its community auditors."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from cloudsplaining.command.scan_policy_file import scan_policy
from parliament import analyze_policy_string

from .derived import justifications
from .iam_documents import IAM_DIR, Policy, load

DOCUMENTS = sorted(p.name for p in IAM_DIR.glob("*policy*.json"))
HIGH_RISK = ["PrivilegeEscalation", "DataExfiltration", "ResourceExposure", "CredentialsExposure"]
ALL = [*HIGH_RISK, "ServiceWildcard", "InfrastructureModification"]


def cloudsplaining_findings(policy: Policy) -> set[str]:
    """`<category> <action or escalation method>` for every finding."""
    strict = scan_policy(
        policy, flag_conditional_statements=True, flag_resource_arn_statements=True
    )
    default = scan_policy(policy)
    found = set()
    for results, categories in ((strict, HIGH_RISK), (default, ALL)):
        for category in categories:
            for finding in (results.get(category) or {}).get("findings", []):
                name = finding["type"] if isinstance(finding, dict) else finding
                found.add(f"{category} {name}")
    return found


def parliament_findings(policy: Policy) -> set[str]:
    """`<issue> <detail>`; line numbers left out so an edit elsewhere keeps the key."""
    analyzed = analyze_policy_string(json.dumps(policy), include_community_auditors=True)
    return {f"{f.issue} {json.dumps(f.detail, sort_keys=True)}" for f in analyzed.findings}


def _trust(document: str) -> bool:
    return "trust" in document


def test_every_document_is_checked() -> None:
    assert {"deploy-role-policy.json", "permissions-boundary-policy.json"} <= set(DOCUMENTS)
    assert "deploy-role-trust-policy-staging.json" in DOCUMENTS
    assert len(DOCUMENTS) == 8


@pytest.mark.parametrize("document", [d for d in DOCUMENTS if not _trust(d)])
def test_cloudsplaining_finds_only_what_is_justified(document: str) -> None:
    allowed = justifications()["cloudsplaining"].get(document, {})
    found = cloudsplaining_findings(load(document))
    assert sorted(found - set(allowed)) == [], "unjustified cloudsplaining findings"
    assert sorted(set(allowed) - found) == [], "justified, but no longer found"
    assert all(len(reason) > 20 for reason in allowed.values())


@pytest.mark.parametrize("document", DOCUMENTS)
def test_parliament_finds_only_what_is_justified(document: str) -> None:
    allowed = justifications()["parliament"].get(document, {})
    found = parliament_findings(load(document))
    assert sorted(found - set(allowed)) == [], "unjustified parliament findings"
    assert sorted(set(allowed) - found) == [], "justified, but no longer found"
    assert all(len(reason) > 20 for reason in allowed.values())


def _with(document: str, statement: dict[str, Any]) -> Policy:
    broken = copy.deepcopy(load(document))
    broken["Statement"].append({"Effect": "Allow", **statement})
    return broken


def test_cloudsplaining_sees_an_added_attach_role_policy() -> None:
    broken = _with(
        "deploy-role-policy.json",
        {"Action": "iam:AttachRolePolicy", "Resource": "arn:aws:iam::123456789012:role/acme-*"},
    )
    justified = set(justifications()["cloudsplaining"]["deploy-role-policy.json"])
    assert cloudsplaining_findings(broken) - justified == {"ResourceExposure iam:AttachRolePolicy"}


def test_cloudsplaining_sees_a_drift_role_that_can_write() -> None:
    broken = _with("drift-role-policy.json", {"Action": "sqs:DeleteQueue", "Resource": "*"})
    assert "InfrastructureModification sqs:DeleteQueue" in cloudsplaining_findings(broken)


def test_parliament_sees_an_unknown_action_and_a_mismatched_resource() -> None:
    broken = _with("plan-role-policy.json", {"Action": "s3:GetObjects", "Resource": "*"})
    assert any(f.startswith("UNKNOWN_ACTION ") for f in parliament_findings(broken))
    broken = _with(
        "plan-role-policy.json",
        {"Action": "s3:GetObject", "Resource": "arn:aws:sqs:eu-west-1:123456789012:q"},
    )
    assert any(f.startswith("RESOURCE_MISMATCH ") for f in parliament_findings(broken))
