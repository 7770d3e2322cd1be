"""The IAM documents shipped in docs/iam, and a small evaluator for the parts tests check.

Hand-written rather than a policy simulator: no maintained offline IAM evaluator is a
dependency here, moto evaluates only StringEquals (and no OIDC claims), and the checks need
just IAM's StringEquals/StringLike semantics (`*` any run of characters, `?` one character,
case-sensitive: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_String).
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

IAM_DIR = Path(__file__).resolve().parents[2] / "docs" / "iam"
PROJECT = "acme-webhooks"  # the example project name the documents are written for
OIDC = "token.actions.githubusercontent.com"

Policy = dict[str, Any]
Statement = dict[str, Any]


def load(name: str) -> Policy:
    return dict(json.loads((IAM_DIR / name).read_text()))


def as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def statements(policy: Policy, effect: str) -> list[Statement]:
    return [s for s in as_list(policy["Statement"]) if s["Effect"] == effect]


def iam_like(pattern: str, value: str) -> bool:
    """IAM's StringLike (and ARN/Action/Resource) matching: `*` and `?` are wildcards."""
    return _compiled(pattern).fullmatch(value) is not None


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    regex = "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern
    )
    return re.compile(regex, flags=re.DOTALL)


OPERATORS = {
    "StringEquals": lambda pattern, value: pattern == value,
    "StringLike": iam_like,
    "ArnEquals": lambda pattern, value: pattern == value,
    "ArnLike": iam_like,  # ARN wildcards match like StringLike within each ARN part
}
# Negated operators hold when no listed value matches, and also when the key is absent.
NEGATED = {"StringNotEquals": "StringEquals", "StringNotLike": "StringLike"}


def conditions_hold(condition: dict[str, dict[str, Any]], context: dict[str, str]) -> bool:
    """Every operator, every key: the context value matches one of the listed values. An
    operator this evaluator does not know fails the check (never a silent pass)."""
    for operator, keys in condition.items():
        positive = NEGATED.get(operator, operator)
        if positive not in OPERATORS:
            raise ValueError(f"condition operator {operator} is not evaluated here")
        for key, expected in keys.items():
            value = context.get(key)
            matches = value is not None and any(
                OPERATORS[positive](p, value) for p in as_list(expected)
            )
            if matches == (operator in NEGATED):
                return False
    return True


def _covers(statement: Statement, action: str, resource: str, context: dict[str, str]) -> bool:
    return (
        any(iam_like(a.lower(), action.lower()) for a in as_list(statement["Action"]))
        and any(iam_like(r, resource) for r in as_list(statement["Resource"]))
        and conditions_hold(statement.get("Condition", {}), context)
    )


def permits(policy: Policy, action: str, resource: str, context: dict[str, str]) -> bool:
    """IAM's evaluation within one identity policy: an Allow covers the request (action
    names are case-insensitive, resources and condition values are not) and no Deny does."""
    if any(_covers(s, action, resource, context) for s in statements(policy, "Deny")):
        return False
    return any(_covers(s, action, resource, context) for s in statements(policy, "Allow"))


def trust_admits(trust: Policy, *, sub: str, aud: str = "sts.amazonaws.com") -> bool:
    """Would AssumeRoleWithWebIdentity with a GitHub OIDC token carrying these claims pass?"""
    context = {f"{OIDC}:sub": sub, f"{OIDC}:aud": aud}
    for statement in statements(trust, "Deny"):
        if conditions_hold(statement.get("Condition", {}), context):
            return False
    return any(
        "sts:AssumeRoleWithWebIdentity" in as_list(statement["Action"])
        and str(statement["Principal"].get("Federated", "")).endswith(f"oidc-provider/{OIDC}")
        and conditions_hold(statement.get("Condition", {}), context)
        for statement in statements(trust, "Allow")
    )


def allowed(policy: Policy) -> list[tuple[str, str]]:
    """(action, resource) for every pair an Allow statement names."""
    return [
        (action, resource)
        for statement in statements(policy, "Allow")
        for action in as_list(statement["Action"])
        for resource in as_list(statement["Resource"])
    ]


def denies(policy: Policy, action: str, resource: str) -> bool:
    """An unconditional Deny statement covers this action on this resource."""
    return any(
        "Condition" not in statement
        and any(iam_like(a, action) for a in as_list(statement["Action"]))
        and any(iam_like(r, resource) for r in as_list(statement["Resource"]))
        for statement in statements(policy, "Deny")
    )
