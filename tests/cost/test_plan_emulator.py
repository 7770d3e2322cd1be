"""Cost in a real plan against the moto server: the deployed template's recorded inputs give
"before", the compiled one "after"; `--traffic` alone reads CloudWatch."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from nami_action.apply import DeployOptions, deploy
from nami_action.aws.session import Aws, AwsTarget
from nami_action.aws.traffic import webhooks_last_30_days
from nami_action.cli import cli
from nami_action.config import load_config
from nami_action.cost.prices import RegionPrices, prices_for
from nami_action.plan.planner import PlanOptions, make_plan

pytestmark = pytest.mark.emulator

REGION = "us-east-1"
BUCKET = "nami-cost-artifacts"
FAST = 0.05


def put_sent(aws: Aws, queue: str, days_ago: list[int], value: float, now: datetime) -> None:
    aws.client("cloudwatch").put_metric_data(
        Namespace="AWS/SQS",
        MetricData=[
            {
                "MetricName": "NumberOfMessagesSent",
                "Dimensions": [{"Name": "QueueName", "Value": queue}],
                "Timestamp": now - timedelta(days=day),
                "Value": value,
                "Unit": "Count",
            }
            for day in days_ago
        ],
    )


def test_traffic_is_read_back_from_cloudwatch(aws: Aws) -> None:
    now = datetime.now(UTC)
    # three days of 1000 webhooks in the window, one day 40 days ago outside it
    put_sent(aws, "shop-github", [1, 2, 3], 1000.0, now)
    put_sent(aws, "shop-github", [40], 5000.0, now)
    counts = webhooks_last_30_days(aws, ["shop-github", "shop-idle"], now=now)
    assert counts == {"shop-github": 3000.0, "shop-idle": None}


def write_project(folder: Path, memory: int) -> Path:
    (folder / "consumer").mkdir(exist_ok=True)
    (folder / "consumer" / "handler.py").write_text("def handle(webhook):\n    return None\n")
    config = folder / "nami.yaml"
    config.write_text(
        f"version: 1\nproject: shop\nregion: {REGION}\nartifacts: {{bucket: {BUCKET}}}\n"
        "pipelines:\n"
        "  github:\n    verify: {scheme: none}\n"
        f"    consumer: {{code: consumer, memory: {memory}}}\n"
    )
    return config


@pytest.fixture
def deployed(tmp_path: Path, aws: Aws, emulator: str) -> Path:
    """shop-github deployed with 256 MiB; nami.yaml then raised to 1024 MiB."""
    aws.client("s3").create_bucket(Bucket=BUCKET)
    config = write_project(tmp_path, 256)
    session = Aws(AwsTarget(region=REGION, endpoint_url=emulator))
    run = make_plan(
        load_config(config), session, PlanOptions(keep_change_sets=True, poll_seconds=FAST)
    )
    result = deploy(session, run, DeployOptions(poll_seconds=FAST), lambda event: None)
    assert result.ok, result
    return write_project(tmp_path, 1024)


def plan_cli(config: Path, *extra: str) -> str:
    result = CliRunner().invoke(
        cli, ["plan", str(config), "--poll-seconds", "0.05", *extra], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_plan_shows_the_memory_change_before_and_after(deployed: Path) -> None:
    text = plan_cli(deployed)
    # 256 MiB: $4.57 (see test_model); 1024 MiB adds 100,000 x 0.75 GB x 1 s x $0.0000133334
    # = $1.000005: $5.57
    assert "  github: $4.57 -> $5.57 per million webhooks, $5.76 a month fixed" in text

    data = json.loads(plan_cli(deployed, "--format", "json", "--traffic", "2M/month"))
    cost = data["pipelines"][0]["cost"]
    assert round(cost["before"]["per_million"], 2) == 4.57
    assert round(cost["after"]["per_million"], 2) == 5.57
    # fixed: 10 alarm metrics x $0.10 + 5 EMF metrics x $0.30 + idle polling $0.2592
    # + 1 dashboard x $3 = $5.7592; 2 x $5.5705 + $5.7592 = $16.90
    assert round(cost["after"]["monthly"], 2) == 16.90
    assert data["cost"]["traffic"] == "2M/month per pipeline"


def test_assumptions_are_overridable(deployed: Path) -> None:
    text = plan_cli(deployed, "--assume-duration", "50ms", "--assume-batch-fill", "50%")
    assert "50 ms per webhook, batches 50% full" in text
    assert "per million webhooks" in text


def test_traffic_alone_reads_the_last_30_days(deployed: Path, aws: Aws) -> None:
    put_sent(aws, "shop-github", list(range(1, 21)), 100_000.0, datetime.now(UTC))
    data = json.loads(plan_cli(deployed, "--format", "json", "--traffic"))
    cost = data["pipelines"][0]["cost"]
    assert cost["webhooks_per_month"] == 2_000_000.0  # 20 days x 100,000
    assert round(cost["after"]["monthly"], 2) == 16.90
    assert data["cost"]["traffic"] == "cloudwatch: last 30 days"


def test_a_bad_assumption_is_one_clear_error(deployed: Path) -> None:
    result = CliRunner().invoke(cli, ["plan", str(deployed), "--assume-body", "huge"])
    assert result.exit_code == 2
    assert "`huge` is not a size" in result.output
    assert "Traceback" not in result.output


def test_a_removed_pipeline_is_kept_without_prune_and_costs_nothing_after_with_it(
    deployed: Path,
) -> None:
    config = deployed.read_text().replace("  github:", "  stripe:")
    deployed.write_text(config)
    text = plan_cli(deployed)
    # A deploy without --prune leaves github running: it goes on costing (256 MiB deployed).
    assert "  github: $4.57 per million webhooks, $5.76 a month fixed" in text
    assert "$5.76 a month at that traffic; kept (run with --prune to delete)" in text, text
    assert "-> none" not in text
    pruned = plan_cli(deployed, "--prune")
    assert "  github: $4.57 -> none per million webhooks, $5.76 -> none a month fixed" in pruned
    assert "  stripe: $5.57 per million webhooks, $5.76 a month fixed" in pruned


def test_the_plan_names_the_changed_settings_and_files(deployed: Path) -> None:
    (deployed.parent / "consumer" / "handler.py").write_text("def handle(webhook):\n    pass\n")
    (deployed.parent / "consumer" / "util.py").write_text("X = 1\n")
    data = json.loads(plan_cli(deployed, "--format", "json"))
    (github,) = data["pipelines"]
    assert github["settings"] == [{"key": "consumer.memory", "before": "256", "after": "1024"}]
    assert github["code"]["changed"] == ["handler.py"]
    assert github["code"]["added"] == ["util.py"]
    body = plan_cli(deployed, "--format", "markdown")
    section = body[body.index("**`github`** · update") :]
    assert section.splitlines()[2:5] == [
        "- `consumer.memory: 256 → 1024`",
        "- `code: changed handler.py; added util.py`",
        "",
    ]
    assert section.index("consumer.memory") < section.index("<details><summary>CloudFormation")


def test_an_unknown_region_is_said_without_any_aws_call(tmp_path: Path) -> None:
    from nami_action.cost.estimate import CostOptions
    from nami_action.plan.costs import add_costs
    from nami_action.plan.model import PipelinePlan, Plan
    from nami_action.plan.planner import PlanRun

    aws = Aws(AwsTarget(region="eu-central-1", endpoint_url="http://127.0.0.1:9"))
    plan = Plan(
        "shop", "nami.yaml", "eu-central-1", [PipelinePlan("github", "shop-github", "none")]
    )
    run = PlanRun(plan, load_config(write_project(tmp_path, 256)), "", {}, {}, {})
    priced = add_costs(aws, run, CostOptions(traffic=1e6))
    assert priced.cost is not None
    assert priced.cost.note.startswith("no prices for region eu-central-1")
    assert priced.pipelines[0].cost is None
    assert sum(aws.calls.values()) == 0


def test_a_missing_price_is_said_and_that_pipeline_left_unpriced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nami_action.plan.costs
    from nami_action.cost.estimate import CostOptions
    from nami_action.plan.costs import add_costs
    from nami_action.plan.model import PipelinePlan, Plan
    from nami_action.plan.planner import PlanRun

    config = load_config(write_project(tmp_path, 256))
    plain = {"Metadata": {"Nami": {"cost": {"ingress": "rest"}}}, "Resources": {}}
    dashboard = {**plain, "Resources": {"D": {"Type": "AWS::CloudWatch::Dashboard"}}}
    plan = Plan(
        "shop",
        "nami.yaml",
        "eu-west-1",
        [PipelinePlan("a", "shop-a", "none"), PipelinePlan("b", "shop-b", "none")],
    )
    templates = {"a": json.dumps(plain), "b": json.dumps(dashboard)}
    run = PlanRun(plan, config, "", {}, templates, {})
    # Every listed region has every price today: take the dashboard's away.
    monkeypatch.setattr(nami_action.plan.costs, "prices_for", lacking_dashboard_price)
    aws = Aws(AwsTarget(region="eu-west-1", endpoint_url="http://127.0.0.1:9"))
    priced = add_costs(aws, run, CostOptions(measure_traffic=False))
    assert priced.cost is not None
    assert priced.cost.note == (
        "no price for cloudwatch_dashboard_month in region eu-west-1 in nami's price file"
    )
    a, b = priced.pipelines
    assert a.cost is not None and a.cost.after is not None
    assert b.cost is None


def lacking_dashboard_price(region: str) -> RegionPrices | None:
    prices = prices_for(region)
    assert prices is not None
    kept = {k: v for k, v in prices.prices.items() if k != "cloudwatch_dashboard_month"}
    return dataclasses.replace(prices, prices=kept)
