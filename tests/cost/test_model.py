"""The cost model against figures computed by hand, one cost driver at a time.

Prices (us-east-1, prices.json): REST API $3.50/M, HTTP API $1.00/M (512 KB increments),
SQS standard $0.40/M, FIFO $0.50/M (64 KB chunks), Lambda $0.20/M requests, arm64
$0.0000133334/GB-s, x86_64 $0.0000166667/GB-s, DynamoDB $0.625/M writes, alarm metric
$0.10/month, custom metric $0.30/month, logs $0.50/GB (2^30 bytes).

The base case: 4 KiB bodies, 100 ms per webhook, full batches of 10, 256 MiB arm64:
- envelope = 4*ceil(4096/3) + 1024 = 5464 + 1024 = 6488 bytes (one 64 KB chunk)
- 100,000 batches of 10
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from nami_action.compile import CodeLocation, compile_config
from nami_action.config import load_config
from nami_action.cost.model import (
    Assumptions,
    CostFigures,
    CostInputs,
    count_alarm_metrics,
    envelope_bytes,
    estimate,
    inputs_from_template,
)
from nami_action.cost.prices import MissingPrice, Price, known_regions, prices_for

ROOT = Path(__file__).parents[2]
PRICES = prices_for("us-east-1")
assert PRICES is not None
BASE = CostInputs(alarm_metrics=4)
ASSUME = Assumptions()
GIB = 2**30

# Log bytes per million webhooks in the base case (REST ingress, webhook mode):
# platform lines 348 B x 100,000 batches + runtime line 176 B x 1e6
# + EMF line 426 B x 100,000 + access log line 256 B x 1e6
BASE_LOG_BYTES = 348 * 100_000 + 176 * 1_000_000 + 426 * 100_000 + 256 * 1_000_000
BASE_LOGS = BASE_LOG_BYTES / GIB * 0.50
# SQS per batch: 10 SendMessage + 1 ReceiveMessage (10 x 6488 = 64,880 B, one chunk)
# + 1 DeleteMessageBatch = 12 requests; 1.2M requests x $0.40/M
BASE_QUEUE = 1_200_000 * 0.40 / 1e6
# Lambda: 100,000 invocations x $0.20/M + 100,000 x 0.25 GB x 1.0 s x $0.0000133334
BASE_CONSUMER = 100_000 * 0.20 / 1e6 + 100_000 * 0.25 * 1.0 * 0.0000133334


def run(inputs: CostInputs = BASE, assumptions: Assumptions = ASSUME) -> CostFigures:
    assert PRICES is not None
    return estimate(inputs, PRICES, assumptions)


def with_(**changes: Any) -> CostInputs:
    return CostInputs(**{**BASE.__dict__, **changes})


def test_base_case_rest_ingress() -> None:
    figures = run()
    assert envelope_bytes(4096) == 6488
    assert figures.per_million_parts == pytest.approx(
        {
            "ingress": 3.50,  # 1e6 x $3.50/M
            "queue": BASE_QUEUE,  # = $0.48
            "consumer": BASE_CONSUMER,  # = $0.02 + $0.333335
            "dedupe": 0.0,
            "logs": BASE_LOGS,  # 509.4e6 B = $0.2372
        }
    )
    assert figures.per_million == pytest.approx(4.570543, abs=1e-6)
    # 4 alarm metrics x $0.10 + 5 EMF metrics x $0.30 + idle polling 5 pollers x 3 long
    # polls a minute x 43,200 minutes = 648,000 receives x $0.40/M = $0.2592
    assert figures.fixed_parts == pytest.approx(
        {"alarms": 0.40, "metrics": 1.50, "idle polling": 0.2592, "dashboards": 0.0}
    )
    assert figures.fixed_monthly == pytest.approx(2.1592)
    # 2M webhooks a month: 2 x $4.5705 + $2.1592
    assert figures.monthly(2_000_000) == pytest.approx(2 * 4.570543 + 2.1592, abs=1e-5)


def test_http_ingress_is_one_dollar_per_million() -> None:
    figures = run(with_(ingress="http"))
    assert figures.per_million_parts["ingress"] == pytest.approx(1.00)
    assert figures.per_million == pytest.approx(4.570543 - 2.50, abs=1e-6)


def test_http_ingress_meters_each_512_kb() -> None:
    # 600 KiB = 614,400 B: ceil(614400 / 524288) = 2 metered requests each -> $2.00
    figures = run(with_(ingress="http"), Assumptions(body_bytes=600 * 1024))
    assert figures.per_million_parts["ingress"] == pytest.approx(2.00)


def test_function_url_ingress_costs_the_ingest_function() -> None:
    figures = run(with_(ingress="function-url"))
    # no URL fee; 1e6 invocations x $0.20/M + 1e6 x 0.125 GB x 0.025 s x $0.0000133334
    assert figures.per_million_parts["ingress"] == pytest.approx(0.20 + 0.041666875)
    # the access log line (256 B) is replaced by the ingest function's START/END/REPORT (348 B)
    logs = (BASE_LOG_BYTES - 256 * 1_000_000 + 348 * 1_000_000) / GIB * 0.50
    assert figures.per_million_parts["logs"] == pytest.approx(logs)


def test_memory() -> None:
    # 1024 MiB = 1 GB: 100,000 x ($0.0000002 + 1 GB x 1 s x $0.0000133334) = $1.35334
    assert run(with_(memory_mib=1024)).per_million_parts["consumer"] == pytest.approx(1.35334)


def test_architecture() -> None:
    # x86_64: 100,000 x ($0.0000002 + 0.25 GB x 1 s x $0.0000166667) = $0.4366675
    assert run(with_(architecture="x86_64")).per_million_parts["consumer"] == pytest.approx(
        0.4366675
    )


def test_duration() -> None:
    # 250 ms x 10 = 2.5 s a batch: 100,000 x ($0.0000002 + 0.25 x 2.5 x $0.0000133334)
    figures = run(assumptions=Assumptions(duration_ms=250))
    assert figures.per_million_parts["consumer"] == pytest.approx(0.02 + 0.8333375)


def test_timeout_caps_the_billed_duration() -> None:
    # 5 s x 10 = 50 s, cut at the 30 s timeout: 100,000 x ($0.0000002 + 0.25 x 30 x $0.0000133334)
    figures = run(assumptions=Assumptions(duration_ms=5000))
    assert figures.per_million_parts["consumer"] == pytest.approx(0.02 + 10.00005)
    longer = run(with_(timeout_seconds=60), Assumptions(duration_ms=5000))
    # no cap at 60 s: 50 s a batch -> 100,000 x 0.25 x 50 x $0.0000133334 = $16.66675
    assert longer.per_million_parts["consumer"] == pytest.approx(0.02 + 16.66675)


def test_batch_size() -> None:
    figures = run(with_(batch_size=100))
    # 10,000 batches: 100 sends + 10 receives (10 x 64,880 B, one chunk each) + 10 deletes
    # = 120 a batch = 1.2M requests -> $0.48, as with batches of 10
    assert figures.per_million_parts["queue"] == pytest.approx(0.48)
    # 10,000 x $0.0000002 + 10,000 x 0.25 GB x 10 s x $0.0000133334
    assert figures.per_million_parts["consumer"] == pytest.approx(0.002 + 0.333335)
    # platform and EMF lines per batch fall ten-fold
    logs = (348 * 10_000 + 176 * 1_000_000 + 426 * 10_000 + 256 * 1_000_000) / GIB * 0.50
    assert figures.per_million_parts["logs"] == pytest.approx(logs)


def test_batch_fill() -> None:
    # half-full batches of 10 hold 5: 200,000 batches; 5 sends + 1 receive + 1 delete = 7
    # a batch = 1.4M requests -> $0.56; Lambda 200,000 x $0.0000002 + 1e6 x 0.25 x 0.1 s x ...
    figures = run(assumptions=Assumptions(batch_fill=0.5))
    assert figures.per_million_parts["queue"] == pytest.approx(0.56)
    assert figures.per_million_parts["consumer"] == pytest.approx(0.04 + 0.333335)


@pytest.mark.parametrize(
    ("body", "requests_per_batch"),
    [
        # 47 KiB = 48,128 B -> 4 x 16,043 + 1024 = 65,196 B: one chunk a send;
        # a receive of 10 is 651,960 B = 9.95 chunks -> 10; 10 + 10 + 1 = 21
        (47 * 1024, 21),
        # 48 KiB = 49,152 B -> 4 x 16,384 + 1024 = 66,560 B: two chunks a send;
        # a receive of 10 is 665,600 B = 10.16 chunks -> 11; 20 + 11 + 1 = 32
        (48 * 1024, 32),
    ],
)
def test_body_size_crossing_a_64_kib_chunk(body: int, requests_per_batch: int) -> None:
    figures = run(assumptions=Assumptions(body_bytes=body))
    assert figures.per_million_parts["queue"] == pytest.approx(
        100_000 * requests_per_batch * 0.40 / 1e6
    )


def test_dedupe() -> None:
    # a claim (PutItem) and a completion (UpdateItem): 2 writes x 1e6 x $0.625/M = $1.25
    figures = run(with_(dedupe=True))
    assert figures.per_million_parts["dedupe"] == pytest.approx(1.25)
    assert figures.per_million == pytest.approx(4.570543 + 1.25, abs=1e-6)


def test_fifo() -> None:
    figures = run(with_(fifo=True))
    # 1.2M requests x $0.50/M; idle polling 648,000 x $0.50/M
    assert figures.per_million_parts["queue"] == pytest.approx(0.60)
    assert figures.fixed_parts["idle polling"] == pytest.approx(0.324)


def test_alarm_count_and_dashboards() -> None:
    figures = run(with_(alarm_metrics=7, dashboards=1))
    assert figures.fixed_parts["alarms"] == pytest.approx(0.70)  # 7 x $0.10
    assert figures.fixed_parts["dashboards"] == pytest.approx(3.00)  # 1 x $3


def test_sqs_mode_writes_no_runtime_lines_and_no_metrics() -> None:
    figures = run(with_(mode="sqs"))
    assert figures.fixed_parts["metrics"] == 0.0
    logs = (348 * 100_000 + 256 * 1_000_000) / GIB * 0.50
    assert figures.per_million_parts["logs"] == pytest.approx(logs)


def compiled_templates(path: Path) -> dict[str, dict[str, Any]]:
    config = load_config(path)
    code = dict.fromkeys(config.pipelines, CodeLocation("bucket", "nami/artifacts/x.zip"))
    return {name: json.loads(text) for name, text in compile_config(config, code).items()}


def test_compiled_template_records_the_inputs_and_counts_its_alarms() -> None:
    templates = compiled_templates(ROOT / "examples" / "nami.yaml")
    github = inputs_from_template(templates["acme-webhooks-github"])
    stripe = inputs_from_template(templates["acme-webhooks-stripe"])
    orders = inputs_from_template(templates["acme-webhooks-orders"])
    assert github == CostInputs(dedupe=True, alarm_metrics=10, dashboards=1)
    # DeadLetterAlarm 1 + BacklogAgeAlarm 1 + RejectedAlarm (Rejected + Malformed) 2
    # + ConsumerErrorsAlarm 1 + ConsumerThrottlesAlarm 1 + Ingress5xxAlarm (5XXError, Count) 2
    # + Ingress4xxAlarm (4XXError, Count) 2 = 10
    assert count_alarm_metrics(templates["acme-webhooks-github"]["Resources"]) == 10
    assert stripe is not None and (stripe.batch_size, stripe.dedupe) == (50, True)
    assert orders is not None and (orders.fifo, orders.timeout_seconds) == (True, 60)
    assert templates["acme-webhooks-github"]["Metadata"]["Nami"]["cost"] == {
        "architecture": "arm64",
        "batch_size": 10,
        "dedupe": True,
        "fifo": False,
        "ingress": "rest",
        "memory_mib": 256,
        "mode": "webhook",
        "timeout_seconds": 30,
    }


def test_a_template_without_recorded_inputs_has_no_estimate() -> None:
    assert inputs_from_template(None) is None
    assert inputs_from_template({"Resources": {}}) is None


def test_every_price_names_its_source_and_date() -> None:
    for region in known_regions():
        prices = prices_for(region)
        assert prices is not None
        for key, price in prices.prices.items():
            assert isinstance(price, Price)
            assert price.source.startswith(
                ("https://aws.amazon.com/", "https://pricing.us-east-1.amazonaws.com/offers/")
            ), key
            assert len(price.read) == 10 and price.read.startswith("20"), key


def test_eu_west_1_prices() -> None:
    """Ireland: HTTP API $1.11/M, DynamoDB $0.705/M writes, logs $0.57/GB; the rest as
    us-east-1 (AWS Price List offer files)."""
    ireland = prices_for("eu-west-1")
    assert ireland is not None
    figures = estimate(with_(dedupe=True), ireland, ASSUME)
    assert figures.per_million_parts == pytest.approx(
        {
            "ingress": 3.50,
            "queue": BASE_QUEUE,
            "consumer": BASE_CONSUMER,
            "dedupe": 2 * 0.705,  # 2 writes x 1e6 x $0.705/M
            "logs": BASE_LOG_BYTES / GIB * 0.57,
        }
    )
    assert figures.fixed_monthly == pytest.approx(0.40 + 1.50 + 0.2592)
    http = estimate(with_(ingress="http"), ireland, ASSUME)
    assert http.per_million_parts["ingress"] == pytest.approx(1.11)


def test_a_price_the_region_lacks_is_named_only_when_needed() -> None:
    listed = prices_for("eu-west-1")
    assert listed is not None
    kept = {k: v for k, v in listed.prices.items() if k != "cloudwatch_dashboard_month"}
    ireland = dataclasses.replace(listed, prices=kept)
    estimate(with_(dashboards=0), ireland, ASSUME)  # no dashboard: its price is not needed
    with pytest.raises(MissingPrice, match="cloudwatch_dashboard_month in region eu-west-1"):
        estimate(with_(dashboards=1), ireland, ASSUME)


def test_an_unknown_region_has_no_prices() -> None:
    assert prices_for("eu-central-1") is None
    assert prices_for("xx-nowhere-9") is None


def test_documented_figures_are_the_example_configs() -> None:
    """The manual's "What it costs" table (docs/cost.md) is what the model gives for
    examples/nami.yaml."""
    page = (ROOT / "docs" / "cost.md").read_text()
    example = ROOT / "examples" / "nami.yaml"
    region = load_config(example).region
    assert region is not None and f"the list prices of its region, {region}" in page
    prices = prices_for(region)
    assert prices is not None
    templates = compiled_templates(example)
    for name in ("github", "stripe", "orders", "slack"):
        inputs = inputs_from_template(templates[f"acme-webhooks-{name}"])
        assert inputs is not None
        figures = estimate(inputs, prices, ASSUME)
        row = (
            f"| ${figures.per_million:.2f} | ${figures.fixed_monthly:.2f} "
            f"| ${figures.monthly(2_000_000):.2f} |"
        )
        assert f"| `{name}` |" in page and row in page, (name, row)
