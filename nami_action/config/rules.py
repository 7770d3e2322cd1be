"""Rules that span sections or depend on inherited values; they run on the merged pipeline.

Each rule returns (path inside the pipeline, message); the caller locates the path in the
pipeline's own keys first and in `defaults` second, so the error points where the value was
written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from nami_action.config.forward import forward_rules, function_timeout
from nami_action.config.models import (
    HOUR,
    RESERVED_ENV,
    NoVerify,
    Pipeline,
    RouteMatch,
)
from nami_action.config.routes import route_rule_findings, routes_rules
from nami_action.config.units import format_about, format_duration
from nami_action.runtime.retry import RetrySchedule, horizon

Finding = tuple[tuple[str, ...], str]
VISIBILITY_FACTOR = 6
MAX_VISIBILITY = 12 * HOUR
# "By default, FIFO queues support 300 transactions per second, per API action for
# SendMessage" (SQS developer guide, "Troubleshoot FIFO throttling issues"). Each webhook is one
# SendMessage, so a FIFO endpoint above that rate gets throttled by SQS (answered 503).
FIFO_SEND_LIMIT = 300
STANDARD_THROTTLE = (500.0, 1000)
# Rate + burst stays within the limit, so even the first second after a quiet spell does.
FIFO_THROTTLE = (250.0, 50)


def visibility_timeout(pipeline: Pipeline) -> int:
    """AWS's advice: at least 6x the function timeout, so retries don't overlap a slow batch;
    plus the batching window, during which Lambda already holds the received messages."""
    chosen: int | None = pipeline.queue.visibility_timeout
    if chosen is not None:
        return chosen
    consumer = pipeline.consumer
    return min(
        VISIBILITY_FACTOR * function_timeout(pipeline) + int(consumer.batching_window),
        MAX_VISIBILITY,
    )


def retry_schedule(pipeline: Pipeline) -> RetrySchedule | None:
    """`consumer.retry` as the runtime applies it; None: every retry after the visibility."""
    retry = pipeline.consumer.retry
    return None if retry is None else RetrySchedule(retry.backoff, retry.initial, retry.max)


def attempt_delay(pipeline: Pipeline) -> Callable[[int], int]:
    """Seconds between failed attempt n and the next, as SQS and the runtime will wait."""
    schedule = retry_schedule(pipeline)
    if schedule is not None:
        return schedule.delay
    hidden = visibility_timeout(pipeline)
    return lambda attempt: hidden


def retry_horizon(pipeline: Pipeline) -> str:
    """For people: "8 attempts over about 4 h 15 m" (first delivery to last attempt)."""
    attempts = pipeline.queue.max_receive_count
    if attempts == 1:
        return "1 attempt, no retry"
    return (
        f"{attempts} attempts over about {format_about(horizon(attempt_delay(pipeline), attempts))}"
    )


def throttle_limits(pipeline: Pipeline) -> tuple[float, int]:
    """The stage's (rate, burst): what nami.yaml says, else the default for the queue type."""
    rate, burst = FIFO_THROTTLE if pipeline.queue.fifo else STANDARD_THROTTLE
    throttle = pipeline.throttle
    return (
        float(throttle.rate if throttle.rate is not None else rate),
        throttle.burst if throttle.burst is not None else burst,
    )


def batching_rules(pipeline: Pipeline) -> Iterator[Finding]:
    consumer, queue = pipeline.consumer, pipeline.queue
    if queue.fifo:
        if consumer.batching_window:
            yield ("consumer", "batching_window"), "FIFO queues do not support a batching window"
        if consumer.batch_size > 10:
            yield ("consumer", "batch_size"), "FIFO queues deliver at most 10 records per batch"
    elif consumer.batch_size > 10 and consumer.batching_window < 1:
        yield (
            ("consumer", "batch_size"),
            "batch_size above 10 needs consumer.batching_window of at least 1s (an AWS rule)",
        )


def timeout_rules(pipeline: Pipeline) -> Iterator[Finding]:
    # A message stays hidden while Lambda gathers a batch (batching_window) and then while the
    # function runs (timeout); hidden for less, it is delivered again while still in work.
    chosen = pipeline.queue.visibility_timeout
    consumer = pipeline.consumer
    needed = function_timeout(pipeline) + consumer.batching_window
    if chosen is not None and chosen < needed:
        what = "consumer.timeout" if pipeline.forward is None else "the delivery timeout"
        if consumer.batching_window:
            what += " + consumer.batching_window"
        yield (
            ("queue", "visibility_timeout"),
            f"must be at least {what} ({format_duration(needed)}); "
            f"AWS advises 6x the timeout, which is the default",
        )


def fifo_rules(pipeline: Pipeline) -> Iterator[Finding]:
    queue = pipeline.queue
    if not queue.fifo:
        if queue.group_by is not None:
            yield (
                ("queue", "group_by"),
                "group_by sets the FIFO message group: it needs `queue.fifo: true`",
            )
        return
    rate = pipeline.throttle.rate
    if rate is not None and rate > FIFO_SEND_LIMIT:
        yield (
            ("throttle", "rate"),
            f"a FIFO queue takes at most {FIFO_SEND_LIMIT} webhooks a second (SQS's SendMessage "
            f"limit for FIFO queues); set throttle.rate to {FIFO_SEND_LIMIT} or less",
        )


def retention_rules(pipeline: Pipeline) -> Iterator[Finding]:
    # A standard queue keeps a message's original enqueue time when it is dead-lettered, so a
    # DLQ that keeps messages no longer than the source queue would expire them on arrival.
    if pipeline.queue.fifo:
        return
    if pipeline.dead_letter.retention <= pipeline.queue.retention:
        yield (
            ("dead_letter", "retention"),
            f"must be longer than queue.retention ({format_duration(pipeline.queue.retention)}): "
            "SQS keeps a message's original enqueue time when it moves it to the dead-letter queue",
        )


