"""Least-privilege policy documents: named actions on named resources only."""

from __future__ import annotations

from typing import Any

from troposphere import AWSHelperFn, Sub
from troposphere.iam import Policy, Role

from nami_action.config import Config
from nami_action.config.models import is_secret_reference

PolicyDocument = dict[str, Any]

# The managed policy every role nami creates carries as its permissions boundary: created
# once per account by an administrator from docs/iam/permissions-boundary-policy.json. The
# deploy role may create a role only with it (iam:PermissionsBoundary), so it cannot mint a
# role stronger than the boundary. A fixed, documented name rather than a bootstrap output:
# IAM is global while `nami bootstrap` runs per region, and the boundary names the project.
BOUNDARY_SUFFIX = "-nami-boundary"


def boundary_name(config: Config) -> str:
    """One boundary per project, whichever environment: `config.project` is the stack prefix
    `<project>-<environment>` there, and the boundary's `<project>-*` covers those stacks."""
    project = config.project
    if config.environment:
        project = project.removesuffix(f"-{config.environment}")
    return f"{project}{BOUNDARY_SUFFIX}"


def boundary_arn(config: Config) -> AWSHelperFn:
    return Sub(f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:policy/{boundary_name(config)}")


def role(
    title: str, *, service: str, config: Config, policy_name: str, policy: PolicyDocument, tags: Any
) -> Role:
    """A role `service` assumes, with one inline policy and the project's boundary."""
    return Role(
        title,
        AssumeRolePolicyDocument=trust(service),
        Policies=[Policy(PolicyName=policy_name, PolicyDocument=policy)],
        PermissionsBoundary=boundary_arn(config),
        Tags=tags,
    )


def trust(service: str) -> PolicyDocument:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def statement(actions: list[str], resources: list[Any]) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": sorted(actions), "Resource": resources}


def document(*statements: dict[str, Any]) -> PolicyDocument:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def secret_arn(reference: str) -> AWSHelperFn:
    """The ARN a `ssm:/path` or `secretsmanager:name` reference reads from."""
    assert is_secret_reference(reference), reference
    kind, _, name = reference.partition(":")
    if kind == "ssm":
        return Sub(
            f"arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter{name}"
        )
    # Secrets Manager appends `-` and six random characters to every secret ARN.
    return Sub(
        f"arn:${{AWS::Partition}}:secretsmanager:${{AWS::Region}}:${{AWS::AccountId}}:secret:{name}-??????"
    )


def secret_statements(references: list[str]) -> list[dict[str, Any]]:
    """Read access to exactly these secrets. SecureStrings under the AWS-managed aws/ssm key
    need no kms:Decrypt grant: that key's policy allows use through SSM by this account."""
    ssm = sorted({r for r in references if r.startswith("ssm:")})
    managers = sorted({r for r in references if r.startswith("secretsmanager:")})
    statements = []
    if ssm:
        statements.append(statement(["ssm:GetParameter"], [secret_arn(r) for r in ssm]))
    if managers:
        statements.append(
            statement(["secretsmanager:GetSecretValue"], [secret_arn(r) for r in managers])
        )
    return statements
