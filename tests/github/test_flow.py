"""The Action's job, in-process, with the plan/deploy commands stubbed: the flow's decisions."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from nami_action.github import flow
from nami_action.plan.model import DeployResult, PipelinePlan, PipelineResult, PlanWarning

from .github_fakes import REPO, TOKEN, FakeGitHub, make_plan
from .test_runner import parse_output_file

CONFIG = """\
version: 1
project: acme
region: us-east-1
pipelines:
  github:
    verify:
      scheme: github
      secret: ssm:/acme/github
    consumer:
      code: consumers/github
"""

BROKEN = """\
version: 1
project: acme
pipelines:
  github:
    verify:
      scheme: github
      secret: ssm:/acme/github
    consumer:
      code: consumers/github
      max_concurency: 5
"""


class Run:
    def __init__(self, code: int, stdout: str, outputs: dict[str, str], summary: str) -> None:
        self.code = code
        self.stdout = stdout
        self.outputs = outputs
        self.summary = summary


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "repo"
    infra = root / "infra"
    (infra / "consumers" / "github").mkdir(parents=True)
    (infra / "consumers" / "github" / "handler.py").write_text("def handle(w):\n    pass\n")
    (infra / "nami.yaml").write_text(CONFIG)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.chdir(root)
    return root


def pr_event(number: int = 5, fork: bool = False) -> dict[str, Any]:
    head_repo = "someone/webhooks" if fork else REPO
    return {
        "number": number,
        "pull_request": {
            "number": number,
            "head": {"sha": "c" * 40, "repo": {"full_name": head_repo}},
            "base": {"repo": {"full_name": REPO}},
        },
        "repository": {"full_name": REPO, "default_branch": "main"},
    }


def push_event() -> dict[str, Any]:
    return {"ref": "refs/heads/main", "repository": {"full_name": REPO, "default_branch": "main"}}


def run_job(
    workspace: Path,
    fake: FakeGitHub,
    event_name: str,
    event: dict[str, Any],
    *,
    credentials: bool = True,
    ref: str = "refs/pull/5/merge",
    **options: Any,
) -> Run:
    tmp = workspace.parent
    event_path = tmp / "event.json"
    event_path.write_text(json.dumps(event))
    output, summary = tmp / "output", tmp / "summary.md"
    output.write_text("")
    summary.write_text("")
    env = {
        "GITHUB_EVENT_NAME": event_name,
        "GITHUB_EVENT_PATH": str(event_path),
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_SHA": "a" * 40,
        "GITHUB_REF": ref,
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_API_URL": fake.url,
        "GITHUB_RUN_ID": "42",
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
        "RUNNER_TEMP": str(tmp / "runner-temp"),
    }
    if credentials:
        env["AWS_ACCESS_KEY_ID"] = "testing"
    opts = flow.FlowOptions(
        **{"config": "nami.yaml", "working_directory": "infra", "token": TOKEN, **options}
    )
    out = io.StringIO()
    code = flow.run(opts, env, out)
    return Run(code, out.getvalue(), parse_output_file(output.read_text()), summary.read_text())


class StubCli:
    """Stands in for `nami plan` / `nami deploy`: writes the given JSON to --out."""

    def __init__(self, plan: Any = None, result: Any = None, code: int = 0) -> None:
        self.plan = plan
        self.result = result
        self.code = code
        self.calls: list[list[str]] = []

    def __call__(self, args: list[str]) -> tuple[int, str]:
        self.calls.append(args)
        out = Path(args[args.index("--out") + 1])
        data = self.plan if args[0] == "plan" else self.result
        if data is None:
            return 1, "error: no AWS credentials found while planning\n"
        out.write_text(data.to_json())
        return self.code, ""


def replacing_plan() -> Any:
    return make_plan(
        [
            PipelinePlan(
                "github",
                "acme-github",
                "update",
                changes=[],
                diff="-  FifoQueue: false\n+  FifoQueue: true",
                warnings=[PlanWarning("github", "queue-replaced", "queue replaced", True)],
                line=5,
                endpoint="https://api.example/live/github",
            ),
            PipelinePlan("stripe", "acme-stripe", "none"),
        ]
    )


def test_fork_pull_request_validates_only(workspace: Path, github_api: FakeGitHub) -> None:
    stub = StubCli()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(flow, "run_cli", stub)
        run = run_job(workspace, github_api, "pull_request", pr_event(fork=True))
    assert run.code == 0
    assert "comes from a fork" in run.summary and "is valid" in run.summary
    assert stub.calls == []
    assert github_api.writes() == []
    assert run.outputs["has-changes"] == "false"
    assert run.outputs["changed-pipelines"] == "[]"
    assert "::notice title=nami%3A validated only::" in run.stdout


def test_no_credentials_validates_only_and_says_so_on_the_pr(
    workspace: Path, github_api: FakeGitHub
) -> None:
    run = run_job(workspace, github_api, "pull_request", pr_event(), credentials=False)
    assert run.code == 0
    assert "No AWS credentials" in run.summary
    (comment,) = github_api.comments[5]
    assert comment["body"].startswith("<!-- nami:plan:infra/nami.yaml -->")
    assert "No AWS credentials" in comment["body"]


def test_invalid_config_annotates_the_file(workspace: Path, github_api: FakeGitHub) -> None:
    (workspace / "infra" / "nami.yaml").write_text(BROKEN)
    run = run_job(workspace, github_api, "pull_request", pr_event())
    assert run.code == 1
    errors = [line for line in run.stdout.splitlines() if line.startswith("::error ")]
    assert errors and all("file=infra/nami.yaml,line=" in line for line in errors)
    assert ",line=10,col=7::" in errors[0]
    assert "max_concurency" in errors[0]
    assert "is invalid" in run.summary and "infra/nami.yaml:10:7" in run.summary
    assert "is invalid" in github_api.comments[5][0]["body"]


def test_plan_comment_outputs_and_fail_on(workspace: Path, github_api: FakeGitHub) -> None:
    stub = StubCli(plan=replacing_plan())
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(flow, "run_cli", stub)
        first = run_job(workspace, github_api, "pull_request", pr_event(), fail_on="none")
        second = run_job(workspace, github_api, "pull_request", pr_event(), fail_on="deletion")
        third = run_job(workspace, github_api, "pull_request", pr_event(), fail_on="replacement")
    assert stub.calls[0][:2] == ["plan", "nami.yaml"]
    assert (first.code, second.code, third.code) == (0, 0, 1)
    assert "::error title=nami%3A fail-on replacement::github: queue replaced" in third.stdout
    assert "::warning title=nami%3A queue-replaced,file=infra/nami.yaml,line=5::" in first.stdout
    outputs = first.outputs
    assert outputs["has-changes"] == "true"
    assert json.loads(outputs["changed-pipelines"]) == ["github"]
    assert json.loads(outputs["endpoints"]) == {"github": "https://api.example/live/github"}
    assert json.loads(Path(outputs["plan"]).read_text())["has_changes"] is True
    assert "> [!CAUTION]" in first.summary
    # one sticky comment, written once: the same body three times means no edit
    assert len(github_api.comments[5]) == 1
    assert [m for m, _ in github_api.writes()] == ["POST"]


def test_pipelines_input_is_passed_to_plan(workspace: Path, github_api: FakeGitHub) -> None:
    stub = StubCli(plan=replacing_plan())
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(flow, "run_cli", stub)
        run_job(workspace, github_api, "pull_request", pr_event(), pipelines="github, stripe")
    assert stub.calls[0][-2:] == ["--pipelines", "github,stripe"]


def test_plan_failure_is_reported(workspace: Path, github_api: FakeGitHub) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(flow, "run_cli", StubCli(plan=None))
        run = run_job(workspace, github_api, "pull_request", pr_event())
    assert run.code == 1
    assert "::error title=nami plan failed::error: no AWS credentials" in run.stdout
    assert "Nami plan failed" in run.summary
    assert run.outputs["has-changes"] == "false"


def test_push_to_default_branch_deploys_and_comments_on_the_merged_pr(
    workspace: Path, github_api: FakeGitHub
) -> None:
    github_api.pulls_by_sha["a" * 40] = [{"number": 8, "merged_at": "2024-01-01T00:00:00Z"}]
    result = DeployResult(
        "acme",
        "us-east-1",
        [PipelineResult("github", "acme-github", "create", "created", 30, "https://e/github")],
    )
    stub = StubCli(result=result)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(flow, "run_cli", stub)
        run = run_job(
            workspace, github_api, "push", push_event(), ref="refs/heads/main", prune=True
        )
    assert stub.calls[0][:2] == ["deploy", "nami.yaml"] and "--prune" in stub.calls[0]
    assert run.code == 0
    assert "Nami deploy succeeded" in run.summary
    assert json.loads(run.outputs["endpoints"]) == {"github": "https://e/github"}
    assert json.loads(run.outputs["changed-pipelines"]) == ["github"]
    (comment,) = github_api.comments[8]
    assert comment["body"].startswith("<!-- nami:deploy:infra/nami.yaml -->")


def test_failed_deploy_exits_non_zero(workspace: Path, github_api: FakeGitHub) -> None:
    result = DeployResult(
        "acme",
        "us-east-1",
        [PipelineResult("github", "acme-github", "update", "failed", 3, None, ["Queue: boom"])],
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(flow, "run_cli", StubCli(result=result, code=1))
        run = run_job(workspace, github_api, "push", push_event(), ref="refs/heads/main")
    assert run.code == 1
    assert "::error title=nami%3A github failed::Queue: boom" in run.stdout
    assert "Queue: boom" in run.summary


def test_push_elsewhere_only_plans(workspace: Path, github_api: FakeGitHub) -> None:
    stub = StubCli(plan=make_plan([PipelinePlan("github", "acme-github", "none")]))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(flow, "run_cli", stub)
        run = run_job(workspace, github_api, "push", push_event(), ref="refs/heads/feature")
    assert stub.calls[0][0] == "plan"
    assert run.code == 0 and "not the default branch" in run.stdout
    assert github_api.writes() == []


def test_comment_failure_is_a_warning(workspace: Path, github_api: FakeGitHub) -> None:
    github_api.deny_writes = True
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(flow, "run_cli", StubCli(plan=replacing_plan()))
        run = run_job(workspace, github_api, "pull_request", pr_event())
    assert run.code == 0
    assert "::warning title=nami%3A no PR comment::" in run.stdout
    assert "pull-requests: write" in run.stdout


def test_no_comment(workspace: Path, github_api: FakeGitHub) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(flow, "run_cli", StubCli(plan=replacing_plan()))
        run = run_job(workspace, github_api, "pull_request", pr_event(), comment=False)
    assert run.code == 0 and github_api.requests == []
