"""The whole Action job for one event: validate, then plan (pull request) or deploy (merge).

It wires the same library steps the CLI wires (load, make_plan, apply.deploy, the renderers)
and re-implements none of them; what is its own is GitHub's side, one module per job:
plan_job (preview, comment, fail-on), deploy_job (where a deploy may run, the checkout and
tip checks), comment (the sticky comment and reports); job holds what they share.

Exit codes: 0 done (including a fork or Dependabot pull request that was only validated),
1 invalid config, a failed plan or deploy, or a `fail-on` hit.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TextIO

from nami_action.config import Config, load_config
from nami_action.errors import ConfigError, NamiError
from nami_action.github import build_job, deploy_job, plan_job, runner
from nami_action.github.comment import report_failure, report_invalid, report_validated_only
from nami_action.github.job import Command, Failure, FlowOptions, Job, fit_bytes
from nami_action.github.plan_job import FAIL_ON_KINDS
from nami_action.measure import COMPILER

__all__ = ["COMMANDS", "FAIL_ON_KINDS", "FlowOptions", "fit_bytes", "run"]
COMMANDS = ("auto", "build", "plan", "deploy")
DEPENDABOT = "dependabot[bot]"
FORK_REASON = (
    "This pull request comes from a fork. GitHub gives fork pull requests no secrets and a "
    "read-only token, so there are no AWS credentials to preview the change sets with."
)
DEPENDABOT_REASON = (
    "This pull request was opened by Dependabot. GitHub runs its workflows like a fork's: no "
    "secrets, no OIDC token, a read-only token, so there are no AWS credentials to preview "
    "the change sets with."
)


def run(
    options: FlowOptions, env: Mapping[str, str] | None = None, out: TextIO | None = None
) -> int:
    """Run the job for the current event; returns the exit code."""
    env = os.environ if env is None else env
    ctx = runner.RunnerContext.from_env(env)
    job = Job(options, ctx, env, out or sys.stdout)
    try:
        return _run(job)
    finally:
        job.annotations.flush()


def _run(job: Job) -> int:
    try:
        command = resolve_command(job)
    except NamiError as exc:  # a bad `command` input, or a deploy where none belongs
        job.annotations.add("error", str(exc), title="nami")
        job.outputs("failed")
        return 1
    job.log(f"nami: {command} {job.config_in_repo} (event {job.ctx.event_name or '-'})")
    if job.ctx.event_name == "pull_request_target":
        job.annotations.add(
            "warning",
            "pull_request_target runs with this repository's secrets and a write token; "
            "checking out and planning the pull request's code there lets its author run "
            "code with them. Use pull_request (see docs/github-action.md, Pull requests "
            "from forks).",
            title="nami: pull_request_target",
        )
    with _chdir(job.workdir):
        return run_command(job, command)


def run_command(job: Job, command: Command) -> int:
    try:
        config = load(job)
    except ConfigError as exc:
        return report_invalid(job, list(exc.problems))
    try:
        if command == "build":
            return build_job.run_build(job, config)
        if command == "deploy":
            return deploy_job.run_deploy(job, config)
        untrusted = untrusted_reason(job)
        if untrusted:
            return report_validated_only(job, untrusted)
        if not job.has_aws_credentials():
            raise Failure(
                "no AWS credentials in this job: add aws-actions/configure-aws-credentials "
                "with the plan role before the Nami step (only pull requests from forks and "
                "Dependabot, which get no credentials, are validated without a plan)"
            )
        return plan_job.plan(job, config)
    except NamiError as exc:
        return report_failure(job, command, str(exc))


def untrusted_reason(job: Job) -> str | None:
    """Why GitHub gave this pull request no credentials (a fork, Dependabot), if it did not."""
    if job.ctx.is_fork:
        return FORK_REASON
    if job.ctx.pull_request is not None and DEPENDABOT in (job.ctx.actor, job.ctx.pull_author):
        return DEPENDABOT_REASON
    return None


def resolve_command(job: Job) -> Command:
    wanted = job.options.command or "auto"
    if wanted not in COMMANDS:
        raise NamiError(f"command must be one of {', '.join(COMMANDS)}, not {wanted!r}")
    if wanted == "deploy":
        refused = deploy_job.refusal(job)
        if refused:
            raise NamiError(refused)
        return "deploy"
    if wanted in ("plan", "build"):
        return "plan" if wanted == "plan" else "build"
    if job.ctx.event_name in ("push", "workflow_dispatch") and deploy_job.refusal(job) is None:
        return "deploy"
    if job.ctx.event_name == "push":
        job.log(
            f"push to {job.ctx.ref or 'an unknown ref'} is not the default branch "
            f"({job.ctx.default_branch or 'unknown'}): planning only"
        )
    return "plan"


def load(job: Job) -> Config:
    env = job.options.environment.strip() or None
    return load_config(Path(job.config), display_name=job.config, env=env, measure=COMPILER)


@contextlib.contextmanager
def _chdir(path: Path) -> Iterator[None]:
    if not path.is_dir():
        raise NamiError(f"working-directory {path} does not exist")
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)
