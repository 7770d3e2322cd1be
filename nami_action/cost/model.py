"""What a pipeline costs: per million webhooks, and fixed per month. Pure: no AWS calls.

The inputs come from the pipeline's settings (recorded in its compiled template's Metadata,
so the deployed template says what the deployed pipeline costs) and from the template's
alarms; the prices from prices.json; what nami cannot know (body size, handler duration,
how full batches are) from stated, overridable assumptions.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from nami_action.config.forward import function_timeout, spacing
from nami_action.config.routes import dedupes
from nami_action.cost.prices import RegionPrices

MILLION = 1_000_000
KIB = 1024
GIB = 1024**3  # AWS bills "GB" of log ingestion as 2^30 bytes
SQS_MAX_MESSAGES_PER_RECEIVE = 10  # ReceiveMessage and DeleteMessageBatch take 10 at most
METADATA_KEY = "Nami"

# The envelope stored in SQS: {id, receivedAt, method, path, query, headers, body}, the body
# in base64. Everything but the body, for a typical webhook's headers.
ENVELOPE_OVERHEAD_BYTES = 1024

# Bytes of the log lines CloudWatch Logs ingests, measured on typical values (the lines the
# runtime and API Gateway write; see nami_action/runtime/consumer.py and
# compile/ingress.py ACCESS_LOG_FORMAT), plus the 26 bytes PutLogEvents counts per event.
LOG_EVENT_OVERHEAD_BYTES = 26
RUNTIME_LINE_BYTES = 150 + LOG_EVENT_OVERHEAD_BYTES  # one JSON line per webhook
EMF_LINE_BYTES = 400 + LOG_EVENT_OVERHEAD_BYTES  # one Embedded Metric Format line per batch
PLATFORM_LINES_BYTES = 270 + 3 * LOG_EVENT_OVERHEAD_BYTES  # START, END, REPORT per invocation
ACCESS_LOG_LINE_BYTES = 230 + LOG_EVENT_OVERHEAD_BYTES  # API Gateway access log, per request

# The runtime's EMF line publishes these custom metrics (dimension Pipeline), webhook mode only.
EMF_METRICS = ("Handled", "Failed", "Rejected", "Malformed", "Duplicate")
# A `forward:` pipeline's line names Forwarded instead of Handled, and adds Refused.
FORWARD_EMF_METRICS = ("Refused",)

# Idle polling. Lambda long-polls a standard queue until messages arrive and, with
# MaximumConcurrency set (nami always sets it), keeps five concurrent pollers at low traffic:
# "When traffic is low, Lambda scales back the processing to five concurrent batches, and can
# optimize to as few as 2 ... However, this optimization is not available when you enable the
# maximum concurrency setting."
# https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html
# Each empty long poll (20 s, SQS's longest wait) is a billed ReceiveMessage ("empty receives
# ... are charged", https://aws.amazon.com/premiumsupport/knowledge-center/sqs-high-charges/).
# The event source mapping itself costs nothing in its default (non-provisioned) mode; these
# requests do. The 20 s wait is the usual observation, not a documented figure.
IDLE_POLLERS = 5
LONG_POLL_SECONDS = 20
MONTH_SECONDS = 30 * 86400
IDLE_RECEIVES_PER_MONTH = IDLE_POLLERS * MONTH_SECONDS // LONG_POLL_SECONDS  # 648,000

# Dedupe: a conditional PutItem claims the event id, an UpdateItem marks it done; each item
# is far below 1 KB, so one write request unit each (runtime/dedupe.py).
DEDUPE_WRITES_PER_WEBHOOK = 2

INGRESS_KINDS = ("rest", "http", "function-url")
# A route of a `routes:` pipeline: no endpoint of its own (its webhooks come from the router).
ROUTE_INGRESS = "route"
INGRESS_PRICE = {
    "rest": "apigateway_rest_request",
    "http": "apigateway_http_request",
    "function-url": "function_url_request",
}


@dataclass(frozen=True)
class Assumptions:
    """What nami cannot read from nami.yaml; each one can be overridden on `nami plan`."""

    body_bytes: int = 4 * KIB
    duration_ms: float = 100.0  # the handler's time per webhook
    batch_fill: float = 1.0  # fraction of batch_size a batch actually holds
    ingest_duration_ms: float = 25.0  # function-url: the ingest function's time per request

    def describe(self) -> str:
        return (
            f"{_size(self.body_bytes)} bodies, {self.duration_ms:g} ms per webhook, "
            f"batches {self.batch_fill:.0%} full"
        )


@dataclass(frozen=True)
class CostInputs:
    """A pipeline's settings that move its cost."""

    ingress: str = "rest"
    fifo: bool = False
    architecture: str = "arm64"
    memory_mib: int = 256
    timeout_seconds: int = 30
    batch_size: int = 10
    dedupe: bool = False
    mode: str = "webhook"
    ingest_memory_mib: int = 128  # function-url only: the ingest function
    alarm_metrics: int = 0  # counted from the template's alarms
    dashboards: int = 0  # counted from the template's dashboards
    # `forward:` only: each delivery holds its invocation at least this long (concurrency /
    # rate), the pacing that bounds the rate; the destination's answer time is duration_ms.
    forward_hold_ms: float | None = None
    # `routes:` only: route name -> that route's inputs (ingress `route`), as metadata() writes.
    routes: dict[str, dict[str, Any]] = field(default_factory=dict, compare=False)

    def metadata(self) -> dict[str, Any]:
        """What the compiled template records (the counts are read from its resources)."""
        data = asdict(self)
        del data["alarm_metrics"], data["dashboards"]
        if self.ingress != "function-url":
            del data["ingest_memory_mib"]
        if self.forward_hold_ms is None:
            del data["forward_hold_ms"]
        if not self.routes:
            del data["routes"]  # pipelines without routes keep byte-identical templates
        return data

    def route_inputs(self) -> dict[str, CostInputs]:
        known = {f.name for f in fields(CostInputs)} - {"routes"}
        return {
            name: CostInputs(**{k: v for k, v in recorded.items() if k in known})
            for name, recorded in self.routes.items()
            if isinstance(recorded, dict)
        }


