"""What changed in nami.yaml's own terms: the settings as written and the consumer's code, read
from what the deployed and the compiled template record in their Metadata (compile/record.py).
Pure: the planner reads the templates, this compares them."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from pydantic import BaseModel

from nami_action.compile.record import CODE, SETTINGS
from nami_action.config.models import Pipeline
from nami_action.cost.model import METADATA_KEY
from nami_action.plan.decide import unified_diff
from nami_action.plan.model import CodeChange, PackageChange, PipelinePlan, SettingChange
from nami_action.plan.review_form import review_texts

NOT_RECORDED = (
    "the deployed template records no settings (deployed by an older nami): see the template diff"
)


def with_changes(
    plan: PipelinePlan, deployed: dict[str, Any] | None, compiled: dict[str, Any] | None
) -> PipelinePlan:
    """The plan with what changed: settings, code, and the template diff (review form)."""
    settings, note = setting_changes(deployed, compiled)
    return replace(
        plan,
        diff=unified_diff(plan.stack_name, *review_texts(deployed, compiled)),
        settings=settings,
        settings_note=note,
        code=code_change(deployed, compiled),
    )


def setting_changes(
    deployed: dict[str, Any] | None, compiled: dict[str, Any] | None
) -> tuple[list[SettingChange], str]:
    """(changes, note): every written setting whose value differs, in key order; the note says
    why none can be listed."""
    before, after = _recorded(deployed, SETTINGS), _recorded(compiled, SETTINGS)
    if before is None or after is None:
        return [], NOT_RECORDED if deployed is not None and after is not None else ""
    changes = [
        SettingChange(key, _written(before, key), _written(after, key))
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    ]
    return changes, ""


def _written(settings: dict[str, Any], key: str) -> str | None:
    """The value as written; where it is not written, the default that applies."""
    if key in settings:
        return _text(settings[key])
    default = default_value(key)
    return None if default is None else f"{_text(default)} (default)"


def code_change(
    deployed: dict[str, Any] | None, compiled: dict[str, Any] | None
) -> CodeChange | None:
    """Files added, changed and removed in the consumer's own code, packages whose version
    moved, and whether the nami runtime changed; None when nothing did or nothing is known."""
    before, after = _recorded(deployed, CODE), _recorded(compiled, CODE)
    if before is None or after is None or before == after:
        return None
    added, changed, removed = _file_changes(before, after)
    old_packages, new_packages = before.get("packages") or {}, after.get("packages") or {}
    change = CodeChange(
        added=added,
        changed=changed,
        removed=removed,
        packages=[
            PackageChange(name, str(old_packages.get(name, "")), str(new_packages.get(name, "")))
            for name in sorted(set(old_packages) | set(new_packages))
            if old_packages.get(name) != new_packages.get(name)
        ],
        runtime=before.get("runtime") != after.get("runtime"),
    )
    return change if change.any else None


def _file_changes(
    before: dict[str, Any], after: dict[str, Any]
) -> tuple[list[str], list[str], list[str]]:
    old, new = before.get("files"), after.get("files")
    if isinstance(old, dict) and isinstance(new, dict):
        both = set(old) & set(new)
        return (
            sorted(set(new) - set(old)),
            sorted(k for k in both if old[k] != new[k]),
            sorted(set(old) - set(new)),
        )
    if (before.get("files_digest"), old) == (after.get("files_digest"), new):
        return [], [], []
    return [], [f"({after.get('file_count', 'many')} files, too many to list)"], []


def default_value(key: str) -> Any:
    """The schema's default of a dotted setting (`ingress` -> "rest"), None if it has none."""
    model: Any = Pipeline
    found: Any = None
    for step in key.split("."):
        field = getattr(model, "model_fields", {}).get(step)
        if field is None:
            return None
        found = None if field.is_required() else field.get_default(call_default_factory=True)
        model = type(found) if isinstance(found, BaseModel) else field.annotation
    return None if isinstance(found, BaseModel | dict | list) else found


def _recorded(template: dict[str, Any] | None, part: str) -> dict[str, Any] | None:
    found = ((template or {}).get("Metadata") or {}).get(METADATA_KEY, {}).get(part)
    return found if isinstance(found, dict) else None


def _text(value: Any) -> str | None:
    """A written value as it reads in nami.yaml; None: not set."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_text(item) or "null" for item in value) + "]"
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else str(value)
