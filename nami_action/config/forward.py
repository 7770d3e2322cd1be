"""`forward:` derived values and rules: the pacing that bounds the rate, the function timeout.

How the rate holds under Lambda scaling: the event source mapping never runs more than
`forward.concurrency` invocations at once (ScalingConfig.MaximumConcurrency), and each
invocation sends one request at a time and holds its slot for at least `spacing` seconds
(concurrency / rate) after each request starts. So in any second at most `rate` requests
start, whatever Lambda's scaling does, with no state shared between invocations.
"""

from __future__ import annotations

from collections.abc import Iterator

from nami_action.config.models import Forward, Pipeline
from nami_action.config.units import format_about

Finding = tuple[tuple[str, ...], str]
# Cold start, the secret reads and the DLQ send, on top of the deliveries themselves.
INVOCATION_MARGIN = 10
MAX_FUNCTION_TIMEOUT = 900  # Lambda's maximum


def spacing(forward: Forward) -> float:
    """Seconds one invocation waits between the starts of two requests (0: no rate bound)."""
    return 0.0 if forward.rate is None else forward.concurrency / forward.rate


def forward_function_timeout(pipeline: Pipeline) -> int:
    """The delivery function's timeout: a whole batch of slow requests, paced, fits in it."""
    forward = pipeline.forward
    assert forward is not None
    per_request = forward.timeout + spacing(forward)
    return int(pipeline.consumer.batch_size * per_request + 0.999) + INVOCATION_MARGIN


def function_timeout(pipeline: Pipeline) -> int:
    """The Lambda timeout: consumer.timeout, or for `forward` the one derived from it."""
    if pipeline.forward is None:
        return int(pipeline.consumer.timeout)
    return min(forward_function_timeout(pipeline), MAX_FUNCTION_TIMEOUT)


def concurrency(pipeline: Pipeline) -> int:
    """The event source mapping's maximum concurrency."""
    forward = pipeline.forward
    return pipeline.consumer.max_concurrency if forward is None else forward.concurrency


def drain_seconds(pipeline: Pipeline, backlog: int, latency: float) -> float:
    """At best, how long `backlog` webhooks take to deliver: the rate bound, or `concurrency`
    requests of `latency` seconds each at a time when the destination is the limit."""
    forward = pipeline.forward
    assert forward is not None
    by_latency = forward.concurrency / latency if latency > 0 else float("inf")
    per_second = min(forward.rate or float("inf"), by_latency)
    return backlog / per_second


def drain_sentence(pipeline: Pipeline, backlog: int, latency: float) -> str:
    """For the plan: "a backlog of 100,000 drains in about 33 m at 50/s"."""
    seconds = drain_seconds(pipeline, backlog, latency)
    forward = pipeline.forward
    assert forward is not None
    pace = (
        f"{forward.rate:g}/s"
        if forward.rate is not None and forward.rate <= forward.concurrency / latency
        else f"{forward.concurrency} at a time, {latency * 1000:g} ms each"
    )
    return f"a backlog of {backlog:,} drains in about {format_about(round(seconds))} at {pace}"


# The plan's example: how long a backlog this size takes to reach the destination.
PLAN_BACKLOG = 100_000
PLAN_LATENCY = 0.1  # seconds per request when no rate bounds it (the cost estimate's default)


def forward_summary(pipeline: Pipeline) -> str:
    """For the plan: "at most 50/s, 10 in flight; a backlog of 100,000 drains in about 33 m
    at 50/s" (empty without `forward`)."""
    forward = pipeline.forward
    if forward is None:
        return ""
    bound = f"at most {forward.rate:g}/s, " if forward.rate is not None else "no rate bound, "
    drain = drain_sentence(pipeline, PLAN_BACKLOG, PLAN_LATENCY)
    return f"{bound}{forward.concurrency} in flight; {drain}"


def forward_rules(pipeline: Pipeline) -> Iterator[Finding]:
    forward = pipeline.forward
    code = pipeline.consumer.code
    if pipeline.routes is not None:
        return  # each route has its own (config/routes.py)
    if forward is None:
        if code is None:
            yield (
                ("consumer", "code"),
                "set consumer.code (the folder with your handler), or `forward` to deliver to "
                "an existing HTTP endpoint",
            )
        return
    if code is not None:
        yield (
            ("consumer", "code"),
            "a pipeline either calls a handler (consumer.code) or forwards (`forward`), not both",
        )
    if pipeline.consumer.mode != "webhook":
        yield (("consumer", "mode"), "`forward` is done by the Nami runtime: use mode `webhook`")
    if pipeline.consumer.environment:
        yield (
            ("consumer", "environment"),
            "a `forward` pipeline runs no code of yours to read it: put what the destination "
            "needs in forward.headers",
        )
    needed = forward_function_timeout(pipeline)
    if needed > MAX_FUNCTION_TIMEOUT:
        yield (
            ("forward", "timeout"),
            f"a batch of {pipeline.consumer.batch_size} (consumer.batch_size) requests of up to "
            f"{forward.timeout}s, paced {spacing(forward):g}s apart (concurrency / rate), needs "
            f"about {format_about(needed)} per invocation; Lambda allows 15 m: lower "
            "consumer.batch_size, forward.timeout or forward.concurrency, or raise forward.rate",
        )
