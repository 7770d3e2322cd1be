"""The whole Action job for one event: validate, then plan (pull request) or deploy (merge).

It wires what exists and re-implements nothing: the config is checked with the loader,
the plan and the deploy are the `nami plan` / `nami deploy` commands run in-process (so the
Action does exactly what a person runs locally), their JSON files are read back into the
Plan / DeployResult, and the Markdown renderer makes the comment and the summary.

Exit codes: 0 done (including a fork pull request that was only validated), 1 invalid
config, failed plan/deploy or a `fail-on` hit, other codes as the CLI returned them.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TextIO

from nami_action.errors import ConfigError, NamiError, Problem
from nami_action.github import runner
from nami_action.github.api import GitHubClient, GitHubError
from nami_action.plan.model import DeployResult, PipelineResult, Plan
from nami_action.render.markdown import (
    deploy_markdown,
    deploy_marker,
    notice_markdown,
    plan_errors,
    plan_markdown,
    plan_marker,
    problems_markdown,
)

Command = Literal["plan", "deploy"]
COMMANDS = ("auto", "plan", "deploy")
PULL_REQUEST_EVENTS = {"pull_request", "pull_request_target", "merge_group"}
SUMMARY_LIMIT = 1_000_000  # GitHub keeps up to 1 MiB of step summary
# fail-on is a threshold: `replacement` fails on a replaced queue and on anything worse
# (a queue or pipeline deleted); `deletion` fails only when a queue or pipeline is removed.
DELETION_KINDS = frozenset({"queue-removed", "pipeline-deleted", "messages-waiting"})
FAIL_ON_KINDS: dict[str, frozenset[str]] = {
    "none": frozenset(),
    "replacement": DELETION_KINDS | {"queue-replaced"},
    "deletion": DELETION_KINDS,
}
CREDENTIAL_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_PROFILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)


@dataclass(frozen=True)
class FlowOptions:
    command: str = "auto"
    config: str = "nami.yaml"
    pipelines: str = ""
    prune: bool = False
    fail_on: str = "none"
    comment: bool = True
    token: str = ""
    working_directory: str = "."

    @property
    def pipeline_list(self) -> list[str]:
        return [p.strip() for p in self.pipelines.replace("\n", ",").split(",") if p.strip()]


class Job:
    """One run of the Action: the runner context, the options, and where output goes."""

    def __init__(
        self,
        options: FlowOptions,
        ctx: runner.RunnerContext,
        env: Mapping[str, str],
        out: TextIO,
    ) -> None:
        self.options = options
        self.ctx = ctx
        self.env = env
        self.out = out
        workspace = Path(ctx.workspace or os.getcwd()).resolve()
        self.workspace = workspace
        self.workdir = (workspace / options.working_directory).resolve()
        self.config = options.config or "nami.yaml"
        # The path as the repository shows it: for annotations and the comment marker.
        self.config_in_repo = self.repo_path(self.config)

    # ------------------------------------------------------------------ helpers

    def repo_path(self, path: str) -> str:
        absolute = (self.workdir / path).resolve()
        try:
            return absolute.relative_to(self.workspace).as_posix()
        except ValueError:
            return absolute.as_posix()

    def log(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def command(self, text: str) -> None:
        runner.emit(text, self.out)

    def output(self, name: str, value: str) -> None:
        runner.set_output(name, value, self.ctx.output_file)

    def summary(self, markdown: str) -> None:
        runner.append_summary(markdown, self.ctx.summary_file)

    def outputs(
        self, *, has_changes: bool, plan: str, changed: Sequence[str], endpoints: dict[str, str]
    ) -> None:
        self.output("has-changes", "true" if has_changes else "false")
        self.output("plan", plan)
        self.output("changed-pipelines", json.dumps(list(changed)))
        self.output("endpoints", json.dumps(endpoints, sort_keys=True))

    def no_outputs(self) -> None:
        self.outputs(has_changes=False, plan="", changed=[], endpoints={})

    def resolve_command(self) -> Command:
        wanted = self.options.command or "auto"
        if wanted not in COMMANDS:
            raise NamiError(f"command must be one of {', '.join(COMMANDS)}, not {wanted!r}")
        if wanted != "auto":
            return "plan" if wanted == "plan" else "deploy"
        if self.ctx.event_name == "push":
            default = self.ctx.default_branch
            if default and self.ctx.ref == f"refs/heads/{default}":
                return "deploy"
            self.log(
                f"push to {self.ctx.ref or 'an unknown ref'} is not the default branch "
                f"({default or 'unknown'}): planning only"
            )
        return "plan"

    def has_aws_credentials(self) -> bool:
        if any(self.env.get(name) for name in CREDENTIAL_ENV):
            return True
        from nami_action.aws.session import credentials_available

        return credentials_available()

    def client(self) -> GitHubClient:
        return GitHubClient(self.options.token, self.ctx.repository, self.ctx.api_url)

    def sticky_comment(self, number: int, body: str, marker: str) -> None:
        """Create or edit the comment; a failure is a warning, the summary has it all."""
        try:
            outcome, comment_id = self.client().upsert_comment(number, body, marker)
        except GitHubError as exc:
            self.command(runner.annotation("warning", str(exc), title="nami: no PR comment"))
            return
        self.log(f"comment {comment_id} on #{number}: {outcome}")

    def result_path(self, kind: str) -> Path:
        base = Path(self.env.get("RUNNER_TEMP") or tempfile.gettempdir()) / "nami"
        base.mkdir(parents=True, exist_ok=True)
        key = hashlib.sha256(self.config_in_repo.encode()).hexdigest()[:12]
        return base / f"{kind}-{key}.json"

    # ------------------------------------------------------------------ the job

    def run(self) -> int:
        command = self.resolve_command()
        self.log(f"nami: {command} {self.config_in_repo} (event {self.ctx.event_name or '-'})")
        with _chdir(self.workdir):
            problems = self.validate()
            if problems is not None:
                return self.report_invalid(command, problems)
            if command == "plan":
                reason = self.validate_only_reason()
                if reason:
                    return self.report_validated_only(reason)
                return self.plan()
            return self.deploy()

    def validate(self) -> list[Problem] | None:
        from nami_action.cli.common import read_config

        try:
            read_config(Path(self.config))
        except ConfigError as exc:
            return list(exc.problems)
        return None

    def report_invalid(self, command: Command, problems: list[Problem]) -> int:
        for problem in problems:
            self.command(
                runner.annotation(
                    "error",
                    problem.message,
                    file=self.repo_path(problem.file),
                    line=problem.line,
                    column=problem.column,
                    title="nami.yaml",
                )
            )
        shown = [Problem(self.repo_path(p.file), p.line, p.column, p.message) for p in problems]
        marker = plan_marker(self.config_in_repo)
        body = problems_markdown(
            shown,
            self.config_in_repo,
            sha=self.ctx.head_sha,
            run_url=self.ctx.run_url,
            marker=marker,
        )
        self.summary(
            problems_markdown(
                shown,
                self.config_in_repo,
                sha=self.ctx.head_sha,
                run_url=self.ctx.run_url,
                marker=marker,
                limit=SUMMARY_LIMIT,
            )
        )
        number = self.ctx.pull_number
        if command == "plan" and self.options.comment and number and not self.ctx.is_fork:
            self.sticky_comment(number, body, marker)
        self.no_outputs()
        self.log(f"{len(problems)} problem(s) in {self.config_in_repo}")
        return 1

    def validate_only_reason(self) -> str | None:
        if self.ctx.is_fork:
            return (
                "This pull request comes from a fork. GitHub gives fork pull requests no "
                "secrets and a read-only token, so there are no AWS credentials to preview "
                "the change sets with."
            )
        if not self.has_aws_credentials():
            return (
                "No AWS credentials in this job (add aws-actions/configure-aws-credentials "
                "before the Nami step to preview the change sets)."
            )
        return None

    def report_validated_only(self, reason: str) -> int:
        marker = plan_marker(self.config_in_repo)
        text = (
            f"`{self.config_in_repo}` is valid. {reason}\n\n"
            "The change sets will be previewed when this runs with credentials, at the latest "
            "when the change is merged."
        )
        body = notice_markdown(
            "Nami: validated only",
            text,
            marker=marker,
            sha=self.ctx.head_sha,
            run_url=self.ctx.run_url,
        )
        self.summary(body)
        self.command(runner.annotation("notice", reason, title="nami: validated only"))
        number = self.ctx.pull_number
        # A fork's token cannot write comments; only same-repository PRs get one.
        if self.options.comment and number and not self.ctx.is_fork:
            self.sticky_comment(number, body, marker)
        self.no_outputs()
        return 0

    def plan(self) -> int:
        path = self.result_path("plan")
        args = ["plan", self.config, "--format", "json", "--out", str(path)]
        if self.options.pipeline_list:
            args += ["--pipelines", ",".join(self.options.pipeline_list)]
        if path.exists():
            path.unlink()
        code, errors = run_cli(args)
        if not path.is_file():
            return self.report_failure("plan", code or 1, errors)
        plan = Plan.from_dict(json.loads(path.read_text(encoding="utf-8")))
        marker = plan_marker(self.config_in_repo)
        sha, run_url = self.ctx.head_sha, self.ctx.run_url
        self.summary(
            plan_markdown(plan, sha=sha, run_url=run_url, marker=marker, limit=SUMMARY_LIMIT)
        )
        for name, error in plan_errors(plan):
            line = next((p.line for p in plan.pipelines if p.pipeline == name), None)
            self.command(
                runner.annotation(
                    "error",
                    error,
                    file=self.config_in_repo,
                    line=line,
                    title=f"nami: {name} cannot be planned",
                )
            )
        for pipeline in plan.pipelines:
            for warning in pipeline.warnings:
                self.command(
                    runner.annotation(
                        "warning",
                        warning.message,
                        file=self.config_in_repo,
                        line=pipeline.line,
                        title=f"nami: {warning.kind}",
                    )
                )
        number = self.ctx.pull_number
        if self.options.comment and number:
            body = plan_markdown(plan, sha=sha, run_url=run_url, marker=marker)
            self.sticky_comment(number, body, marker)
        self.outputs(
            has_changes=plan.has_changes,
            plan=str(path),
            changed=[p.pipeline for p in plan.changed],
            endpoints={p.pipeline: p.endpoint for p in plan.pipelines if p.endpoint},
        )
        failed = self.check_fail_on(plan)
        if code != 0 or plan_errors(plan):  # the plan was written, but not every pipeline
            return code or 1
        return failed

    def check_fail_on(self, plan: Plan) -> int:
        level = self.options.fail_on or "none"
        if level not in FAIL_ON_KINDS:
            raise NamiError(f"fail-on must be none, replacement or deletion, not {level!r}")
        hits = [w for w in plan.warnings if w.kind in FAIL_ON_KINDS[level]]
        if not hits:
            return 0
        for warning in hits:
            self.command(
                runner.annotation(
                    "error",
                    f"{warning.pipeline}: {warning.message}",
                    title=f"nami: fail-on {level}",
                )
            )
        self.log(f"fail-on {level}: {len(hits)} warning(s) in the plan; failing the check")
        return 1

    def deploy(self) -> int:
        path = self.result_path("deploy")
        plan_path = self.result_path("plan")
        args = ["deploy", self.config, "--format", "json", "--out", str(path)]
        if cli_accepts("deploy", "plan_out"):
            args += ["--plan-out", str(plan_path)]
        if self.options.prune:
            args.append("--prune")
        if self.options.pipeline_list and cli_accepts("deploy", "pipelines"):
            args += ["--pipelines", ",".join(self.options.pipeline_list)]
        for stale in (path, plan_path):
            if stale.exists():
                stale.unlink()
        code, errors = run_cli(args)
        if not path.is_file():
            return self.report_failure("deploy", code or 1, errors)
        result = deploy_result_from_dict(json.loads(path.read_text(encoding="utf-8")))
        marker = deploy_marker(self.config_in_repo)
        sha, run_url = self.ctx.sha, self.ctx.run_url
        self.summary(
            deploy_markdown(
                result,
                sha=sha,
                run_url=run_url,
                marker=marker,
                limit=SUMMARY_LIMIT,
                config_file=self.config_in_repo,
            )
        )
        for failed in result.failed:
            self.command(
                runner.annotation(
                    "error",
                    "; ".join(failed.reasons) or failed.outcome,
                    title=f"nami: {failed.pipeline} {failed.outcome}",
                )
            )
        if self.options.comment and sha:
            try:
                number = self.client().merged_pull_for_commit(sha)
            except GitHubError as exc:
                self.command(runner.annotation("warning", str(exc), title="nami: no PR comment"))
                number = None
            if number:
                body = deploy_markdown(
                    result, sha=sha, run_url=run_url, marker=marker, config_file=self.config_in_repo
                )
                self.sticky_comment(number, body, marker)
            else:
                self.log(f"no pull request found for {sha[:7]}: no comment")
        moved = [p.pipeline for p in result.pipelines if p.outcome in MOVED]
        self.outputs(
            has_changes=bool(moved),
            plan=str(plan_path if plan_path.is_file() else path),
            changed=moved,
            endpoints=result.endpoints(),
        )
        if code != 0 and result.ok:  # the CLI failed after writing a clean result
            return code
        return 0 if result.ok else 1

    def report_failure(self, what: str, code: int, errors: str) -> int:
        # The end of stderr has the reason; the whole of it is in the log already.
        tail = "\n".join(errors.strip().splitlines()[-LOG_TAIL_LINES:])
        message = tail or f"nami {what} failed (exit {code})"
        self.command(runner.annotation("error", message, title=f"nami {what} failed"))
        body = notice_markdown(
            f"❌ Nami {what} failed",
            f"```\n{message[:20_000]}\n```",
            marker=(plan_marker if what == "plan" else deploy_marker)(self.config_in_repo),
            sha=self.ctx.head_sha,
            run_url=self.ctx.run_url,
            kind="CAUTION",
        )
        self.summary(body)
        self.no_outputs()
        return code or 1


MOVED = frozenset({"created", "updated", "deleted"})
LOG_TAIL_LINES = 30


def run(
    options: FlowOptions,
    env: Mapping[str, str] | None = None,
    out: TextIO | None = None,
) -> int:
    """Run the job for the current event; returns the exit code."""
    env = os.environ if env is None else env
    ctx = runner.RunnerContext.from_env(env)
    return Job(options, ctx, env, out or sys.stdout).run()


def deploy_result_from_dict(data: dict[str, Any]) -> DeployResult:
    fields = set(PipelineResult.__dataclass_fields__)
    pipelines = [
        PipelineResult(**{k: v for k, v in p.items() if k in fields})
        for p in data.get("pipelines", [])
    ]
    return DeployResult(str(data.get("project", "")), str(data.get("region", "")), pipelines)


# --------------------------------------------------------------------------- the CLI, in-process


def run_cli(args: list[str]) -> tuple[int, str]:
    """Run `nami <args>` in this process; its stderr still reaches the log and is returned."""
    from nami_action.cli import cli

    captured = _Tee(sys.stderr)
    code = 0
    with contextlib.redirect_stderr(captured):
        try:
            cli.main(args=args, prog_name="nami", standalone_mode=False)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except NamiError as exc:
            captured.write(f"error: {exc}\n")
            code = exc.exit_code
        except Exception as exc:  # click usage errors and the like
            from click import ClickException

            if not isinstance(exc, ClickException):
                raise
            captured.write(f"error: {exc.format_message()}\n")
            code = exc.exit_code
    return code, captured.text


def cli_accepts(command: str, option: str) -> bool:
    from nami_action.cli import cli

    found = cli.commands.get(command)
    return bool(found) and any(p.name == option for p in found.params)  # type: ignore[union-attr]


class _Tee(io.TextIOBase):
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.buffer_ = io.StringIO()

    def write(self, text: str) -> int:
        self.stream.write(text)
        self.buffer_.write(text)
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    @property
    def text(self) -> str:
        return self.buffer_.getvalue()


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
