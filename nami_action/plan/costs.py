"""The plan's cost lines: what each pipeline costs deployed and compiled, at which traffic.

Kept out of the planner proper: it reads the deployed templates (their Metadata records the
cost inputs) and, with `--traffic` alone, CloudWatch; it never fails a plan.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from nami_action.aws.session import Aws
from nami_action.aws.traffic import webhooks_last_30_days
from nami_action.compile import names
from nami_action.cost.estimate import (
    MEASURED,
    CostOptions,
    describe_traffic,
    pipeline_cost,
    unknown_region_note,
)
from nami_action.cost.prices import MissingPrice, RegionPrices, prices_for
from nami_action.errors import NamiError
from nami_action.plan.model import PipelineCost, PipelinePlan, Plan, PlanCost

if TYPE_CHECKING:
    from nami_action.plan.planner import PlanRun


def add_costs(aws: Aws, run: PlanRun, options: CostOptions | None) -> Plan:
    plan = run.plan
    if options is None:
        return plan
    prices = prices_for(aws.region)
    about = PlanCost(region=aws.region, assumptions=options.assumptions.describe())
    if prices is None:
        return replace(plan, cost=replace(about, note=unknown_region_note(aws.region)))
    traffic, label, note = _traffic(aws, run, options)
    pipelines: list[PipelinePlan] = []
    missing: set[str] = set()
    for p in plan.pipelines:
        if p.error and p.action == "none":  # refused (not ours): nothing to price
            pipelines.append(p)
            continue
        try:
            cost = _pipeline_cost(aws, run, p, prices, options, traffic.get(p.pipeline))
        except MissingPrice as exc:
            missing.add(str(exc))
            cost = None
        pipelines.append(replace(p, cost=cost))
    note = "; ".join(part for part in [note, *sorted(missing)] if part)
    about = replace(about, prices_read=prices.read, traffic=label, note=note)
    return replace(plan, pipelines=pipelines, cost=about)


def _pipeline_cost(
    aws: Aws,
    run: PlanRun,
    plan: PipelinePlan,
    prices: RegionPrices,
    options: CostOptions,
    webhooks_per_month: float | None,
) -> PipelineCost:
    compiled = run.templates.get(plan.pipeline)
    deployed = _deployed(aws, run, plan, compiled)
    if plan.action == "delete" and not run.plan.prune:
        # Without --prune the deploy leaves it running: it goes on costing what it costs.
        kept = pipeline_cost(deployed, deployed, prices, options.assumptions, webhooks_per_month)
        return replace(kept, kept=True)
    return pipeline_cost(
        deployed,
        _json(compiled) if plan.action != "delete" else None,
        prices,
        options.assumptions,
        webhooks_per_month,
    )


def _deployed(
    aws: Aws, run: PlanRun, plan: PipelinePlan, compiled: str | None
) -> dict[str, Any] | None:
    """The deployed template: unchanged pipelines run what nami.yaml compiles to (same
    fingerprint), so only updates and deletions need it (the preview read it already for an
    update)."""
    if plan.action == "none":
        return _json(compiled)
    if plan.action == "create":
        return None
    try:
        return run.deployed_template(aws, plan.stack_name)
    except NamiError:
        return None  # before stays unknown; the plan itself goes on


def _traffic(aws: Aws, run: PlanRun, options: CostOptions) -> tuple[dict[str, float], str, str]:
    if options.traffic is not None:
        label = f"{describe_traffic(options.traffic)} per pipeline"
        return dict.fromkeys([p.pipeline for p in run.plan.pipelines], options.traffic), label, ""
    if not options.measure_traffic:
        return {}, "", ""
    queues = {p.pipeline: _queue_names(run, p) for p in run.plan.pipelines}
    try:
        counted = webhooks_last_30_days(aws, sorted({q for qs in queues.values() for q in qs}))
    except NamiError as exc:
        unread = f"no monthly figures: traffic not readable from CloudWatch ({exc})"
        return {}, "", f"{unread}; pass --traffic"
    measured = {
        name: sum(counted.get(queue) or 0.0 for queue in found) for name, found in queues.items()
    }
    return measured, f"{MEASURED}: last 30 days", ""


def _queue_names(run: PlanRun, plan: PipelinePlan) -> tuple[str, ...]:
    """The pipeline's queue; for one that left nami.yaml (kept running without --prune), the
    queue its stack holds, standard or FIFO."""
    pipeline = run.config.pipelines.get(plan.pipeline)
    if pipeline is not None:
        return (names.queue_name(pipeline),)
    return (plan.stack_name, plan.stack_name + ".fifo")


def _json(template: str | None) -> dict[str, Any] | None:
    return json.loads(template) if template else None
