"""One run of the Action: its options, the runner context, and where its output goes.

The jobs (plan_job, deploy_job) and the comment/report helpers (comment) all take a Job;
flow.py decides which job an event runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TextIO

from nami_action.aws.session import Aws, AwsTarget
from nami_action.config import Config
from nami_action.errors import NamiError, terminal_safe
from nami_action.github import runner
from nami_action.github.api import GitHubClient, GitHubError
from nami_action.render.markdown import deploy_marker, plan_marker

Command = Literal["build", "plan", "deploy"]
Status = Literal["built", "planned", "validated-only", "invalid", "failed", "deployed"]
# GitHub keeps up to 1 MiB of summary per step, counted in bytes:
# https://docs.github.com/en/actions/reference/workflows-and-actions/workflow-commands#adding-a-job-summary
SUMMARY_BYTES = 1024 * 1024 - 4096
# GitHub shows at most 10 warning and 10 error annotations per step (and 10 notices); the
# rest are dropped silently, so the tenth says how many more the summary and log have:
# https://docs.github.com/en/rest/checks/runs (annotations) and the workflow-commands page.
ANNOTATIONS_PER_LEVEL = 10
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
    deploy_on_dispatch: bool = False  # workflow_dispatch may deploy the default branch
    bundle: str = ""  # the build step's folder; empty: one under RUNNER_TEMP
    approved_plan: str = ""  # deploy: the plan job's plan-fingerprint output

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
    """The runner context, the options, and the output helpers every job uses."""

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

    def repo_path(self, path: str) -> str:
        absolute = (self.workdir / path).resolve()
        try:
            return absolute.relative_to(self.workspace).as_posix()
        except ValueError:
            return absolute.as_posix()

    def log(self, text: str) -> None:
        text = terminal_safe(text.removesuffix("\n"))  # nothing printed can forge a command
        self.out.write(text + "\n")
        self.out.flush()

    def outputs(
        self,
        status: Status,
        *,
        has_changes: bool = False,
        plan: str = "",
        changed: Sequence[str] = (),
        endpoints: Mapping[str, str] | None = None,
        bundle: str = "",
        bundle_digest: str = "",
        plan_digest: str = "",
        fingerprint: str = "",
    ) -> None:
        values = {
            "plan-fingerprint": fingerprint,
            "bundle": bundle,
            "bundle-digest": bundle_digest,
            "plan-digest": plan_digest,
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