@dataclass(frozen=True)
class CostFigures:
    """USD per million webhooks and USD per month whatever the traffic, with their parts."""

    per_million: float
    fixed_monthly: float
    per_million_parts: dict[str, float] = field(default_factory=dict)
    fixed_parts: dict[str, float] = field(default_factory=dict)

    def monthly(self, webhooks_per_month: float) -> float:
        return self.per_million * webhooks_per_month / MILLION + self.fixed_monthly


def webhooks_per_batch(inputs: CostInputs, assumptions: Assumptions) -> int:
    return max(1, round(inputs.batch_size * assumptions.batch_fill))


def envelope_bytes(body_bytes: int) -> int:
    """The stored envelope: the body in base64 (4 characters per 3 bytes) plus the rest."""
    return 4 * math.ceil(body_bytes / 3) + ENVELOPE_OVERHEAD_BYTES


def sqs_requests_per_batch(inputs: CostInputs, assumptions: Assumptions, chunk: int) -> float:
    """Billed SQS requests for one batch: a SendMessage per webhook, the ReceiveMessage calls
    that fill the batch (10 messages each at most) and one DeleteMessageBatch per 10 handled.
    Every `chunk` bytes of a call's payload is billed as one request."""
    n = webhooks_per_batch(inputs, assumptions)
    envelope = envelope_bytes(assumptions.body_bytes)
    sends = n * math.ceil(envelope / chunk)
    full, rest = divmod(n, SQS_MAX_MESSAGES_PER_RECEIVE)
    receives = full * math.ceil(SQS_MAX_MESSAGES_PER_RECEIVE * envelope / chunk)
    if rest:
        receives += math.ceil(rest * envelope / chunk)
    deletes = math.ceil(n / SQS_MAX_MESSAGES_PER_RECEIVE)  # receipt handles: far below 64 KB
    return float(sends + receives + deletes)


