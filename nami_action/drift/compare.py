"""Declared values beside live ones: the findings. Pure; values that may be secret are
never shown (an environment variable named like a secret, or a value that looks like one)."""

from __future__ import annotations

import json
import re
from typing import Any

from nami_action.drift.declared import ENVIRONMENT_PREFIX, NOT_DRIFT, OPEN_PREFIXES, Declared
from nami_action.drift.model import Finding

SECRET_NAME = re.compile(
    r"(?i)(secret|token|passw|pwd|key|credential|auth|private|signing|session|cookie|dsn|salt)"
)
# Known credential shapes (GitHub, Slack, Stripe, AWS keys, JWTs, PEM) and long opaque strings.
SECRET_VALUE = re.compile(
    r"^(gh[pousr]_|github_pat_|xox[abposr]-|sk_|rk_|whsec_|AKIA|ASIA|eyJ|-----BEGIN)"
    r"|^(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9+/=_\-]{32,}$"
)
LONGEST_SHOWN = 80
UNSET = "(unset)"


def compare(declared: Declared, live: dict[str, Any] | None) -> list[Finding]:
    """Findings for one resource; `live` None means the resource no longer exists."""
    if live is None:
        return [
            Finding(
                declared.logical_id, declared.resource_type, "", "exists", "deleted", kind="deleted"
            )
        ]
    paths = set(declared.properties)
    paths |= {path for path in live if path.startswith(OPEN_PREFIXES)}
    findings = []
    for path in sorted(paths):
        if path not in live and not path.startswith(OPEN_PREFIXES):
            continue  # not returned by the live read: not comparable (never guessed)
        want, have = declared.properties.get(path), live.get(path)
        if normalize(want) != normalize(have):
            shown_want, shown_have = shown(path, want, have)
            findings.append(
                Finding(declared.logical_id, declared.resource_type, path, shown_want, shown_have)
            )
    return findings


def normalize(value: Any) -> Any:
    """SQS answers strings ("345600", "true"), templates hold numbers and booleans."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        try:
            return float(lowered)
        except ValueError:
            return value
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    return value


def shown(path: str, declared: Any, live: Any) -> tuple[str, str]:
    """How the two values are printed: a secret-looking one as (hidden)/(changed)."""
    if may_be_secret(path, declared) or may_be_secret(path, live):
        return (
            UNSET if declared is None else "(hidden)",
            UNSET if live is None else "(changed)",
        )
    return display(declared), display(live)


def may_be_secret(path: str, value: Any) -> bool:
    if value is None:
        return False
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if path.startswith(ENVIRONMENT_PREFIX):
        name = path[len(ENVIRONMENT_PREFIX) :]
        return bool(SECRET_NAME.search(name)) or bool(SECRET_VALUE.search(text))
    return bool(SECRET_VALUE.search(text)) and not text.startswith("arn:")


def display(value: Any) -> str:
    if value is None:
        return UNSET
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    if len(text) > LONGEST_SHOWN:
        return f"(changed, {len(text)} characters)"
    return text


def cloudformation_findings(drifts: list[dict[str, Any]]) -> list[Finding]:
    """Findings from DescribeStackResourceDrifts (MODIFIED and DELETED resources)."""
    found = []
    for drift in drifts:
        logical_id = str(drift.get("LogicalResourceId", ""))
        kind = str(drift.get("ResourceType", ""))
        status = drift.get("StackResourceDriftStatus")
        if status == "DELETED":
            found.append(
                Finding(logical_id, kind, "", "exists", "deleted", "deleted", "cloudformation")
            )
            continue
        if status != "MODIFIED":
            continue
        for difference in drift.get("PropertyDifferences") or []:
            path = cloudformation_path(str(difference.get("PropertyPath", "")))
            if path in NOT_DRIFT.get(kind, ()):
                continue  # a paused consumer (Enabled false) is not drift
            want, have = difference.get("ExpectedValue"), difference.get("ActualValue")
            if difference.get("DifferenceType") == "ADD":
                want = None
            if difference.get("DifferenceType") == "REMOVE":
                have = None
            shown_want, shown_have = shown(path, want, have)
            found.append(
                Finding(logical_id, kind, path, shown_want, shown_have, source="cloudformation")
            )
    return found


def cloudformation_path(path: str) -> str:
    """ "/ScalingConfig/MaximumConcurrency" -> "ScalingConfig.MaximumConcurrency"."""
    return ".".join(part for part in path.split("/") if part)


def merge(direct: list[Finding], reported: list[Finding]) -> list[Finding]:
    """Direct reads first; CloudFormation adds what they did not cover."""
    seen = {(f.logical_id, f.property) for f in direct}
    deleted = {f.logical_id for f in direct if f.kind == "deleted"}
    extra = [
        f
        for f in reported
        if (f.logical_id, f.property) not in seen and f.logical_id not in deleted
    ]
    return sorted([*direct, *extra], key=lambda f: (f.logical_id, f.property))