def retry_rules(pipeline: Pipeline) -> Iterator[Finding]:
    retry, queue, consumer = pipeline.consumer.retry, pipeline.queue, pipeline.consumer
    if retry is None:
        return
    if queue.max_receive_count < 2:
        yield (
            ("consumer", "retry"),
            "a retry schedule needs queue.max_receive_count of at least 2: "
            "with one attempt nothing is retried",
        )
        return
    if retry.backoff == "exponential" and retry.max < retry.initial:
        yield (
            ("consumer", "retry", "max"),
            f"must be at least retry.initial ({format_duration(retry.initial)})",
        )
        return
    # The last failed attempt waits its delay too; only the receive after it moves the
    # webhook to the DLQ. Each attempt may also hold it for a batching window and a timeout.
    # A webhook that reaches the retention first is deleted by SQS: lost, not an allowed fate.
    attempts = queue.max_receive_count
    held = attempts * (function_timeout(pipeline) + consumer.batching_window)
    needed = horizon(attempt_delay(pipeline), attempts + 1) + held
    if needed >= queue.retention:
        yield (
            ("consumer", "retry"),
            f"{attempts} attempts (queue.max_receive_count) on this schedule keep a failing "
            f"webhook about {format_about(needed)} before the dead-letter queue, longer than "
            f"queue.retention ({format_duration(queue.retention)}): it would expire and be "
            "lost; raise queue.retention, lower queue.max_receive_count or shorten the schedule",
        )


def mode_rules(pipeline: Pipeline) -> Iterator[Finding]:
    if pipeline.consumer.mode != "sqs":
        return
    if not isinstance(pipeline.verify, NoVerify):
        yield (
            ("verify", "scheme"),
            "signatures are checked by the Nami runtime, which consumer.mode `sqs` bypasses: "
            "use mode `webhook`, or `scheme: none` and verify in your handler",
        )
    if pipeline.dedupe is not None:
        yield ("dedupe",), "dedupe is done by the Nami runtime, which consumer.mode `sqs` bypasses"


def dedupe_rules(pipeline: Pipeline) -> Iterator[Finding]:
    dedupe = pipeline.dedupe
    if dedupe is not None and (dedupe.header is None) == (dedupe.json_path is None):
        yield ("dedupe",), "set exactly one of `header` or `json_path` to say where the event id is"


def environment_rules(pipeline: Pipeline) -> Iterator[Finding]:
    # Literal secrets are checked where they are written (config/written.py), once per place.
    for name in pipeline.consumer.environment:
        if RESERVED_ENV.match(name):
            yield (
                ("consumer", "environment", name),
                f"`{name}` is reserved (AWS_, LAMBDA_, TZ and NAMI_ names are set by the platform)",
            )


def http_ingress_rules(pipeline: Pipeline) -> Iterator[Finding]:
    """What an HTTP API cannot carry. Its SQS-SendMessage integration builds the message from
    parameter mapping, which has no base64 and no escaping: the body goes to SQS as text (a
    binary or non-UTF-8 body is refused by SQS or altered), and only named headers, each a
    fixed reference, can be carried; a missing one maps to an empty value.
    https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-parameter-mapping.html
    """
    if pipeline.ingress != "http":
        return
    if pipeline.verify.scheme == "hmac-sha256":
        yield (
            ("ingress",),
            "`http` cannot carry a binary or non-UTF-8 body byte-exact, which a generic "
            "hmac-sha256 sender may sign: use `rest`",
        )
    if pipeline.queue.group_by is not None:
        yield (
            ("ingress",),
            "`http` maps a missing group_by key to an empty MessageGroupId, which SQS refuses "
            "(the sender would retry forever): use `rest`, or drop queue.group_by",
        )
    for name, route in (pipeline.routes or {}).items():
        # Carrying the header would map it for every request, and what an HTTP API does with
        # a mapped header a request lacks is not documented (VERIFIED_ON_AWS): a route's
        # header is often absent by design, so each such webhook could be refused.
        if isinstance(route.match, RouteMatch) and route.match.header is not None:
            yield (
                ("routes", name, "match", "header"),
                f"route `{name}`: `http` does not carry a header for routing yet: match on a "
                "JSON path, or use `rest` or `function-url`",
            )


def function_url_rules(pipeline: Pipeline) -> Iterator[Finding]:
    if pipeline.ingress != "function-url":
        if pipeline.ingress_function is not None:
            yield (
                ("ingress_function",),
                "ingress_function sets the ingest function of `ingress: function-url`",
            )
        return
    # A function URL has no stage, so no request rate to set: refused rather than ignored.
    throttle = pipeline.throttle
    if throttle.rate is not None or throttle.burst is not None:
        yield (
            ("throttle",),
            "`ingress: function-url` has no request-rate throttling (that is API Gateway's "
            "stage); limit concurrent requests with ingress_function.reserved_concurrency, "
            "or use `ingress: rest`",
        )


RULES: tuple[Callable[[Pipeline], Iterator[Finding]], ...] = (
    batching_rules,
    timeout_rules,
    fifo_rules,
    retention_rules,
    retry_rules,
    mode_rules,
    dedupe_rules,
    environment_rules,
    http_ingress_rules,
    function_url_rules,
    forward_rules,
    routes_rules,
)


def check(pipeline: Pipeline) -> list[Finding]:
    findings = _pipeline_findings(pipeline)
    if pipeline.routes:
        findings.extend(route_rule_findings(pipeline, _pipeline_findings))
    return findings


def _pipeline_findings(pipeline: Pipeline) -> list[Finding]:
    return [finding for rule in RULES for finding in rule(pipeline)]
