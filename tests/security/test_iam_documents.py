"""Read the shipped IAM documents and fail on anything that lets a pull request change what is
deployed: the plan role's actions are an allow-list, its S3 writes stay under the review
prefix, and only the protected environment can assume the deploy role. Each check is also run
on a deliberately broken copy, so a check that cannot fail would show."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from nami_action.aws.stacks import DEPLOY_TEMPLATE_PREFIX, REVIEW_PREFIX
from nami_action.package import ARTIFACT_PREFIX
from nami_action.plan.planner import DEPLOY_CHANGE_SET_PREFIX, PLAN_CHANGE_SET_PREFIX

from .iam_documents import (
    PROJECT,
    Policy,
    allowed,
    as_list,
    conditions_hold,
    denies,
    iam_like,
    load,
    statements,
    trust_admits,
)

BUCKET = "nami-bootstrap-artifactbucket-1a2b3c"
REPO = "acme/webhooks"

# Everything `nami plan` calls, and nothing that writes to a stack or a resource.
PLAN_MAY = {
    "cloudformation:DescribeStacks",
    "cloudformation:GetTemplate",
    "cloudformation:ListStackResources",
    "cloudformation:CreateChangeSet",
    "cloudformation:DescribeChangeSet",
    "cloudformation:DeleteChangeSet",
    "cloudformation:TagResource",  # tag-on-create of its own change set only (checked below)
    "sqs:GetQueueUrl",
    "sqs:GetQueueAttributes",
    "lambda:ListEventSourceMappings",  # a read: which pipelines are paused (no resource ARNs)
    "lambda:GetFunctionUrlConfig",  # a read: a retiring function URL (project functions only)
    "apigateway:GET",  # on /account only (checked below): the stage logging role's warning
    "cloudwatch:GetMetricData",  # a read: the last 30 days of traffic the cost is priced at
    "s3:PutObject",  # under the review prefix only (checked below)
    "s3:GetObject",  # CloudFormation reads a TemplateURL with the caller's credentials
}
# What a pull request must never be able to do, whatever else is attached to the role.
PLAN_MUST_NOT = [
    "cloudformation:ExecuteChangeSet",
    "cloudformation:CreateStack",
    "cloudformation:UpdateStack",
    "cloudformation:DeleteStack",
    "cloudformation:CancelUpdateStack",
    "cloudformation:ContinueUpdateRollback",
    "cloudformation:RollbackStack",
    "cloudformation:SetStackPolicy",
    "iam:PassRole",
]
STACK = f"arn:aws:cloudformation:eu-west-1:123456789012:stack/{PROJECT}-stripe/0d3c-11ef"
TRANSFORM = "arn:aws:cloudformation:eu-west-1:aws:transform/Serverless-2016-10-31"
FOREIGN_STACK = "arn:aws:cloudformation:eu-west-1:123456789012:stack/billing-core/0d3c-11ef"
# The ingest function CloudFormation names after its stack (no FunctionName is set), and one
# of another team's.
INGEST_FUNCTION = (
    f"arn:aws:lambda:eu-west-1:123456789012:function:{PROJECT}-stripe-IngestFunction-1A2B3C"
)
FOREIGN_FUNCTION = "arn:aws:lambda:eu-west-1:123456789012:function:billing-core-payouts"
# GetFunctionUrlConfig's resource type is `function` (Service Authorization Reference, AWS
# Lambda: https://docs.aws.amazon.com/service-authorization/latest/reference/list_awslambda.html).
PLAN_FUNCTION_PATTERN = f"arn:aws:lambda:*:*:function:{PROJECT}-*"
DEPLOY_OBJECTS = [
    f"arn:aws:s3:::{BUCKET}/{ARTIFACT_PREFIX}{'a' * 64}.zip",
    f"arn:aws:s3:::{BUCKET}/{DEPLOY_TEMPLATE_PREFIX}{'b' * 64}.json",
]
REVIEW_OBJECT = f"arn:aws:s3:::{BUCKET}/{REVIEW_PREFIX}templates/{'c' * 64}.json"
PLAN_RESOURCE_PATTERNS = {
    f"arn:aws:cloudformation:*:*:stack/{PROJECT}-*/*",
    f"arn:aws:cloudformation:*:*:changeSet/{PLAN_CHANGE_SET_PREFIX}*/*",
}


def plan_policy_problems(policy: Policy) -> list[str]:
    problems = []
    for statement in statements(policy, "Allow"):
        for key in ("NotAction", "NotResource"):
            if key in statement:
                problems.append(f"{statement.get('Sid')}: {key} widens an Allow")
    for action, resource in allowed(policy):
        if action not in PLAN_MAY:
            problems.append(f"{action} is not a read or change-set action")
        elif action.startswith("s3:") and not _under_review_prefix(resource):
            problems.append(f"{action} on {resource}: outside the review prefix")
        elif action.startswith("cloudformation:") and action != "cloudformation:DescribeStacks":
            if resource not in PLAN_RESOURCE_PATTERNS and not (
                action == "cloudformation:ListStackResources"
                and resource == "arn:aws:cloudformation:*:*:stack/nami-bootstrap/*"
            ):
                problems.append(f"{action} on {resource}: not a stack of the project")
        elif action == "cloudformation:DescribeStacks" and resource != "*":
            problems.append("DescribeStacks without a name needs Resource *")
        elif action == "apigateway:GET" and resource != "arn:aws:apigateway:*::/account":
            problems.append(f"apigateway:GET on {resource}: only the account setting")
        elif action == "lambda:GetFunctionUrlConfig" and resource != PLAN_FUNCTION_PATTERN:
            problems.append(f"{action} on {resource}: not the project's functions only")
    for statement in statements(policy, "Allow"):
        if "cloudformation:TagResource" in as_list(statement["Action"]):
            create = statement.get("Condition", {}).get("StringEquals", {})
            if create.get("cloudformation:CreateAction") != "CreateChangeSet":
                problems.append("TagResource is allowed outside CreateChangeSet")
    for action in PLAN_MUST_NOT:
        if any(iam_like(allowed_action, action) for allowed_action, _ in allowed(policy)):
            problems.append(f"{action} is allowed")
        if not denies(policy, action, STACK):
            problems.append(f"{action} is not explicitly denied")
    # Transforms and macros run (and read S3, invoke Lambda) while the change set is made.
    if not denies(policy, "cloudformation:CreateChangeSet", TRANSFORM):
        problems.append("CreateChangeSet with a transform is not explicitly denied")
    for resource in DEPLOY_OBJECTS:
        if not denies(policy, "s3:PutObject", resource):
            problems.append(f"s3:PutObject on {resource} is not explicitly denied")
    return problems


def _under_review_prefix(resource: str) -> bool:
    """The resource names objects under the review prefix of a bucket, and no object a
    deploy reads can match it."""
    bucket_and_key = resource.removeprefix("arn:aws:s3:::")
    bucket, _, key = bucket_and_key.partition("/")
    return (
        resource.startswith("arn:aws:s3:::")
        and key.startswith(REVIEW_PREFIX)
        and "*" not in key[: len(REVIEW_PREFIX)]
        and bool(bucket)
        and not any(iam_like(resource, deploy_object) for deploy_object in DEPLOY_OBJECTS)
    )


def test_the_plan_role_can_only_read_and_make_change_sets() -> None:
    policy = load("plan-role-policy.json")
    assert plan_policy_problems(policy) == []
    pairs = allowed(policy)
    assert (
        "s3:PutObject",
        f"arn:aws:s3:::nami-bootstrap-artifactbucket-*/{REVIEW_PREFIX}*",
    ) in pairs
    assert any(iam_like(r, STACK) for a, r in pairs if a == "cloudformation:CreateChangeSet")
    assert not any(
        iam_like(r, FOREIGN_STACK) for a, r in pairs if a == "cloudformation:CreateChangeSet"
    )
    assert any(iam_like(r, REVIEW_OBJECT) for a, r in pairs if a == "s3:PutObject")
    url_reads = [r for a, r in pairs if a == "lambda:GetFunctionUrlConfig"]
    assert any(iam_like(r, INGEST_FUNCTION) for r in url_reads)
    assert not any(iam_like(r, FOREIGN_FUNCTION) for r in url_reads)


def test_the_plan_role_names_only_its_own_change_sets() -> None:
    create = next(
        s
        for s in statements(load("plan-role-policy.json"), "Allow")
        if "cloudformation:CreateChangeSet" in as_list(s["Action"])
    )
    condition = create["Condition"]
    key = "cloudformation:ChangeSetName"
    own = {key: f"{PLAN_CHANGE_SET_PREFIX}stripe-20261128220000ab12"}
    deploys = {key: f"{DEPLOY_CHANGE_SET_PREFIX}stripe-20261128220000ab12"}
    # IfExists: the same check where CloudFormation sets the key (StringLike otherwise).
    as_like = {"StringLike": condition["StringLikeIfExists"]}
    assert conditions_hold(as_like, own)
    assert not conditions_hold(as_like, deploys)


def _with(policy: Policy, statement: dict[str, Any]) -> Policy:
    broken = copy.deepcopy(policy)
    broken["Statement"].append(statement)
    return broken


@pytest.mark.parametrize(
    ("statement", "problem"),
    [
        ({"Action": "cloudformation:*", "Resource": "*"}, "cloudformation:* is not a read"),
        ({"Action": "s3:*", "Resource": "*"}, "s3:* is not a read"),
        (
            {"Action": "cloudformation:ExecuteChangeSet", "Resource": "*"},
            "cloudformation:ExecuteChangeSet is allowed",
        ),
        (
            {"Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{BUCKET}/nami/*"},
            "outside the review prefix",
        ),
        (
            {"Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{BUCKET}/*/review/*"},
            "outside the review prefix",
        ),
        (
            {"Action": "cloudformation:CreateChangeSet", "Resource": FOREIGN_STACK},
            "not a stack of the project",
        ),
        ({"Action": "lambda:UpdateFunctionCode", "Resource": "*"}, "lambda:UpdateFunctionCode"),
        ({"Action": "apigateway:GET", "Resource": "*"}, "only the account setting"),
        (
            {"Action": "lambda:GetFunctionUrlConfig", "Resource": "*"},
            "not the project's functions only",
        ),
        ({"Action": "lambda:GetFunction*", "Resource": PLAN_FUNCTION_PATTERN}, "not a read"),
        ({"Action": "cloudformation:TagResource", "Resource": STACK}, "outside CreateChangeSet"),
    ],
)
def test_the_plan_check_fails_on_a_dangerous_grant(statement: dict[str, Any], problem: str) -> None:
    broken = _with(load("plan-role-policy.json"), {"Effect": "Allow", **statement})
    assert any(problem in found for found in plan_policy_problems(broken))


def test_the_plan_check_fails_without_the_explicit_denies() -> None:
    policy = load("plan-role-policy.json")
    policy["Statement"] = statements(policy, "Allow")
    found = plan_policy_problems(policy)
    assert "cloudformation:ExecuteChangeSet is not explicitly denied" in found
    assert "CreateChangeSet with a transform is not explicitly denied" in found
    assert any("s3:PutObject on" in p and "not explicitly denied" in p for p in found)


def test_the_deploy_role_never_reads_the_review_prefix_nor_runs_a_plans_change_set() -> None:
    policy = load("deploy-role-policy.json")
    s3_objects = [r for a, r in allowed(policy) if a.startswith("s3:") and "Object" in a]
    assert s3_objects and not any(iam_like(r, REVIEW_OBJECT) for r in s3_objects)
    assert all(any(iam_like(r, o) for r in s3_objects) for o in DEPLOY_OBJECTS)
    change_set_patterns = [r for _, r in allowed(policy) if ":changeSet/" in r]
    assert change_set_patterns and all(
        f":changeSet/{DEPLOY_CHANGE_SET_PREFIX}*/" in r for r in change_set_patterns
    )
    guard = next(
        s
        for s in statements(policy, "Deny")
        if "cloudformation:ExecuteChangeSet" in as_list(s["Action"])
    )
    key = "cloudformation:ChangeSetName"
    plan_arn = f"arn:aws:cloudformation:eu-west-1:1:changeSet/{PLAN_CHANGE_SET_PREFIX}x-1/abc"
    assert conditions_hold(guard["Condition"], {key: f"{PLAN_CHANGE_SET_PREFIX}stripe-1"})
    assert conditions_hold(guard["Condition"], {key: plan_arn})
    assert not conditions_hold(guard["Condition"], {key: f"{DEPLOY_CHANGE_SET_PREFIX}stripe-1"})


# The `sub` claim once the repository's OIDC subject is customized to
# ["repo", "context", "job_workflow_ref"] (docs/github-action.md, "The IAM roles").
WORKFLOW = f"{REPO}/.github/workflows/nami.yml"


def subject(context: str, ref: str = "refs/heads/main", workflow: str = WORKFLOW) -> str:
    return f"repo:{REPO}:{context}:job_workflow_ref:{workflow}@{ref}"


SUBJECTS = {
    "pull_request": subject("pull_request", "refs/pull/7/merge"),
    "default branch": subject("ref:refs/heads/main"),
    "merge queue": subject(
        "ref:refs/heads/gh-readonly-queue/main/pr-7-abc",
        "refs/heads/gh-readonly-queue/main/pr-7-abc",
    ),
    "other branch": subject("ref:refs/heads/feature", "refs/heads/feature"),
    "production": subject("environment:production"),
    "staging": subject("environment:staging"),
    "production from another workflow": subject(
        "environment:production", workflow=f"{REPO}/.github/workflows/other.yml"
    ),
    "production from a branch's workflow": subject("environment:production", "refs/heads/x"),
    "drift": subject("ref:refs/heads/main", workflow=f"{REPO}/.github/workflows/nami-drift.yml"),
    "production without job_workflow_ref": f"repo:{REPO}:environment:production",
    "production of a fork": "repo:mallory/webhooks:environment:production",
    "lookalike repository": f"repo:{REPO}-fork:environment:production",
}


def admitted(trust: Policy) -> set[str]:
    return {name for name, sub in SUBJECTS.items() if trust_admits(trust, sub=sub)}


def test_only_the_production_environment_assumes_the_deploy_role() -> None:
    trust = load("deploy-role-trust-policy.json")
    assert admitted(trust) == {"production"}
    assert not trust_admits(trust, sub=SUBJECTS["production"], aud="https://github.com/acme")


def test_only_staging_assumes_the_staging_deploy_role() -> None:
    assert admitted(load("deploy-role-trust-policy-staging.json")) == {"staging"}


def test_only_the_scheduled_drift_workflow_assumes_the_drift_role() -> None:
    assert admitted(load("drift-role-trust-policy.json")) == {"drift"}


def test_the_plan_role_is_for_pull_requests_and_the_default_branch() -> None:
    trust = load("plan-role-trust-policy.json")
    assert admitted(trust) == {"pull_request", "default branch", "merge queue"}
    assert not trust_admits(trust, sub=SUBJECTS["pull_request"], aud="sts.example.com")


def test_the_trust_check_sees_a_trust_that_admits_pull_requests() -> None:
    """The shipped trust policy used to admit `pull_request` beside the environment."""
    trust = load("deploy-role-trust-policy.json")
    condition = trust["Statement"][0]["Condition"]
    sub = condition["StringEquals"].pop("token.actions.githubusercontent.com:sub")
    condition["StringLike"] = {
        "token.actions.githubusercontent.com:sub": [sub, SUBJECTS["pull_request"]]
    }
    assert admitted(trust) == {"production", "pull_request"}
    condition["StringLike"] = {"token.actions.githubusercontent.com:sub": f"repo:{REPO}:*"}
    assert "pull_request" in admitted(trust)
    # Not pinned to the workflow: any workflow file of a branch could run in production.
    condition["StringLike"] = {
        "token.actions.githubusercontent.com:sub": f"repo:{REPO}:environment:production*"
    }
    assert "production from another workflow" in admitted(trust)


def test_iam_like_follows_iam_wildcards() -> None:
    assert iam_like("repo:o/r:*", "repo:o/r:pull_request")
    assert iam_like("a?c", "abc") and not iam_like("a?c", "ac")
    assert not iam_like("repo:o/r:pull_request", "repo:o/r:pull_requests")
    assert not iam_like("[ab]", "a")  # no character classes in IAM
    assert not iam_like("Repo:*", "repo:o/r")  # case-sensitive
