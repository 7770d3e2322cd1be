"""From templates to the plan's cost lines: before (deployed) -> after (compiled), totals,
and the spelling of the `nami plan` cost flags. Pure: the planner fetches, this computes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from nami_action.config.units import parse_duration, parse_size
from nami_action.cost.model import (
    Assumptions,
    CostFigures,
    CostInputs,
    estimate,
    inputs_from_template,
    route_estimates,
)
from nami_action.cost.prices import RegionPrices, known_regions
from nami_action.plan.model import CostLine, PipelineCost, Plan

MEASURED = "cloudwatch"  # `--traffic` without a value: read the last 30 days


@dataclass(frozen=True)
class CostOptions:
    assumptions: Assumptions = field(default_factory=Assumptions)
    traffic: float | None = None  # webhooks a month, per pipeline
    measure_traffic: bool = True  # without `traffic`: read the last 30 days from CloudWatch


def unknown_region_note(region: str) -> str:
    return (
        f"no prices for region {region} in nami's price file (it has "
        f"{', '.join(known_regions())}): no cost figures shown"
    )


def cost_line(
    inputs: CostInputs | None,
    prices: RegionPrices,
    assumptions: Assumptions,
    webhooks_per_month: float | None,
) -> CostLine | None:
    if inputs is None:
        return None
    figures: CostFigures = estimate(inputs, prices, assumptions)
    return CostLine(
        per_million=figures.per_million,
        fixed_monthly=figures.fixed_monthly,
        monthly=None if webhooks_per_month is None else figures.monthly(webhooks_per_month),
        per_million_parts=figures.per_million_parts,
        fixed_parts=figures.fixed_parts,
    )


def pipeline_cost(
    deployed: dict[str, Any] | None,
    compiled: dict[str, Any] | None,
    prices: RegionPrices,
    assumptions: Assumptions,
    webhooks_per_month: float | None = None,
) -> PipelineCost:
    """Before from the deployed template's recorded inputs, after from the compiled one."""
    after = inputs_from_template(compiled)
    routes = route_estimates(after, prices, assumptions) if after is not None else {}
    return PipelineCost(
        before=cost_line(inputs_from_template(deployed), prices, assumptions, webhooks_per_month),
        after=cost_line(after, prices, assumptions, webhooks_per_month),
        webhooks_per_month=webhooks_per_month,
        routes={
            name: CostLine(figures.per_million, figures.fixed_monthly)
            for name, figures in routes.items()
        },
    )


def totals(plan: Plan) -> tuple[CostLine | None, CostLine | None]:
    """(before, after) over every pipeline: fixed and monthly costs add up. There is no total
    per million webhooks: pipelines see different traffic, so an average of their rates
    would move when a cheap pipeline is removed though nothing got dearer."""
    costs = [p.cost for p in plan.pipelines if p.cost is not None]
    return (
        _total([c.before for c in costs if c.before is not None]),
        _total([c.after for c in costs if c.after is not None]),
    )


def _total(lines: list[CostLine]) -> CostLine | None:
    if not lines:
        return None
    monthly = [line.monthly for line in lines]
    return CostLine(
        per_million=0.0,  # not shown (see totals)
        fixed_monthly=sum(line.fixed_monthly for line in lines),
        monthly=None if None in monthly else sum(m for m in monthly if m is not None),
    )


# --- the flags -------------------------------------------------------------------------------

_MS = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*ms\s*$")
_RATE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([kKMB]?)\s*(?:/\s*(month|day))?\s*$")
_SCALE = {"": 1, "k": 1e3, "K": 1e3, "M": 1e6, "B": 1e9}
_PER = {None: 1, "month": 1, "day": 30}


def parse_duration_ms(value: str) -> float:
    """`100ms`, or any duration nami.yaml accepts (`1s`, `2m`), in milliseconds."""
    match = _MS.match(value)
    if match:
        return float(match.group(1))
    try:
        seconds = parse_duration(value.strip())
    except ValueError:
        seconds = None  # parse_duration's message offers no `ms`, and a bare number
    if not isinstance(seconds, int):
        raise ValueError(f"`{value}` is not a duration: write 100ms, 2s or 1m")
    return float(seconds * 1000)


def parse_body_size(value: str) -> int:
    if value.strip().isdigit():  # bytes, as the message below offers
        return int(value.strip())
    size = parse_size(value.strip())
    if not isinstance(size, int):
        raise ValueError(f"`{value}` is not a size: write 4KiB, 1MiB or bytes")
    return size


def parse_traffic(value: str) -> float:
    """Webhooks a month: `2M/month`, `50k/day` (x30), `1500000`."""
    match = _RATE.match(value)
    if not match:
        raise ValueError(f"`{value}` is not a traffic figure: write 2M/month, 50k/day or 1500000")
    number, scale, per = match.groups()
    return float(number) * _SCALE[scale] * _PER[per]


def parse_fill(value: str) -> float:
    text = value.strip()
    problem = f"`{value}` is not a batch fill: write a fraction in (0, 1] or 1%-100%"
    try:
        fill = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise ValueError(problem) from None
    if not 0 < fill <= 1:
        raise ValueError(problem)
    return fill


def describe_traffic(webhooks_per_month: float) -> str:
    for suffix, scale in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if webhooks_per_month >= scale:
            return f"{webhooks_per_month / scale:g}{suffix}/month"
    return f"{webhooks_per_month:g}/month"
