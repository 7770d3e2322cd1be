"""`nami plan`: what a deploy would change, per pipeline, from change sets."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from nami_action.cli.aws_options import aws_options, connect
from nami_action.cli.common import config_argument, handle_errors, read_config
from nami_action.cli.cost_options import cost_options
from nami_action.cli.package import bundle_artifacts, bundle_option
from nami_action.cost.estimate import CostOptions
from nami_action.errors import printable, terminal_safe
from nami_action.plan.model import Plan
from nami_action.plan.planner import PlanOptions, make_plan
from nami_action.render.markdown import plan_markdown
from nami_action.render.text import plan_text


def _some_names(_context: click.Context, _parameter: click.Parameter, value: str | None) -> str:
    """`--pipelines ""` (an empty shell variable) names no pipeline: not every one."""
    if value is not None and not split_names(value):
        raise click.BadParameter(
            f"{printable(repr(value))} names no pipeline: write names separated by commas, or "
            "leave out --pipelines for all of them"
        )
    return value or ""


def pipelines_option(command: Any) -> Any:
    return click.option(
        "--pipelines",
        default=None,
        callback=_some_names,
        help="Comma-separated pipeline names to plan (default: all, and deletions).",
    )(command)


F = TypeVar("F", bound=Callable[..., Any])


def drift_option(
    help: str = "Read the live resources of deployed pipelines and flag drift (a few reads each).",
) -> Callable[[F], F]:
    return click.option("--drift/--no-drift", default=True, show_default=True, help=help)


def split_names(value: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in value.split(",") if name.strip())


def render_plan(plan: Plan, fmt: str, *, show_diff: bool = False) -> str:
    if fmt == "json":
        return plan.to_json()
    if fmt == "markdown":
        return plan_markdown(plan)
    return plan_text(plan, show_diff=show_diff)


def emit(text: str, out: Path | None) -> None:
    """To FILE as it is; to the terminal (a CI log) with control characters escaped and no
    line that reads as a workflow command (AWS reasons and stack events are quoted here)."""
    if out is None:
        ending = "\n" if text.endswith("\n") else ""
        click.echo(terminal_safe(text.removesuffix("\n")) + ending, nl=False)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)


@click.command()
@config_argument
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the plan to FILE instead of stdout.",
)
@pipelines_option
@click.option(
    "--diff/--no-diff",
    "show_diff",
    default=False,
    help="Text format: show the template diff of each changed pipeline.",
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when nothing changes, 2 when something does, 1 on error.",
)
@drift_option()
@click.option(
    "--prune",
    is_flag=True,
    help="Plan as `nami deploy --prune` would: pipelines removed from nami.yaml are deleted "
    "(else the plan shows them as kept).",
)
@click.option("--max-parallel", default=4, show_default=True, type=click.IntRange(1, 32))
@click.option("--poll-seconds", default=2.0, hidden=True, type=float)
@cost_options
@aws_options
@bundle_option
@handle_errors
def plan(
    config: Path,
    fmt: str,
    out: Path | None,
    pipelines: str,
    show_diff: bool,
    detailed_exitcode: bool,
    drift: bool,
    prune: bool,
    max_parallel: int,
    poll_seconds: float,
    cost: CostOptions,
    bundle: Path | None,
    **aws: Any,
) -> None:
    """Compile, package and compare CONFIG with what is deployed (change sets, then deleted)."""
    loaded = read_config(config)
    options = PlanOptions(
        split_names(pipelines),
        keep_change_sets=False,
        max_parallel=max_parallel,
        poll_seconds=poll_seconds,
        cost=cost,
        drift=drift,
        artifacts=bundle_artifacts(loaded, bundle),
        prune=prune,
    )
    result = make_plan(loaded, connect(loaded, aws), options).plan
    emit(render_plan(result, fmt, show_diff=show_diff), out)
    if result.errors:
        sys.exit(1)
    if detailed_exitcode and result.has_changes:
        sys.exit(2)
