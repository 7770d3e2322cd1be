"""The whole Action job for one event: validate, then plan (pull request) or deploy (merge).

It wires the same library steps the CLI wires (load, make_plan, apply.deploy, the renderers)
and re-implements none of them; what is its own is GitHub's side: which event does what, the
sticky comment, annotations, labels, outputs and the checks that keep a pull request from
ever deploying and an old commit from rolling a deploy back.

Exit codes: 0 done (including a fork pull request that was only validated), 1 invalid
config, a failed plan or deploy, or a `fail-on` hit.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TextIO

from nami_action.apply import DeployOptions, deploy, refusal
from nami_action.aws.session import Aws, AwsTarget
from nami_action.aws.stacks import StackEvent
from nami_action.config import Config, load_config
from nami_action.errors import ConfigError, NamiError, Problem
from nami_action.github import runner
from nami_action.github.api import GitHubClient, GitHubError
from nami_action.measure import COMPILER
from nami_action.plan.model import DeployResult, Plan
from nami_action.plan.planner import PlanOptions, PlanRun, make_plan
from nami_action.render.markdown import DEFAULT_LIMIT as COMMENT_LIMIT
from nami_action.render.markdown import (
    deploy_markdown,
    deploy_marker,
    notice_markdown,
    plan_errors,
    plan_markdown,
    plan_marker,
    problems_markdown,
)
from nami_action.render.text import deploy_text, event_line, plan_text

Command = Literal["plan", "deploy"]
Status = Literal["planned", "validated-only", "invalid", "failed", "deployed"]
COMMANDS = ("auto", "plan", "deploy")
PULL_REQUEST_EVENTS = frozenset({"pull_request", "pull_request_target", "merge_group"})
# GitHub keeps up to 1 MiB of summary per step, counted in bytes:
# https://docs.github.com/en/actions/reference/workflows-and-actions/workflow-commands#adding-a-job-summary
SUMMARY_BYTES = 1024 * 1024 - 4096
# GitHub shows at most 10 warning and 10 error annotations per step (and 10 notices); the
# rest are dropped silently, so the tenth says how many more the summary and log have:
# https://docs.github.com/en/rest/checks/runs (annotations) and the workflow-commands page.
ANNOTATIONS_PER_LEVEL = 10
# fail-on is a threshold. `refused` (the default) fails exactly where a deploy with the same
# `force`/`prune` would refuse; `replacement` fails on a replaced queue and on anything
# worse; `deletion` only when a queue or pipeline is removed.
DELETION_KINDS = frozenset({"queue-removed", "pipeline-deleted", "messages-waiting"})
FAIL_ON_KINDS: dict[str, frozenset[str]] = {
    "none": frozenset(),
    "refused": frozenset(),
    "replacement": DELETION_KINDS | {"queue-replaced"},
    "deletion": DELETION_KINDS,
}
# A change set deleted under the plan (a deploy executed or removed it meanwhile).
VANISHED_CHANGE_SET = "ChangeSetNotFound"
LABELS = {"changes": "nami:changes", "destroy": "nami:destroy", "none": "nami:no-changes"}
MOST_COMMITS = 50  # commits looked up for the pull requests a deploy includes
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
    force: bool = False
    fail_on: str = "refused"
    comment: bool = True
    comment_key: str = ""
    comment_on_no_changes: bool = True
    environment: str = ""
    labels: bool = False
    token: str = ""
    working_directory: str = "."

    @property
    def pipeline_list(self) -> tuple[str, ...]:
        names = self.pipelines.replace("\n", ",").split(",")
        return tuple(p.strip() for p in names if p.strip())


class Failure(NamiError):
    """The job cannot go on; the message is what the comment and the annotation say."""


@dataclass
class Annotations:
    """Workflow-command annotations, at most ANNOTATIONS_PER_LEVEL per level: the first nine
    are printed as they come; the tenth slot is the tenth one, or "N more" if there are more."""

    out: TextIO
    shown: dict[str, int] = field(default_factory=dict)
    held: dict[str, list[str]] = field(default_factory=dict)

    def add(
        self,
        level: runner.Level,
        message: str,
        *,
        title: str | None = None,
        file: str | None = None,
        line: int | None = None,
        col: int | None = None,
    ) -> None:
        command = runner.annotation(level, message, file=file, line=line, column=col, title=title)
        if self.shown.get(level, 0) < ANNOTATIONS_PER_LEVEL - 1:
            self.shown[level] = self.shown.get(level, 0) + 1
            runner.emit(command, self.out)
        else:
            self.held.setdefault(level, []).append(command)

    def flush(self) -> None:
        for level, held in sorted(self.held.items()):
            if len(held) == 1:
                runner.emit(held[0], self.out)
                continue
            text = (
                f"{len(held)} more {level}s not shown here (GitHub shows "
                f"{ANNOTATIONS_PER_LEVEL} per step): see the job summary and log"
            )
            more = runner.annotation(level, text, title=f"nami: {len(held)} more")  # type: ignore[arg-type]
            runner.emit(more, self.out)
        self.held.clear()


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
        self.annotations = Annotations(out)
        self.workspace = Path(ctx.workspace or os.getcwd()).resolve()
        self.workdir = (self.workspace / options.working_directory).resolve()
        self.config = options.config or "nami.yaml"
        # The path as the repository shows it: for annotations and the comment marker.
        self.config_in_repo = self.repo_path(self.config)
        # One sticky comment per environment unless the workflow keys them otherwise.
        key = options.comment_key.strip() or options.environment.strip()
        self.plan_marker = plan_marker(self.config_in_repo, key)
        self.deploy_marker = deploy_marker(self.config_in_repo, key)
        self._client: GitHubClient | None = None

    # ------------------------------------------------------------------ helpers

    def repo_path(self, path: str) -> str:
        absolute = (self.workdir / path).resolve()
        try:
            return absolute.relative_to(self.workspace).as_posix()
        except ValueError:
            return absolute.as_posix()

    def log(self, text: str) -> None:
        self.out.write(text + ("" if text.endswith("\n") else "\n"))
        self.out.flush()

    def outputs(
        self,
        status: Status,
        *,
        has_changes: bool = False,
        plan: str = "",
        changed: Sequence[str] = (),
        endpoints: Mapping[str, str] | None = None,
    ) -> None:
        values = {
            "status": status,
            "has-changes": "true" if has_changes else "false",
            "plan": plan,
            "changed-pipelines": json.dumps(list(changed)),
            "endpoints": json.dumps(dict(endpoints or {}), sort_keys=True),
        }
        for name, value in values.items():
            runner.set_output(name, value, self.ctx.output_file)

    def summary(self, render: Callable[[int], str]) -> None:
        runner.append_summary(fit_bytes(render, SUMMARY_BYTES), self.ctx.summary_file)

    def client(self) -> GitHubClient:
        if self._client is None:
            self._client = GitHubClient(self.options.token, self.ctx.repository, self.ctx.api_url)
        return self._client

    def warn_github(self, exc: GitHubError, title: str) -> None:
        self.annotations.add("warning", str(exc), title=title)

    @property
    def pull_number(self) -> int | None:
        """The pull request to comment on: same-repository ones only (a fork's token is
        read-only) and only when comments are on."""
        if not self.options.comment or self.ctx.is_fork:
            return None
        return self.ctx.pull_number

    def sticky_comment(self, number: int, body: str, marker: str, *, create: bool = True) -> None:
        """Create or edit our own comment; a failure is a warning, the summary has it all."""
        try:
            existing = self.client().find_comment(number, marker)
            if existing is None and not create:
                self.log(f"nothing changes: no comment on #{number} (comment-on-no-changes)")
                return
            outcome, comment_id = self.client().upsert_comment(number, body, marker)
        except GitHubError as exc:
            self.warn_github(exc, "nami: no PR comment")
            return
        self.log(f"comment {comment_id} on #{number}: {outcome}")

    def result_path(self, kind: str) -> Path:
        base = Path(self.env.get("RUNNER_TEMP") or tempfile.gettempdir()) / "nami"
        base.mkdir(parents=True, exist_ok=True)
        key = hashlib.sha256(self.plan_marker.encode()).hexdigest()[:12]
        return base / f"{kind}-{key}.json"

    def aws(self, config: Config) -> Aws:
        endpoint = self.env.get("NAMI_ENDPOINT_URL") or None
        return Aws(AwsTarget(region=config.region, endpoint_url=endpoint))

    def has_aws_credentials(self) -> bool:
        if any(self.env.get(name) for name in CREDENTIAL_ENV):
            return True
        from nami_action.aws.session import credentials_available

        return credentials_available()

    # ------------------------------------------------------------------ the job

    def run(self) -> int:
        try:
            try:
                command = self.resolve_command()
            except NamiError as exc:  # a bad `command` input, or deploy on a pull request
                self.annotations.add("error", str(exc), title="nami")
                self.outputs("failed")
                return 1
            self.log(f"nami: {command} {self.config_in_repo} (event {self.ctx.event_name or '-'})")
            if self.ctx.event_name == "pull_request_target":
                self.annotations.add(
                    "warning",
                    "pull_request_target runs with this repository's secrets and a write token; "
                    "checking out and planning the pull request's code there lets its author run "
                    "code with them. Use pull_request (see the README, Pull requests from forks).",
                    title="nami: pull_request_target",
                )
            with _chdir(self.workdir):
                return self.run_command(command)
        finally:
            self.annotations.flush()

    def run_command(self, command: Command) -> int:
        try:
            config = self.load()
        except ConfigError as exc:
            return self.report_invalid(list(exc.problems))
        try:
            if command == "deploy":
                return self.deploy(config)
            if self.ctx.is_fork:
                return self.report_validated_only()
            if not self.has_aws_credentials():
                raise Failure(
                    "no AWS credentials in this job: add aws-actions/configure-aws-credentials "
                    "with the plan role before the Nami step (only pull requests from forks, "
                    "which get no credentials, are validated without a plan)"
                )
            return self.plan(config)
        except NamiError as exc:
            return self.report_failure(command, str(exc))

    def resolve_command(self) -> Command:
        wanted = self.options.command or "auto"
        if wanted not in COMMANDS:
            raise NamiError(f"command must be one of {', '.join(COMMANDS)}, not {wanted!r}")
        if wanted == "deploy" and self.ctx.event_name in PULL_REQUEST_EVENTS:
            raise NamiError(
                f"refusing to deploy on {self.ctx.event_name}: a pull request runs its own "
                "workflow file, so it may only plan; deploy on push to the deploy branch"
            )
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

    def load(self) -> Config:
        env = self.options.environment.strip() or None
        return load_config(Path(self.config), display_name=self.config, env=env, measure=COMPILER)

    # ------------------------------------------------------------------ reports

    def report_invalid(self, problems: list[Problem]) -> int:
        for problem in problems:
            self.annotations.add(
                "error",
                problem.message,
                file=self.repo_path(problem.file),
                line=problem.line,
                col=problem.column,
                title="nami.yaml",
            )
        shown = [Problem(self.repo_path(p.file), p.line, p.column, p.message) for p in problems]

        def render(limit: int) -> str:
            return problems_markdown(
                shown,
                self.config_in_repo,
                sha=self.ctx.head_sha,
                run_url=self.ctx.run_url,
                marker=self.plan_marker,
                limit=limit,
            )

        self.summary(render)
        if self.pull_number:
            self.sticky_comment(self.pull_number, render(COMMENT_LIMIT), self.plan_marker)
        self.outputs("invalid")
        self.log(f"{len(problems)} problem(s) in {self.config_in_repo}")
        return 1

    def report_validated_only(self) -> int:
        reason = (
            "This pull request comes from a fork. GitHub gives fork pull requests no "
            "secrets and a read-only token, so there are no AWS credentials to preview "
            "the change sets with."
        )
        text = (
            f"`{self.config_in_repo}` is valid. {reason}\n\n"
            "The change sets will be previewed when this runs with credentials, at the latest "
            "when the change is merged."
        )
        body = notice_markdown(
            "Nami: validated only",
            text,
            marker=self.plan_marker,
            sha=self.ctx.head_sha,
            run_url=self.ctx.run_url,
        )
        self.summary(lambda _: body)
        self.annotations.add("notice", reason, title="nami: validated only")
        self.outputs("validated-only")
        return 0

    def report_failure(self, what: Command, message: str, *, pulls: Sequence[int] = ()) -> int:
        """A failed plan replaces the sticky comment (no stale plan beside a red check); a
        failed deploy is said on the merged pull requests it was deploying."""
        self.annotations.add("error", message, title=f"nami {what} failed")
        body = notice_markdown(
            f"❌ Nami {what} failed",
            f"```\n{message[:20_000]}\n```",
            marker=self.plan_marker if what == "plan" else self.deploy_marker,
            sha=self.ctx.head_sha,
            run_url=self.ctx.run_url,
            kind="CAUTION",
        )
        self.summary(lambda _: body)
        if what == "plan" and self.pull_number:
            self.sticky_comment(self.pull_number, body, self.plan_marker)
        for number in pulls if self.options.comment else ():
            self.sticky_comment(number, body, self.deploy_marker)
        self.outputs("failed")
        return 1

    # ------------------------------------------------------------------ plan

    def plan_with_retry(self, config: Config, aws: Aws, keep: bool) -> PlanRun:
        options = PlanOptions(self.options.pipeline_list, keep_change_sets=keep)
        run = make_plan(config, aws, options)
        if any(VANISHED_CHANGE_SET in p.error for p in run.plan.pipelines):
            self.log(
                "a change set vanished while planning (a deploy ran meanwhile): planning again"
            )
            run = make_plan(config, aws, options)
        return run

    def plan(self, config: Config) -> int:
        plan = self.plan_with_retry(config, self.aws(config), keep=False).plan
        path = self.result_path("plan")
        path.write_text(plan.to_json(), encoding="utf-8")
        self.log(plan_text(plan))
        sha, run_url = self.ctx.head_sha, self.ctx.run_url

        def render(limit: int) -> str:
            return plan_markdown(
                plan, sha=sha, run_url=run_url, marker=self.plan_marker, limit=limit
            )

        self.summary(render)
        self.annotate_plan(plan)
        fail_on_hit = self.check_fail_on(plan)  # annotates every hit
        failed = bool(plan_errors(plan)) or fail_on_hit
        if self.pull_number:
            quiet = not plan.has_changes and not failed and not self.options.comment_on_no_changes
            self.sticky_comment(
                self.pull_number, render(COMMENT_LIMIT), self.plan_marker, create=not quiet
            )
            if self.options.labels:
                self.label(self.pull_number, plan)
        self.outputs(
            "failed" if failed else "planned",
            has_changes=plan.has_changes,
            plan=str(path),
            changed=[p.pipeline for p in plan.changed],
            endpoints={p.pipeline: p.endpoint for p in plan.pipelines if p.endpoint},
        )
        return 1 if failed else 0

    def annotate_plan(self, plan: Plan) -> None:
        lines = {p.pipeline: p.line for p in plan.pipelines}
        for name, error in plan_errors(plan):
            self.annotations.add(
                "error",
                error,
                file=self.config_in_repo,
                line=lines.get(name),
                title=f"nami: {name} cannot be planned",
            )
        for pipeline in plan.pipelines:
            for warning in pipeline.warnings:
                self.annotations.add(
                    "warning",
                    warning.message,
                    file=self.config_in_repo,
                    line=pipeline.line,
                    title=f"nami: {warning.kind}",
                )

    def check_fail_on(self, plan: Plan) -> bool:
        level = self.options.fail_on or "refused"
        if level not in FAIL_ON_KINDS:
            raise NamiError(f"fail-on must be one of {', '.join(FAIL_ON_KINDS)}, not {level!r}")
        if level == "refused":
            rules = DeployOptions(prune=self.options.prune, force=self.options.force)
            hits = [
                (p.pipeline, found[1])
                for p in plan.pipelines
                if (found := refusal(p, rules)) and found[0] == "refused"
            ]
        else:
            hits = [
                (w.pipeline, w.message) for w in plan.warnings if w.kind in FAIL_ON_KINDS[level]
            ]
        for pipeline, message in hits:
            message = message.replace("run with --force", "set `force: true` on both jobs")
            self.annotations.add("error", f"{pipeline}: {message}", title=f"nami: fail-on {level}")
        if hits:
            self.log(f"fail-on {level}: {len(hits)} pipeline(s) the deploy would refuse or lose")
        return bool(hits)

    def label(self, number: int, plan: Plan) -> None:
        destroys = any(p.action == "delete" for p in plan.pipelines) or any(
            w.loses_messages for w in plan.warnings
        )
        wanted = {LABELS["destroy"], LABELS["changes"]} if destroys else set()
        if plan.has_changes:
            wanted.add(LABELS["changes"])
        else:
            wanted.add(LABELS["none"])
        try:
            self.client().add_labels(number, sorted(wanted))
            for label in sorted(set(LABELS.values()) - wanted):
                self.client().remove_label(number, label)
        except GitHubError as exc:
            self.warn_github(exc, "nami: no labels")

    # ------------------------------------------------------------------ deploy

    def deploy_branch(self) -> str:
        if self.ctx.ref.startswith("refs/heads/"):
            return self.ctx.ref.removeprefix("refs/heads/")
        if self.ctx.default_branch:
            return self.ctx.default_branch
        raise Failure(f"cannot tell the deploy branch from GITHUB_REF={self.ctx.ref!r}")

    def check_tip(self, branch: str) -> None:
        """Re-running an old deploy must not roll back what a newer commit deployed."""
        try:
            head = self.client().branch_head(branch)
        except GitHubError as exc:
            raise Failure(
                f"cannot check that {self.ctx.sha[:7]} is the tip of {branch}: {exc}"
            ) from exc
        if head != self.ctx.sha:
            raise Failure(
                f"refusing to deploy {self.ctx.sha[:7]}: the tip of {branch} is now {head[:7]}, "
                "and deploying an older commit would roll it back. The run for the newest "
                "commit deploys it (re-run that one if needed)."
            )

    def included_pulls(self, branch: str) -> list[int]:
        """The merged pull requests this deploy brings out: every commit since the last
        successful deploy run (runs waiting in a concurrency group are coalesced)."""
        client, sha = self.client(), self.ctx.sha
        base = None
        workflow = self.ctx.workflow_file
        try:
            base = client.last_successful_run_sha(workflow, branch) if workflow else None
        except GitHubError as exc:
            self.log(f"cannot read the last successful run ({exc}); using the push's `before`")
        before = str(self.ctx.event.get("before") or "")
        base = base or (before if before.strip("0") else None)
        commits = [sha]
        if base and base != sha:
            try:
                commits = client.commits_between(base, sha)[-MOST_COMMITS:] or [sha]
            except GitHubError as exc:
                self.log(f"cannot compare {base[:7]}...{sha[:7]}: {exc}")
        pulls: list[int] = []
        for commit in commits:
            try:
                found = client.merged_pulls_for_commit(commit)
            except GitHubError as exc:
                self.warn_github(exc, "nami: no PR comment")
                break
            pulls += [n for n in found if n not in pulls]
        return sorted(pulls)

    def deploy(self, config: Config) -> int:
        branch = self.deploy_branch()
        self.check_tip(branch)
        pulls = self.included_pulls(branch) if self.options.comment else []
        try:
            return self.deploy_pulls(config, pulls)
        except NamiError as exc:
            return self.report_failure("deploy", str(exc), pulls=pulls)

    def deploy_pulls(self, config: Config, pulls: list[int]) -> int:
        aws = self.aws(config)
        run = self.plan_with_retry(config, aws, keep=True)
        plan_path = self.result_path("plan")
        plan_path.write_text(run.plan.to_json(), encoding="utf-8")
        self.log(plan_text(run.plan))
        options = DeployOptions(prune=self.options.prune, force=self.options.force)
        result = deploy(aws, run, options, self.on_event)
        self.result_path("deploy").write_text(result.to_json(), encoding="utf-8")
        self.log(deploy_text(result))
        self.report_deploy(result, pulls)
        moved = [p.pipeline for p in result.pipelines if p.outcome in MOVED]
        self.outputs(
            "deployed" if result.ok else "failed",
            has_changes=bool(moved),
            plan=str(plan_path),
            changed=moved,
            endpoints=result.endpoints(),
        )
        return 0 if result.ok else 1

    def on_event(self, event: StackEvent) -> None:
        self.log(event_line(event))

    def report_deploy(self, result: DeployResult, pulls: list[int]) -> None:
        sha, run_url = self.ctx.sha, self.ctx.run_url

        def render(limit: int) -> str:
            return deploy_markdown(
                result,
                sha=sha,
                run_url=run_url,
                marker=self.deploy_marker,
                limit=limit,
                config_file=self.config_in_repo,
                pulls=pulls,
            )

        self.summary(render)
        for failed in result.failed:
            self.annotations.add(
                "error",
                "; ".join(failed.reasons) or failed.outcome,
                title=f"nami: {failed.pipeline} {failed.outcome}",
            )
        if not pulls:
            self.log(f"no merged pull request found for {sha[:7]}: no comment")
        for number in pulls:
            self.sticky_comment(number, render(COMMENT_LIMIT), self.deploy_marker)


MOVED = frozenset({"created", "updated", "deleted"})


def fit_bytes(render: Callable[[int], str], budget: int) -> str:
    """Render within `budget` UTF-8 bytes: the renderers count characters, so shrink their
    character limit by the measured bytes-per-character until the bytes fit."""
    limit = budget
    text = render(limit)
    for _ in range(5):
        size = len(text.encode("utf-8"))
        if size <= budget:
            return text
        limit = int(limit * budget / size * 0.97)
        text = render(limit)
    return text


def run(
    options: FlowOptions,
    env: Mapping[str, str] | None = None,
    out: TextIO | None = None,
) -> int:
    """Run the job for the current event; returns the exit code."""
    env = os.environ if env is None else env
    ctx = runner.RunnerContext.from_env(env)
    return Job(options, ctx, env, out or sys.stdout).run()


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
