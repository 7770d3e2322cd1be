"""The cost lines in the text, Markdown and JSON views of a plan."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from nami_action.cost.estimate import (
    describe_traffic,
    parse_body_size,
    parse_duration_ms,
    parse_fill,
    parse_traffic,
    pipeline_cost,
    totals,
    unknown_region_note,
)
from nami_action.cost.model import Assumptions, CostInputs, metadata
from nami_action.cost.prices import prices_for
from nami_action.plan.model import PipelinePlan, Plan, PlanCost
from nami_action.render.markdown import plan_markdown
from nami_action.render.text import plan_text

PRICES = prices_for("us-east-1")
assert PRICES is not None
ALARM = {"Type": "AWS::CloudWatch::Alarm", "Properties": {"MetricName": "x"}}


def template(inputs: CostInputs, alarms: int = 4) -> dict[str, Any]:
    return {
        "Metadata": metadata(inputs),
        "Resources": {f"Alarm{i}": ALARM for i in range(alarms)},
    }


def cost_plan(traffic: float | None = None) -> Plan:
    """github unchanged ($4.57); stripe turns dedupe on ($4.57 -> $5.82)."""
    assert PRICES is not None
    assume = Assumptions()
    plain = template(CostInputs())
    deduped = template(CostInputs(dedupe=True))
    pipelines = [
        PipelinePlan(
            "github",
            "shop-github",
            "none",
            cost=pipeline_cost(plain, plain, PRICES, assume, traffic),
        ),
        PipelinePlan(
            "stripe",
            "shop-stripe",
            "update",
            "template changed",
            cost=pipeline_cost(plain, deduped, PRICES, assume, traffic),
        ),
    ]
    about = PlanCost(
        region="us-east-1",
        prices_read=PRICES.read,
        assumptions=assume.describe(),
        traffic=describe_traffic(traffic) if traffic else "",
    )
    return Plan("shop", "nami.yaml", "us-east-1", pipelines, about)


def test_text_shows_per_million_webhooks_and_before_after() -> None:
    text = plan_text(cost_plan())
    assert "Cost at us-east-1 list prices of 2026-11-28" in text
    assert "4 KiB bodies, 100 ms per webhook, batches 100% full" in text
    assert "  github: $4.57 per million webhooks, $2.16 a month fixed" in text
    # dedupe adds 2 writes x $0.625/M = $1.25
    assert "  stripe: $4.57 -> $5.82 per million webhooks, $2.16 a month fixed" in text
    # total: fixed costs add up; no total per million (an average of rates says nothing)
    assert "  total: $4.32 a month fixed\n" in text


def test_markdown_shows_a_cost_table() -> None:
    body = plan_markdown(cost_plan())
    assert "| Pipeline | Cost per million webhooks | Fixed per month |" in body
    assert "| `stripe` | \\$4.57 → \\$5.82 | \\$2.16 |" in body
    assert "| **total** | — | \\$4.32 |" in body


def test_traffic_gives_a_monthly_figure() -> None:
    plan = cost_plan(traffic=2_000_000)
    text = plan_text(plan)
    # github: 2 x $4.5705 + $2.1592 = $11.30
    assert "github: $4.57 per million webhooks, $2.16 a month fixed, $11.30 a month" in text
    assert "traffic 2M/month" in text
    body = plan_markdown(plan)
    assert "Per month at that traffic |" in body
    # stripe after: 2 x $5.8205 + $2.1592 = $13.80
    assert "\\$11.30 → \\$13.80" in body
    # the total is monthly at that traffic: $11.30 + ($11.30 -> $13.80)
    assert "| **total** | — | \\$4.32 | \\$22.60 → \\$25.10 |" in body


def test_json_carries_the_figures_and_reads_back() -> None:
    plan = cost_plan()
    data = json.loads(plan.to_json())
    stripe = data["pipelines"][1]["cost"]
    assert round(stripe["before"]["per_million"], 2) == 4.57
    assert round(stripe["after"]["per_million"], 2) == 5.82
    assert stripe["after"]["per_million_parts"]["dedupe"] == 1.25
    assert data["cost"]["region"] == "us-east-1"
    again = Plan.from_dict(data)
    assert again == plan
    assert totals(again)[1] is not None


def test_moved_only_when_a_figure_changes() -> None:
    plan = cost_plan()
    assert [p.cost.moved for p in plan.pipelines if p.cost] == [False, True]


def test_unknown_region_says_so_and_shows_no_figure() -> None:
    note = unknown_region_note("eu-central-1")
    plan = Plan(
        "shop",
        "nami.yaml",
        "eu-central-1",
        [PipelinePlan("github", "shop-github", "none")],
        PlanCost(region="eu-central-1", note=note),
    )
    text = plan_text(plan)
    assert (
        "Cost: no prices for region eu-central-1 in nami's price file (it has eu-west-1, us-east-1)"
        in text
    )
    assert "no cost figures shown" in text
    assert "$" not in text
    assert "no prices for region eu-central-1" in plan_markdown(plan)


def test_created_deleted_and_kept_pipelines() -> None:
    assert PRICES is not None
    plain = template(CostInputs())
    created = pipeline_cost(None, plain, PRICES, Assumptions())
    deleted = pipeline_cost(plain, None, PRICES, Assumptions())
    kept = dataclasses.replace(pipeline_cost(plain, plain, PRICES, Assumptions()), kept=True)
    about = PlanCost(region="us-east-1", prices_read="2026-11-28", assumptions="x")
    plans = [
        PipelinePlan("new", "shop-new", "create", cost=created),
        PipelinePlan("old", "shop-old", "delete", cost=deleted),
    ]
    text = plan_text(Plan("shop", "nami.yaml", "us-east-1", plans, about, prune=True))
    assert "  new: $4.57 per million webhooks" in text
    assert "  old: $4.57 -> none per million webhooks, $2.16 -> none a month fixed" in text
    # Without --prune a deploy leaves the removed pipeline running: it still costs.
    plans[1] = PipelinePlan("old", "shop-old", "delete", cost=kept)
    plan = Plan("shop", "nami.yaml", "us-east-1", plans, about)
    text = plan_text(plan)
    assert (
        "  old: $4.57 per million webhooks, $2.16 a month fixed; kept (run with --prune to delete)"
        in text
    )
    assert "-> none" not in text
    body = plan_markdown(plan)
    assert "| `old` · kept (run with --prune to delete) | \\$4.57 | \\$2.16 |" in body
    assert "**`old`** · delete · kept (run with --prune to delete)" in body
    assert Plan.from_dict(json.loads(plan.to_json())) == plan


def test_flag_spellings() -> None:
    assert parse_duration_ms("100ms") == 100.0
    assert parse_duration_ms("2s") == 2000.0
    assert parse_body_size("4KiB") == 4096
    assert parse_body_size("4096") == 4096  # bytes, as the message offers
    assert parse_fill("50%") == 0.5 and parse_fill("0.25") == 0.25
    assert parse_traffic("2M/month") == 2_000_000
    assert parse_traffic("50k/day") == 1_500_000
    assert parse_traffic("1500000") == 1_500_000
    for bad, parse in (
        ("fast", parse_duration_ms),
        ("big", parse_body_size),
        ("0", parse_fill),
        ("150%", parse_fill),
        ("lots", parse_traffic),
    ):
        try:
            parse(bad)
        except ValueError as exc:
            assert f"`{bad}`" in str(exc)
        else:
            raise AssertionError(f"{bad} was accepted")