def billed_seconds_per_batch(inputs: CostInputs, assumptions: Assumptions) -> float:
    """Lambda bills each invocation by the millisecond, and never beyond the timeout."""
    per_webhook = max(assumptions.duration_ms, inputs.forward_hold_ms or 0.0)
    ms = per_webhook * webhooks_per_batch(inputs, assumptions)
    return min(math.ceil(ms), inputs.timeout_seconds * 1000) / 1000


def estimate(inputs: CostInputs, prices: RegionPrices, assumptions: Assumptions) -> CostFigures:
    n = webhooks_per_batch(inputs, assumptions)
    batches = MILLION / n
    sqs = prices["sqs_fifo_request" if inputs.fifo else "sqs_standard_request"]
    gb_second = prices[f"lambda_{inputs.architecture}_gb_second"].each
    per_million = {
        "ingress": _ingress(inputs, prices, assumptions),
        "queue": sqs_requests_per_batch(inputs, assumptions, sqs.chunk_bytes or 65536)
        * batches
        * sqs.each,
        "consumer": batches
        * (
            prices["lambda_request"].each
            + inputs.memory_mib / 1024 * billed_seconds_per_batch(inputs, assumptions) * gb_second
        ),
        "dedupe": _times(
            MILLION * DEDUPE_WRITES_PER_WEBHOOK * inputs.dedupe,
            prices,
            "dynamodb_write_request_unit",
        ),
        "logs": _log_bytes(inputs, n) / GIB * prices["cloudwatch_logs_ingest_gb"].each,
    }
    custom_metrics = len(EMF_METRICS) if inputs.mode == "webhook" else 0
    forwarding = inputs.forward_hold_ms is not None
    custom_metrics += len(FORWARD_EMF_METRICS) * forwarding
    fixed = {
        "alarms": _times(inputs.alarm_metrics, prices, "cloudwatch_alarm_metric_month"),
        "metrics": _times(custom_metrics, prices, "cloudwatch_custom_metric_month"),
        "idle polling": IDLE_RECEIVES_PER_MONTH * sqs.each,
        "dashboards": _times(inputs.dashboards, prices, "cloudwatch_dashboard_month"),
    }
    if forwarding:  # the pipeline's Standard Webhooks signing secret
        fixed["signing secret"] = prices["secretsmanager_secret_month"].each
    routes = route_estimates(inputs, prices, assumptions)
    if routes:
        # Each webhook reaches at least one route (with a `default`) and is priced at the
        # dearest; one that matches several costs each of them (the plan shows each route's).
        per_million["routes"] = max(f.per_million for f in routes.values())
        fixed["routes"] = sum(f.fixed_monthly for f in routes.values())
    return CostFigures(
        per_million=sum(per_million.values()),
        fixed_monthly=sum(fixed.values()),
        per_million_parts=per_million,
        fixed_parts=fixed,
    )


def route_estimates(
    inputs: CostInputs, prices: RegionPrices, assumptions: Assumptions
) -> dict[str, CostFigures]:
    """Each route's own figures: per million webhooks it gets, and fixed per month."""
    return {
        name: estimate(route, prices, assumptions) for name, route in inputs.route_inputs().items()
    }


def _times(count: float, prices: RegionPrices, key: str) -> float:
    """count x the price; a price is only looked up (and so only needed) when count > 0."""
    return count * prices[key].each if count else 0.0


def _ingress(inputs: CostInputs, prices: RegionPrices, assumptions: Assumptions) -> float:
    """The endpoint's fee for a million requests; an HTTP API meters each 512 KB as one; a
    function URL costs the ingest function's invocations and duration; a route none."""
    if inputs.ingress == ROUTE_INGRESS:
        return 0.0
    price = prices[INGRESS_PRICE[inputs.ingress]]
    requests = 1.0
    if price.increment_bytes:
        requests = math.ceil(max(assumptions.body_bytes, 1) / price.increment_bytes)
    fee = MILLION * requests * price.each
    if inputs.ingress == "function-url":
        gb_second = prices[f"lambda_{inputs.architecture}_gb_second"].each
        seconds = math.ceil(assumptions.ingest_duration_ms) / 1000
        fee += MILLION * (
            prices["lambda_request"].each + inputs.ingest_memory_mib / 1024 * seconds * gb_second
        )
    return fee


