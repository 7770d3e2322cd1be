"""The reviewed plan, as a digest: what a merge's deploy must match before it executes.

A plan's fingerprint holds, per pipeline, what the deploy would do and exactly with what:
the action, the SHA-256 of the template and of the consumer zip, the S3 version of the zip
when the change set keeps the one the stack runs (plan/code_versions.py: otherwise the deploy
pins the version whose SHA-256 it checked, which no plan can know beforehand; a kept version
that is gone is replaced by one holding the same SHA-256 and the plan stands), the SHA-256 of
the diff against the deployed template (someone deploying in between changes it), the kinds of
old endpoints the template keeps (plan/endpoints.py: so a deploy can say an old endpoint went
quiet or live since the plan) and the change set's rows. Change set names, costs and queue
depths are left out: they differ between two runs that would do the same thing. The digest is
the SHA-256 of the fingerprint's canonical JSON.

A deploy computes the fingerprint of its own plan and refuses to execute unless its digest is
the approved one (Atlantis's saved plans, Terraform Cloud's "apply exactly this plan"), and
names what differs.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from nami_action.compile.record import RETIRING
from nami_action.cost.model import METADATA_KEY
from nami_action.plan.model import ResourceChange
from nami_action.plan.planner import PlanRun

FORMAT = "nami-plan-v1"
LAMBDA_FUNCTION = "AWS::Lambda::Function"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def fingerprint(run: PlanRun, bundle_digest: str | None) -> dict[str, Any]:
    pipelines: dict[str, Any] = {}
    for plan in run.plan.pipelines:
        template = run.templates.get(plan.pipeline) if plan.action != "delete" else None
        artifact = run.artifacts.get(plan.pipeline) if plan.action != "delete" else None
        pinned = run.code.get(plan.pipeline)
        pipelines[plan.pipeline] = {
            "stack": plan.stack_name,
            "action": plan.action,
            "template_sha256": _sha(template) if template is not None else None,
            "retiring": retiring_kinds(template),
            "zip_sha256": artifact.sha256 if artifact is not None else None,
            "code_version": pinned.approved if pinned is not None else None,
            "diff_sha256": _sha(plan.diff) if plan.diff else None,
            "changes": change_rows(plan.changes, kept_code=bool(pinned and pinned.approved)),
            "error": bool(plan.error),
        }
    return {"format": FORMAT, "bundle": bundle_digest, "pipelines": pipelines}


def change_rows(changes: list[ResourceChange], *, kept_code: bool) -> list[list[str]]:
    """The change set's rows. Where the plan kept the zip version the stack runs, a deploy may
    pin another version holding the same SHA-256 (the kept one is gone, plan/code_versions.py),
    and on AWS that alone is a Modify of the functions: their Modify rows are left out then.
    What they would say is in the fingerprint already: the template and diff digests hold
    every property change, code_version and zip_sha256 the code."""
    return sorted(
        [c.action, c.logical_id, c.resource_type, c.replacement]
        for c in changes
        if not (kept_code and c.action == "Modify" and c.resource_type == LAMBDA_FUNCTION)
    )


def retiring_kinds(template: str | None) -> list[str]:
    """The old endpoint kinds the template keeps, as its Metadata records them."""
    if template is None:
        return []
    recorded = (json.loads(template).get("Metadata") or {}).get(METADATA_KEY) or {}
    return sorted(recorded.get(RETIRING, []))


def canonical(found: dict[str, Any]) -> str:
    return json.dumps(found, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def digest(found: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(found).encode()).hexdigest()


def differences(approved: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    """What differs between the approved fingerprint and this run's, in words."""
    found = []
    if approved.get("bundle") != actual.get("bundle"):
        found.append(
            f"bundle {_short(actual.get('bundle'))} is not the approved "
            f"{_short(approved.get('bundle'))} (main moved, or the build differs)"
        )
    before: dict[str, Any] = approved.get("pipelines") or {}
    now: dict[str, Any] = actual.get("pipelines") or {}
    for name in sorted(set(before) | set(now)):
        if name not in now:
            found.append(f"{name}: in the approved plan, not in this one")
        elif name not in before:
            found.append(f"{name}: not in the approved plan")
        else:
            changed = [key for key in sorted(now[name]) if now[name][key] != before[name].get(key)]
            if changed:
                found.append(f"{name}: {', '.join(changed)} differ" + _hint(changed))
    return found


def _hint(keys: list[str]) -> str:
    if "retiring" in keys:
        return (
            " (an old endpoint went quiet or live since the plan, so the template keeps other"
            " old endpoints: plan again)"
        )
    if "diff_sha256" in keys and "template_sha256" not in keys:
        return " (the deployed stack changed since the plan: someone deployed or it drifted)"
    if keys == ["code_version"]:
        return (
            " (the stack now runs another zip version than the plan kept, or the kept one is"
            " gone and the bucket keeps no versions to pin the reviewed zip by: plan again)"
        )
    return ""


def _short(value: Any) -> str:
    return str(value)[:12] if value else "none"
