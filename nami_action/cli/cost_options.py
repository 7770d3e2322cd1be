"""The cost flags of `nami plan`: the traffic and the assumptions behind the estimate."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from nami_action.cost.estimate import (
    MEASURED,
    CostOptions,
    parse_body_size,
    parse_duration_ms,
    parse_fill,
    parse_traffic,
)
from nami_action.cost.model import Assumptions

F = TypeVar("F", bound=Callable[..., Any])
_DEFAULTS = Assumptions()


def _parsed(parse: Callable[[str], Any]) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is None or value == MEASURED:
            return value
        try:
            return parse(str(value))
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from exc

    return callback


def cost_options(command: F) -> F:
    """Adds the flags and hands the command one `cost` argument (a CostOptions)."""
    options = [
        click.option(
            "--traffic",
            is_flag=False,
            flag_value=MEASURED,
            default=None,
            callback=_parsed(parse_traffic),
            help="Webhooks a month per pipeline for the monthly figures (`2M/month`, `50k/day`); "
            "default: each pipeline's last 30 days, read from CloudWatch where readable.",
        ),
        click.option(
            "--assume-duration",
            default=f"{_DEFAULTS.duration_ms:g}ms",
            show_default=True,
            callback=_parsed(parse_duration_ms),
            help="Cost estimate: the handler's time per webhook.",
        ),
        click.option(
            "--assume-body",
            default="4KiB",
            show_default=True,
            callback=_parsed(parse_body_size),
            help="Cost estimate: the webhook body size.",
        ),
        click.option(
            "--assume-batch-fill",
            default="100%",
            show_default=True,
            callback=_parsed(parse_fill),
            help="Cost estimate: how full a batch is, of consumer.batch_size.",
        ),
    ]
    for option in reversed(options):
        command = option(command)

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        traffic = kwargs.pop("traffic")
        assumptions = Assumptions(
            body_bytes=kwargs.pop("assume_body"),
            duration_ms=kwargs.pop("assume_duration"),
            batch_fill=kwargs.pop("assume_batch_fill"),
        )
        kwargs["cost"] = CostOptions(
            assumptions=assumptions,
            traffic=None if traffic in (None, MEASURED) else float(traffic),
            measure_traffic=traffic in (None, MEASURED),
        )
        return command(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
