"""`nami deploy`: plan, then execute the change sets of changed pipelines."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

import click

from nami_action.apply import DeployOptions, deploy
from nami_action.aws.stacks import StackEvent
from nami_action.cli.aws_options import aws_options, connect
from nami_action.cli.common import config_argument, handle_errors, read_config
from nami_action.cli.package import bundle_artifacts, bundle_option
from nami_action.cli.plan import drift_option, emit, pipelines_option, split_names
from nami_action.errors import terminal_safe
from nami_action.plan.model import DeployResult
from nami_action.plan.planner import PlanOptions, make_plan
from nami_action.render.markdown import deploy_markdown
from nami_action.render.text import deploy_text, event_line, plan_text

_print_lock = threading.Lock()


def print_event(event: StackEvent) -> None:
    """Live progress on stderr, one line per stack event, as they happen."""
    with _print_lock:
        click.echo(terminal_safe(event_line(event)), err=True)


@click.command("deploy")
@config_argument
@pipelines_option
@click.option("--prune", is_flag=True, help="Delete stacks of pipelines removed from nami.yaml.")
@click.option(
    "--force", is_flag=True, help="Go ahead where stored webhooks would no longer be consumed."
)
@click.option("--max-parallel", default=4, show_default=True, type=click.IntRange(1, 32))
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the result to FILE instead of stdout.",
)
@click.option(
    "--plan-out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the plan that was executed, as JSON.",
)
@drift_option(
    "Read the live resources of deployed pipelines and put drifted properties back to the "
    "declared values."
)
@click.option("--poll-seconds", default=2.0, hidden=True, type=float)
@aws_options
@bundle_option
@handle_errors
def deploy_command(
    config: Path,
    pipelines: str,
    prune: bool,
    force: bool,
    max_parallel: int,
    fmt: str,
    out: Path | None,
    plan_out: Path | None,
    drift: bool,
    poll_seconds: float,
    bundle: Path | None,
    **aws_kwargs: Any,
) -> None:
    """Deploy the pipelines of CONFIG that changed; exit 1 if any failed."""
    loaded = read_config(config)
    aws = connect(loaded, aws_kwargs)
    options = PlanOptions(
        split_names(pipelines),
        keep_change_sets=True,
        max_parallel=max_parallel,
        poll_seconds=poll_seconds,
        drift=drift,
        artifacts=bundle_artifacts(loaded, bundle),
        prune=prune,
    )
    run = make_plan(loaded, aws, options)
    click.echo(terminal_safe(plan_text(run.plan).removesuffix("\n")), err=True)
    if plan_out:
        emit(run.plan.to_json(), plan_out)
    result = deploy(
        aws,
        run,
        DeployOptions(
            prune=prune, force=force, max_parallel=max_parallel, poll_seconds=poll_seconds
        ),
        print_event,
    )
    emit(render_result(result, fmt, loaded.file), out)
    if not result.ok:
        sys.exit(1)


def render_result(result: DeployResult, fmt: str, config_file: str) -> str:
    if fmt == "json":
        return result.to_json()
    if fmt == "markdown":
        return deploy_markdown(result, config_file=config_file)
    return deploy_text(result)
