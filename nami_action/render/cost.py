"""The cost lines of a plan, shared by the text and Markdown views: per pipeline and in
total, the cost per million webhooks and the fixed monthly cost, before -> after when a
change moves it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from nami_action.cost.estimate import totals
from nami_action.plan.model import CostLine, PipelineCost, Plan
from nami_action.render.changes import KEPT

PHRASE = "per million webhooks"


@dataclass(frozen=True)
class CostRow:
    name: str
    per_million: str  # "" for the total
    fixed: str
    monthly: str  # "" without traffic
    note: str = ""  # e.g. kept: removed from nami.yaml, but a deploy without --prune keeps it


def money(value: float) -> str:
    return f"${value:,.2f}"


def heading(plan: Plan) -> str:
    """What the figures rest on, or why there are none."""
    cost = plan.cost
    if cost is None:
        return ""
    if cost.note and not cost.prices_read:
        return f"Cost: {cost.note}"
    traffic = f"; traffic {cost.traffic}" if cost.traffic else ""
    note = f" ({cost.note})" if cost.note else ""
    return (
        f"Cost at {cost.region} list prices of {cost.prices_read}, assuming "
        f"{cost.assumptions}{traffic}{note}"
    )


def rows(plan: Plan, arrow: str) -> list[CostRow]:
    """One row per priced pipeline, then the total (when there is more than one): fixed and
    monthly add up; a total per million webhooks would be an average, so it has none."""
    found = []
    for p in plan.pipelines:
        if p.cost is not None and (p.cost.before or p.cost.after):
            found.append(_row(p.pipeline, p.cost, arrow))
            found += [_route_row(p.pipeline, name, line) for name, line in p.cost.routes.items()]
    if len(found) > 1:
        before, after = totals(plan)
        total = _row("total", PipelineCost(before, after), arrow)
        found.append(replace(total, per_million=""))
    return found


def _route_row(pipeline: str, route: str, line: CostLine) -> CostRow:
    """A route's part of its pipeline's figures: per million webhooks routed to it."""
    return CostRow(
        name=f"{pipeline} route {route}",
        per_million=money(line.per_million),
        fixed=money(line.fixed_monthly),
        monthly="",
        note="included in the pipeline's figures; per million webhooks it gets",
    )


def moved(cost: PipelineCost | None) -> bool:
    return cost is not None and cost.moved


def _row(name: str, cost: PipelineCost, arrow: str) -> CostRow:
    before, after = cost.before, cost.after
    row = CostRow(
        name=name,
        per_million=_change(before, after, lambda c: c.per_million, arrow),
        fixed=_change(before, after, lambda c: c.fixed_monthly, arrow),
        monthly=_change(before, after, lambda c: c.monthly, arrow),
    )
    return replace(row, note=KEPT) if cost.kept else row


def _change(
    before: CostLine | None,
    after: CostLine | None,
    value: Callable[[CostLine], float | None],
    arrow: str,
) -> str:
    old = value(before) if before else None
    new = value(after) if after else None
    if old is None and new is None:
        return ""
    if old is None:
        return money(new) if new is not None else ""
    if new is None:
        return f"{money(old)} {arrow} none"
    if round(old, 2) == round(new, 2):
        return money(new)
    return f"{money(old)} {arrow} {money(new)}"
