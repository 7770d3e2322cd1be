"""render: the Plan and the deploy Result for a terminal (plain text, no colour codes)."""

from __future__ import annotations

from nami_action.aws.stacks import StackEvent
from nami_action.plan.model import DeployResult, PipelinePlan, Plan, ResourceChange
from nami_action.render import changes, cost

SYMBOLS = {"create": "+", "update": "~", "delete": "-", "none": " "}


def plan_text(plan: Plan, *, show_diff: bool = False) -> str:
    counts = plan.counts()
    lines = [
        f"Plan for {plan.project} ({plan.region}): {counts['create']} to create, "
        f"{counts['update']} to update, {counts['delete']} to delete, "
        f"{counts['none']} unchanged"
    ]
    lines += [f"! {w.message}" for w in plan.warnings if w.loses_messages]
    lines += [f"warning: {w.message}" for w in plan.warnings if not w.loses_messages]
    for pipeline in plan.pipelines:
        if pipeline.changed or pipeline.error:
            lines += _pipeline_lines(pipeline, show_diff)
    unchanged = [
        p.pipeline + (" (paused)" if p.paused else "")
        for p in plan.pipelines
        if not p.changed and not p.error
    ]
    if unchanged:
        lines.append(f"  unchanged: {', '.join(unchanged)}")
    lines += _cost_lines(plan)
    return "\n".join(lines) + "\n"


def _cost_lines(plan: Plan) -> list[str]:
    heading = cost.heading(plan)
    lines = [heading] if heading else []
    for row in cost.rows(plan, "->"):
        rate = f"{row.per_million} {cost.PHRASE}, " if row.per_million else ""
        monthly = f", {row.monthly} a month at that traffic" if row.monthly else ""
        note = f"; {row.note}" if row.note else ""
        lines.append(f"  {row.name}: {rate}{row.fixed} a month fixed{monthly}{note}")
    return lines


def _pipeline_lines(pipeline: PipelinePlan, show_diff: bool) -> list[str]:
    why = f" ({pipeline.reason})" if pipeline.reason else ""
    paused = " [paused: stays paused after deploy]" if pipeline.paused else ""
    lines = [f"{SYMBOLS[pipeline.action]} {pipeline.action} {pipeline.stack_name}{why}{paused}"]
    lines += [f"    {changes.setting_line(c, '->')}" for c in pipeline.settings]
    lines += [f"    {line}" for line in changes.code_lines(pipeline.code, "->")]
    if pipeline.retries and pipeline.action != "delete":
        lines.append(f"    retries: {pipeline.retries}")
    if pipeline.forward and pipeline.action != "delete":
        lines.append(f"    forward: {pipeline.forward}")
    if pipeline.action != "delete":
        lines += [f"    {line}" for line in pipeline.routes]
    if pipeline.ingress and pipeline.action != "delete":
        lines.append(f"    ingress: {pipeline.ingress}")
    if pipeline.error:
        lines.append(f"    error: {pipeline.error}")
    lines += ["    " + row for row in change_table(pipeline.changes)]
    if show_diff and pipeline.diff:
        lines += ["    " + line for line in pipeline.diff.splitlines()]
    return lines


def change_table(changes: list[ResourceChange]) -> list[str]:
    if not changes:
        return []
    rows = [("Operation", "Logical ID", "Type", "Replacement")]
    rows += [(c.action, c.logical_id, c.resource_type, c.replacement or "-") for c in changes]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def deploy_text(result: DeployResult) -> str:
    lines = [f"Deploy of {result.project} ({result.region}):"]
    for pipeline in result.pipelines:
        where = f"  {pipeline.endpoint}" if pipeline.endpoint else ""
        lines.append(
            f"  {pipeline.pipeline:<24} {pipeline.outcome:<10} {pipeline.seconds:>6.1f}s{where}"
        )
        lines += [f"      {reason}" for reason in pipeline.reasons]
        if pipeline.dashboard:
            lines.append(f"      dashboard: {pipeline.dashboard}")
    failed = len(result.failed)
    lines.append("all pipelines deployed" if not failed else f"{failed} pipeline(s) failed")
    return "\n".join(lines) + "\n"


def event_line(event: StackEvent) -> str:
    reason = f"  {event.reason}" if event.reason else ""
    return (
        f"  {event.timestamp:%H:%M:%S}  {event.stack_name}  {event.logical_id} "
        f"({event.resource_type})  {event.status}{reason}"
    )
