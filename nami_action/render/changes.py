"""What changed in nami.yaml's terms, as lines every view shares: the settings as written
(`consumer.memory: 256 → 1024`) and the consumer's code (files and package versions)."""

from __future__ import annotations

from nami_action.plan.model import CodeChange, PackageChange, PipelinePlan, SettingChange

NOT_SET = "(not set)"
VALUE_CHARS = 80  # a longer value (a description) is cut: the template diff has it whole
KEPT = "kept (run with --prune to delete)"


def setting_line(change: SettingChange, arrow: str) -> str:
    return f"{change.key}: {_value(change.before)} {arrow} {_value(change.after)}"


def code_lines(code: CodeChange | None, arrow: str) -> list[str]:
    if code is None:
        return []
    lines = []
    files = [
        f"{what} {', '.join(names)}"
        for what, names in (
            ("changed", code.changed),
            ("added", code.added),
            ("removed", code.removed),
        )
        if names
    ]
    if files:
        lines.append("code: " + "; ".join(files))
    if code.packages:
        lines.append("packages: " + ", ".join(_package(p, arrow) for p in code.packages))
    if code.runtime:
        lines.append("the nami runtime in the zip changed (another nami version)")
    return lines


def _package(package: PackageChange, arrow: str) -> str:
    if not package.before:
        return f"{package.name} {package.after} (added)"
    if not package.after:
        return f"{package.name} {package.before} (removed)"
    return f"{package.name} {package.before} {arrow} {package.after}"


def kept(pipeline: PipelinePlan, prune: bool) -> bool:
    """A pipeline removed from nami.yaml stays deployed unless the deploy prunes."""
    return pipeline.action == "delete" and not prune


def _value(value: str | None) -> str:
    if value is None:
        return NOT_SET
    text = " ".join(value.split()) or '""'
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 1] + "…"
