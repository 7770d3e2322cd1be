"""`nami github run`: the GitHub Action's job (plan on pull requests, deploy on merge).

Every option also reads the INPUT_* variable the Action's step sets, so action.yml passes
its inputs through the environment and never interpolates them into a script. The token
is read only from the environment (INPUT_GITHUB_TOKEN, then GITHUB_TOKEN), never argv.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from nami_action.cli.common import handle_errors
from nami_action.config.validate import ENV_VARIABLE
from nami_action.drift.model import DriftReport
from nami_action.drift.render import drift_markdown
from nami_action.errors import NamiError
from nami_action.github import flow
from nami_action.github.drift_issue import DEFAULT_LABEL, IssueClient, sync_drift_issue


@click.group()
def github() -> None:
    """Run inside GitHub Actions (used by the Nami action)."""


@github.command("run")
@click.option(
    "--command",
    type=click.Choice(flow.COMMANDS, case_sensitive=False),
    default="auto",
    envvar="INPUT_COMMAND",
    show_envvar=True,
    help="auto: plan on pull requests, deploy on a push to the default branch; build: the "
    "bundle, before any credentials.",
)
@click.option("--config", default="nami.yaml", envvar="INPUT_CONFIG", show_envvar=True)
@click.option(
    "--pipelines",
    default="",
    envvar="INPUT_PIPELINES",
    show_envvar=True,
    help="Comma-separated pipelines to plan (default: all).",
)
@click.option("--prune/--no-prune", default=False, envvar="INPUT_PRUNE", show_envvar=True)
@click.option(
    "--force/--no-force",
    default=False,
    envvar="INPUT_FORCE",
    show_envvar=True,
    help="Deploy (and plan as if deploying) where stored webhooks could be lost.",
)
@click.option(
    "--fail-on",
    type=click.Choice(sorted(flow.FAIL_ON_KINDS), case_sensitive=False),
    default="refused",
    envvar="INPUT_FAIL_ON",
    show_envvar=True,
    help="refused: fail the plan where the deploy would refuse; replacement, deletion, none.",
)
@click.option("--comment/--no-comment", default=True, envvar="INPUT_COMMENT", show_envvar=True)
@click.option(
    "--comment-key",
    default="",
    envvar="INPUT_COMMENT_KEY",
    show_envvar=True,
    help="Tells apart the sticky comments of jobs planning one config (an environment).",
)
@click.option(
    "--comment-on-no-changes/--no-comment-on-no-changes",
    default=True,
    envvar="INPUT_COMMENT_ON_NO_CHANGES",
    show_envvar=True,
)
@click.option(
    "--env",
    "environment",
    default="",
    envvar=["INPUT_ENVIRONMENT", ENV_VARIABLE],
    show_envvar=True,
    help="Environment of nami.yaml's `environments`; also the default --comment-key.",
)
@click.option("--labels/--no-labels", default=False, envvar="INPUT_LABELS", show_envvar=True)
@click.option(
    "--working-directory", default=".", envvar="INPUT_WORKING_DIRECTORY", show_envvar=True
)
@click.option(
    "--deploy-on-dispatch/--no-deploy-on-dispatch",
    default=False,
    envvar="INPUT_DEPLOY_ON_DISPATCH",
    show_envvar=True,
    help="Let a workflow_dispatch run on the default branch deploy.",
)
@click.option("--bundle", default="", envvar="INPUT_BUNDLE", show_envvar=True)
@click.option(
    "--approved-plan",
    default="",
    envvar="INPUT_APPROVED_PLAN",
    show_envvar=True,
    help="Deploy: the plan job's plan-fingerprint; anything else is not executed.",
)
@handle_errors
def run(
    command: str,
    config: str,
    pipelines: str,
    prune: bool,
    force: bool,
    fail_on: str,
    comment: bool,
    comment_key: str,
    comment_on_no_changes: bool,
    environment: str,
    labels: bool,
    working_directory: str,
    deploy_on_dispatch: bool,
    bundle: str,
    approved_plan: str,
) -> None:
    """Validate, then plan (sticky PR comment) or deploy (comment on the merged PR)."""
    token = os.environ.get("INPUT_GITHUB_TOKEN") or os.environ.get("GITHUB_TOKEN", "")
    options = flow.FlowOptions(
        command=command.lower(),
        config=config,
        pipelines=pipelines,
        prune=prune,
        force=force,
        fail_on=fail_on.lower(),
        comment=comment,
        comment_key=comment_key,
        comment_on_no_changes=comment_on_no_changes,
        environment=environment,
        labels=labels,
        token=token,
        working_directory=working_directory or ".",
        deploy_on_dispatch=deploy_on_dispatch,
        bundle=bundle,
        approved_plan=approved_plan,
    )
    sys.exit(flow.run(options))


@github.command("drift-issue")
@click.option(
    "--report",
    "report_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The JSON report of `nami drift --format json --out FILE`.",
)
@click.option("--label", default=DEFAULT_LABEL, show_default=True, help="The drift issue's label.")
@handle_errors
def drift_issue(report_path: Path, label: str) -> None:
    """Open, update or close the one issue that tracks drift (needs `issues: write`); the
    report also goes to the job summary."""
    try:
        report = DriftReport.from_dict(json.loads(report_path.read_text()))
    except (ValueError, KeyError, TypeError) as exc:
        raise NamiError(f"{report_path}: not a `nami drift --format json` report ({exc})") from exc
    env = os.environ
    client = IssueClient(
        env.get("GITHUB_TOKEN", ""),
        env.get("GITHUB_REPOSITORY", ""),
        env.get("GITHUB_API_URL") or "https://api.github.com",
    )
    run_url = ""
    if env.get("GITHUB_RUN_ID") and env.get("GITHUB_REPOSITORY"):
        server = env.get("GITHUB_SERVER_URL") or "https://github.com"
        run_url = f"{server}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}"
    if env.get("GITHUB_STEP_SUMMARY"):
        with open(env["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as summary:
            summary.write(drift_markdown(report))
    result, number = sync_drift_issue(client, report, label=label, run_url=run_url)
    click.echo(f"drift issue: {result}" + (f" #{number}" if number else ""))
    if result == "skipped":
        click.echo("a pipeline could not be checked; the drift issue is left as it is", err=True)
        sys.exit(1)