def _log_bytes(inputs: CostInputs, per_batch: int) -> float:
    """Log bytes ingested for a million webhooks."""
    batches = MILLION / per_batch
    total = batches * PLATFORM_LINES_BYTES
    if inputs.mode == "webhook":
        total += MILLION * RUNTIME_LINE_BYTES + batches * EMF_LINE_BYTES
    if inputs.ingress == "function-url":
        total += MILLION * PLATFORM_LINES_BYTES  # the ingest function's own invocations
    elif inputs.ingress != ROUTE_INGRESS:
        total += MILLION * ACCESS_LOG_LINE_BYTES
    return total


# --- the template carries the inputs ------------------------------------------------------


def count_alarm_metrics(resources: dict[str, Any]) -> int:
    """Alarm metrics as CloudWatch bills them: one per single-metric alarm, one per metric an
    alarm on a metric math expression reads (the expression itself is free)."""
    count = 0
    for resource in resources.values():
        if resource.get("Type") != "AWS::CloudWatch::Alarm":
            continue
        queries = resource.get("Properties", {}).get("Metrics")
        count += sum(1 for q in queries if "MetricStat" in q) if queries else 1
    return count


def count_dashboards(resources: dict[str, Any]) -> int:
    return sum(1 for r in resources.values() if r.get("Type") == "AWS::CloudWatch::Dashboard")


def metadata(inputs: CostInputs) -> dict[str, Any]:
    return {METADATA_KEY: {"cost": inputs.metadata()}}


def inputs_from_pipeline(spec: Any, routes: dict[str, dict[str, Any]] | None = None) -> CostInputs:
    """The cost inputs of one pipeline's merged settings (config.models.Pipeline); with
    `routes:`, each route's inputs (`route_cost_inputs`) too."""
    consumer = spec.consumer
    forward = getattr(spec, "forward", None)
    return CostInputs(
        ingress=str(getattr(spec, "ingress", "rest")),
        fifo=spec.queue.fifo,
        architecture=consumer.architecture,
        memory_mib=consumer.memory,
        timeout_seconds=function_timeout(spec),
        batch_size=consumer.batch_size,
        dedupe=dedupes(spec),
        mode=consumer.mode,
        ingest_memory_mib=getattr(getattr(spec, "ingress_function", None), "memory", 128),
        forward_hold_ms=None if forward is None else round(spacing(forward) * 1000, 3),
        routes=routes or {},
    )


def route_cost_inputs(spec: Any) -> dict[str, Any]:
    """A route's recorded inputs (its spec as config/routes.py derives it): no endpoint."""
    data = inputs_from_pipeline(spec).metadata()
    data["ingress"] = ROUTE_INGRESS
    return data


def inputs_from_template(template: dict[str, Any] | None) -> CostInputs | None:
    """The cost inputs a template records, or None (no template, or made by a nami that did
    not record them)."""
    if not template:
        return None
    recorded = template.get("Metadata", {}).get(METADATA_KEY, {}).get("cost")
    if not isinstance(recorded, dict):
        return None
    known = {f.name for f in fields(CostInputs)} - {"alarm_metrics", "dashboards"}
    resources = template.get("Resources", {})
    return CostInputs(
        **{k: v for k, v in recorded.items() if k in known},
        alarm_metrics=count_alarm_metrics(resources),
        dashboards=count_dashboards(resources),
    )


def _size(size: int) -> str:
    for unit, factor in (("MiB", KIB * KIB), ("KiB", KIB)):
        if size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} bytes"
