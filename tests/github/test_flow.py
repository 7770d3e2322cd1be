"""The Action's job, in-process, with the plan/deploy commands stubbed: the flow's decisions."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from nami_action.aws.session import AwsError
from nami_action.github import deploy_job, flow, plan_job
from nami_action.plan.model import DeployResult, PipelinePlan, PipelineResult, PlanWarning
from nami_action.plan.planner import PlanRun

from .git_checkout import commit_all, head
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
    commit_all(root)
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
    env: dict[str, str] | None = None,
    **options: Any,
) -> Run:
    tmp = workspace.parent
    event_path = tmp / "event.json"
    event_path.write_text(json.dumps(event))
    output, summary = tmp / "output", tmp / "summary.md"
    output.write_text("")
    summary.write_text("")
    env = {
        **(env or {}),
        "GITHUB_EVENT_NAME": event_name,
        "GITHUB_EVENT_PATH": str(event_path),
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_SHA": (env or {}).get("GITHUB_SHA") or head(workspace),
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


class Steps:
    """Stands in for the library steps the flow calls (make_plan, apply.deploy): returns the
    given Plan / DeployResult, or raises the given error, and records the calls. The real
    steps run against the emulator in test_action_harness.py."""

    def __init__(self, plans: list[Any] | None = None, result: Any = None, error: str = "") -> None:
        self.plans = list(plans or [])
        self.result = result
        self.error = error
        self.calls: list[tuple[str, Any]] = []

    def make_plan(self, config: Any, aws: Any, options: Any) -> PlanRun:
        self.calls.append(("plan", options))
        if self.error:
            raise AwsError(self.error)
        plan = self.plans.pop(0) if len(self.plans) > 1 else self.plans[0]
        return PlanRun(plan, config, "bucket", {}, {}, {})

    def deploy(self, aws: Any, run: PlanRun, options: Any, on_event: Any) -> Any:
        self.calls.append(("deploy", options))
        return self.result

    def patch(self, mp: pytest.MonkeyPatch) -> Steps:
        mp.setattr(plan_job, "make_plan", self.make_plan)
        mp.setattr(deploy_job, "deploy", self.deploy)
        return self


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
    with pytest.MonkeyPatch.context() as mp:
        steps = Steps().patch(mp)
        run = run_job(workspace, github_api, "pull_request", pr_event(fork=True))
    assert run.code == 0
    assert "comes from a fork" in run.summary and "is valid" in run.summary
    assert steps.calls == []
    assert github_api.writes() == []
    assert run.outputs["status"] == "validated-only"
    assert run.outputs["changed-pipelines"] == "[]"
    assert "::notice title=nami%3A validated only::" in run.stdout


def test_no_credentials_on_a_same_repository_pr_fails(
    workspace: Path, github_api: FakeGitHub
) -> None:
    run = run_job(workspace, github_api, "pull_request", pr_event(), credentials=False)
    assert run.code == 1
    assert run.outputs["status"] == "failed"
    (comment,) = github_api.comments[5]
    assert comment["body"].startswith("<!-- nami:plan:infra/nami.yaml -->")
    assert "no AWS credentials" in comment["body"]


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
    assert run.outputs["status"] == "invalid"


def test_fail_on_matches_what_the_deploy_refuses(workspace: Path, github_api: FakeGitHub) -> None:
    with pytest.MonkeyPatch.context() as mp:
        steps = Steps([replacing_plan()]).patch(mp)
        default = run_job(workspace, github_api, "pull_request", pr_event())
        forced = run_job(workspace, github_api, "pull_request", pr_event(), force=True)
        none = run_job(workspace, github_api, "pull_request", pr_event(), fail_on="none")
        deletion = run_job(workspace, github_api, "pull_request", pr_event(), fail_on="deletion")
        replacement = run_job(
            workspace, github_api, "pull_request", pr_event(), fail_on="replacement"
        )
    codes = [r.code for r in (default, forced, none, deletion, replacement)]
    assert codes == [1, 0, 0, 0, 1]
    assert steps.calls[0][1].pipelines == () and steps.calls[0][1].keep_change_sets is False
    assert "::error title=nami%3A fail-on refused::github: refused" in default.stdout
    assert default.outputs["status"] == "failed" and forced.outputs["status"] == "planned"
    assert "::warning title=nami%3A queue-replaced,file=infra/nami.yaml,line=5::" in none.stdout
    outputs = none.outputs
    assert outputs["has-changes"] == "true"
    assert json.loads(outputs["changed-pipelines"]) == ["github"]
    assert json.loads(outputs["endpoints"]) == {"github": "https://api.example/live/github"}
    assert json.loads(Path(outputs["plan"]).read_text())["has_changes"] is True
    assert len(github_api.comments[5]) == 1  # one sticky comment, edited in place


def test_pipelines_input_is_passed_to_plan(workspace: Path, github_api: FakeGitHub) -> None:
    with pytest.MonkeyPatch.context() as mp:
        steps = Steps([replacing_plan()]).patch(mp)
        run_job(workspace, github_api, "pull_request", pr_event(), pipelines="github, stripe")
    assert steps.calls[0][1].pipelines == ("github", "stripe")


def test_a_vanished_change_set_is_planned_again_once(
    workspace: Path, github_api: FakeGitHub
) -> None:
    vanished = make_plan(
        [
            PipelinePlan(
                "github",
                "acme-github",
                "update",
                error="AWS error while describing a change set (ChangeSetNotFound): gone",
            )
        ]
    )
    clean = make_plan([PipelinePlan("github", "acme-github", "none")])
    with pytest.MonkeyPatch.context() as mp:
        steps = Steps([vanished, clean]).patch(mp)
        run = run_job(workspace, github_api, "pull_request", pr_event())
    assert [c[0] for c in steps.calls] == ["plan", "plan"]
    assert run.code == 0 and "planning again" in run.stdout


def test_plan_failure_replaces_the_sticky_comment(workspace: Path, github_api: FakeGitHub) -> None:
    with pytest.MonkeyPatch.context() as mp:
        Steps([make_plan([PipelinePlan("github", "acme-github", "none")])]).patch(mp)
        ok = run_job(workspace, github_api, "pull_request", pr_event())
    assert ok.code == 0 and "No changes" in github_api.comments[5][0]["body"]
    with pytest.MonkeyPatch.context() as mp:
        Steps(error="access denied while listing stacks: nope").patch(mp)
        run = run_job(workspace, github_api, "pull_request", pr_event())
    assert run.code == 1
    assert "::error title=nami plan failed::access denied while listing stacks" in run.stdout
    (comment,) = github_api.comments[5]
    assert "Nami plan failed" in comment["body"] and "access denied" in comment["body"]
    assert "No changes" not in comment["body"]
    assert run.outputs["status"] == "failed"


def test_failure_text_cannot_close_its_fence_or_forge_a_command(
    workspace: Path, github_api: FakeGitHub
) -> None:
    error = "boom\n```\n## Fake heading outside the block\n::error::forged\n\x1b[2Jcleared"
    with pytest.MonkeyPatch.context() as mp:
        Steps(error=error).patch(mp)
        run = run_job(workspace, github_api, "pull_request", pr_event())
    (comment,) = github_api.comments[5]
    body = comment["body"]
    fence = "> ````"  # one backtick longer than the longest run in the text
    assert fence in body and body.index(fence) < body.index("Fake heading") < body.rindex(fence)
    assert "\x1b" not in body and "\\x1b[2J" in body
    assert "\n::error::forged" not in run.stdout
    assert "\x1b" not in run.stdout


def test_no_comment_when_nothing_changes(workspace: Path, github_api: FakeGitHub) -> None:
    nothing = make_plan([PipelinePlan("github", "acme-github", "none")])
    with pytest.MonkeyPatch.context() as mp:
        Steps([nothing]).patch(mp)
        quiet = run_job(
            workspace, github_api, "pull_request", pr_event(), comment_on_no_changes=False
        )
        assert quiet.code == 0 and github_api.comment_writes() == []
        Steps([replacing_plan()]).patch(mp)
        run_job(workspace, github_api, "pull_request", pr_event(), fail_on="none")
        Steps([nothing]).patch(mp)
        run_job(workspace, github_api, "pull_request", pr_event(), comment_on_no_changes=False)
    # the comment that showed changes is updated, never left stale
    (comment,) = github_api.comments[5]
    assert "queue replaced" not in comment["body"]


def test_labels(workspace: Path, github_api: FakeGitHub) -> None:
    with pytest.MonkeyPatch.context() as mp:
        Steps([replacing_plan()]).patch(mp)
        run_job(workspace, github_api, "pull_request", pr_event(), labels=True, fail_on="none")
        assert sorted(github_api.labels[5]) == ["nami:changes", "nami:destroy"]
        Steps([make_plan([PipelinePlan("github", "acme-github", "none")])]).patch(mp)
        run_job(workspace, github_api, "pull_request", pr_event(), labels=True)
    assert github_api.labels[5] == ["nami:no-changes"]


def test_annotations_beyond_githubs_limit_say_how_many_more(
    workspace: Path, github_api: FakeGitHub
) -> None:
    warnings = [PlanWarning("github", "stack-busy", f"warning {i}") for i in range(25)]
    plan = make_plan([PipelinePlan("github", "acme-github", "update", warnings=warnings)])
    with pytest.MonkeyPatch.context() as mp:
        Steps([plan]).patch(mp)
        run = run_job(workspace, github_api, "pull_request", pr_event())
    shown = [line for line in run.stdout.splitlines() if line.startswith("::warning ")]
    assert len(shown) == 10
    assert "warning 8" in shown[8] and "16 more warnings not shown" in shown[9]
    assert "warning 24" in run.summary


def test_summary_budget_is_counted_in_bytes() -> None:
    text = flow.fit_bytes(lambda limit: "é" * limit, 1000)
    assert len(text.encode()) <= 1000 < len(text) * 2 + 100


def test_push_to_default_branch_deploys_and_comments_on_the_merged_pr(
    workspace: Path, github_api: FakeGitHub
) -> None:
    sha = head(workspace)
    github_api.branches["main"] = sha
    github_api.pulls_by_sha[sha] = [{"number": 8, "merged_at": "2024-01-01T00:00:00Z"}]
    result = DeployResult(
        "acme",
        "us-east-1",
        [PipelineResult("github", "acme-github", "create", "created", 30, "https://e/github")],
    )
    plan = make_plan([PipelinePlan("github", "acme-github", "create")])
    with pytest.MonkeyPatch.context() as mp:
        steps = Steps([plan], result=result).patch(mp)
        run = run_job(
            workspace, github_api, "push", push_event(), ref="refs/heads/main", prune=True
        )
    assert [c[0] for c in steps.calls] == ["plan", "deploy"]
    assert steps.calls[0][1].keep_change_sets is True and steps.calls[1][1].prune is True
    assert run.code == 0 and run.outputs["status"] == "deployed"
    assert "Nami deploy succeeded" in run.summary
    assert json.loads(run.outputs["endpoints"]) == {"github": "https://e/github"}
    assert json.loads(run.outputs["changed-pipelines"]) == ["github"]
    (comment,) = github_api.comments[8]
    assert comment["body"].startswith("<!-- nami:deploy:infra/nami.yaml -->")


def test_failed_deploy_comments_on_the_merged_pr(workspace: Path, github_api: FakeGitHub) -> None:
    sha = head(workspace)
    github_api.branches["main"] = sha
    github_api.pulls_by_sha[sha] = [
        {"number": 8, "merged_at": "2024-01-01T00:00:00Z"},
        {"number": 9, "merged_at": None},  # open: never commented on
    ]
    result = DeployResult(
        "acme",
        "us-east-1",
        [PipelineResult("github", "acme-github", "update", "failed", 3, None, ["Queue: boom"])],
    )
    plan = make_plan([PipelinePlan("github", "acme-github", "update")])
    with pytest.MonkeyPatch.context() as mp:
        Steps([plan], result=result).patch(mp)
        run = run_job(workspace, github_api, "push", push_event(), ref="refs/heads/main")
        failing = Steps(error="AWS rejected the credentials").patch(mp)
        crashed = run_job(workspace, github_api, "push", push_event(), ref="refs/heads/main")
    assert run.code == 1 and run.outputs["status"] == "failed"
    assert "::error title=nami%3A github failed::Queue: boom" in run.stdout
    assert "Queue: boom" in run.summary
    assert crashed.code == 1 and failing.calls
    (comment,) = github_api.comments[8]  # the deploy comment, now saying why it failed
    assert "Nami deploy failed" in comment["body"] and "rejected the credentials" in comment["body"]
    assert 9 not in github_api.comments


def test_push_elsewhere_only_plans(workspace: Path, github_api: FakeGitHub) -> None:
    with pytest.MonkeyPatch.context() as mp:
        steps = Steps([make_plan([PipelinePlan("github", "acme-github", "none")])]).patch(mp)
        run = run_job(workspace, github_api, "push", push_event(), ref="refs/heads/feature")
    assert [c[0] for c in steps.calls] == ["plan"]
    assert run.code == 0 and "not the default branch" in run.stdout
    assert github_api.writes() == []


def test_merge_group_plans_the_queued_commit(workspace: Path, github_api: FakeGitHub) -> None:
    event = {"merge_group": {"head_sha": "9" * 40, "head_ref": "gh-readonly-queue/main/pr-5"}}
    with pytest.MonkeyPatch.context() as mp:
        steps = Steps([make_plan([PipelinePlan("github", "acme-github", "none")])]).patch(mp)
        run = run_job(workspace, github_api, "merge_group", event, ref="refs/heads/gh-readonly")
        refused = run_job(workspace, github_api, "merge_group", event, command="deploy")
    assert [c[0] for c in steps.calls] == ["plan"]
    assert run.code == 0 and "commit 9999999" in run.summary
    assert refused.code == 1 and refused.outputs["status"] == "failed"
    assert "::error title=nami::refusing to deploy on merge_group" in refused.stdout


def test_pull_request_target_is_warned_about(workspace: Path, github_api: FakeGitHub) -> None:
    with pytest.MonkeyPatch.context() as mp:
        Steps([make_plan([PipelinePlan("github", "acme-github", "none")])]).patch(mp)
        run = run_job(workspace, github_api, "pull_request_target", pr_event())
    assert "::warning title=nami%3A pull_request_target::" in run.stdout


def test_comment_failure_is_a_warning(workspace: Path, github_api: FakeGitHub) -> None:
    github_api.deny_writes = True
    with pytest.MonkeyPatch.context() as mp:
        Steps([replacing_plan()]).patch(mp)
        run = run_job(workspace, github_api, "pull_request", pr_event(), fail_on="none")
    assert run.code == 0
    assert "::warning title=nami%3A no PR comment::" in run.stdout
    assert "pull-requests: write" in run.stdout


def test_no_comment(workspace: Path, github_api: FakeGitHub) -> None:
    with pytest.MonkeyPatch.context() as mp:
        Steps([replacing_plan()]).patch(mp)
        run = run_job(workspace, github_api, "pull_request", pr_event(), comment=False)
    assert run.code == 1 and github_api.requests == []


ENVIRONMENTS = """\
environments:
  staging:
    overrides:
      defaults:
        consumer: {max_concurrency: 2}
  production: {}
"""


def test_environment_input_reaches_the_config_and_keys_the_comment(
    workspace: Path, github_api: FakeGitHub
) -> None:
    (workspace / "infra" / "nami.yaml").write_text(CONFIG + ENVIRONMENTS)
    seen: list[Any] = []
    with pytest.MonkeyPatch.context() as mp:
        steps = Steps([make_plan([PipelinePlan("github", "acme-staging-github", "none")])])
        steps.patch(mp)

        def recording(config: Any, aws: Any, options: Any) -> PlanRun:
            seen.append(config)
            return steps.make_plan(config, aws, options)

        mp.setattr(plan_job, "make_plan", recording)
        for env in ("staging", "production"):
            run = run_job(workspace, github_api, "pull_request", pr_event(), environment=env)
            assert run.code == 0, run.stdout
    assert [c.environment for c in seen] == ["staging", "production"]
    assert seen[0].pipelines["github"].stack_name == "acme-staging-github"
    assert seen[0].pipelines["github"].spec.consumer.max_concurrency == 2
    assert seen[1].pipelines["github"].spec.consumer.max_concurrency == 10
    # one sticky comment per environment, each found again by its own marker
    bodies = [c["body"] for c in github_api.comments[5]]
    assert len(bodies) == 2
    assert "<!-- nami:plan:infra/nami.yaml#staging -->" in bodies[0]
    assert "<!-- nami:plan:infra/nami.yaml#production -->" in bodies[1]
    with pytest.MonkeyPatch.context() as mp:
        Steps([make_plan([PipelinePlan("github", "acme-staging-github", "none")])]).patch(mp)
        run_job(workspace, github_api, "pull_request", pr_event(), environment="staging")
    assert len(github_api.comments[5]) == 2  # edited in place, not a third comment


def test_an_explicit_comment_key_wins_over_the_environment(
    workspace: Path, github_api: FakeGitHub
) -> None:
    (workspace / "infra" / "nami.yaml").write_text(CONFIG + ENVIRONMENTS)
    with pytest.MonkeyPatch.context() as mp:
        Steps([make_plan([PipelinePlan("github", "acme-staging-github", "none")])]).patch(mp)
        run_job(
            workspace,
            github_api,
            "pull_request",
            pr_event(),
            environment="staging",
            comment_key="eu",
        )
    (comment,) = github_api.comments[5]
    assert "<!-- nami:plan:infra/nami.yaml#eu -->" in comment["body"]


def test_a_config_with_environments_needs_the_input(
    workspace: Path, github_api: FakeGitHub
) -> None:
    (workspace / "infra" / "nami.yaml").write_text(CONFIG + ENVIRONMENTS)
    run = run_job(workspace, github_api, "pull_request", pr_event())
    assert run.code == 1
    assert run.outputs["status"] == "invalid"
    assert "choose one with --env NAME" in run.stdout


@pytest.mark.parametrize(
    "event_name", ["issue_comment", "workflow_run", "repository_dispatch", "schedule"]
)
def test_deploy_is_refused_on_events_that_can_run_unmerged_code(
    workspace: Path, github_api: FakeGitHub, event_name: str
) -> None:
    """An issue_comment job that checks out a pull request's head still has main's tip as
    GITHUB_SHA: the event, not the SHA, decides that no deploy belongs here."""
    github_api.branches["main"] = head(workspace)
    with pytest.MonkeyPatch.context() as mp:
        steps = Steps([make_plan([PipelinePlan("github", "acme-github", "create")])]).patch(mp)
        refused = run_job(
            workspace, github_api, event_name, push_event(), ref="refs/heads/main", command="deploy"
        )
        auto = run_job(workspace, github_api, event_name, push_event(), ref="refs/heads/main")
    assert refused.code == 1 and refused.outputs["status"] == "failed"
    assert f"::error title=nami::refusing to deploy on {event_name}" in refused.stdout
    assert [c[0] for c in steps.calls] == ["plan"]  # auto plans; nothing deployed
    assert auto.code == 0 and auto.outputs["status"] == "planned"


def test_workflow_dispatch_deploys_only_when_opted_in(
    workspace: Path, github_api: FakeGitHub
) -> None:
    github_api.branches["main"] = head(workspace)
    result = DeployResult("acme", "us-east-1", [])
    runs = {}
    with pytest.MonkeyPatch.context() as mp:
        steps = Steps([make_plan([])], result=result).patch(mp)
        for name, ref, opted_in in [
            ("refused", "refs/heads/main", False),
            ("allowed", "refs/heads/main", True),
            ("other branch", "refs/heads/feature", True),
        ]:
            runs[name] = run_job(
                workspace,
                github_api,
                "workflow_dispatch",
                push_event(),
                ref=ref,
                command="deploy",
                comment=False,
                deploy_on_dispatch=opted_in,
            )
    assert runs["refused"].code == 1 and "deploy-on-dispatch: true" in runs["refused"].stdout
    assert runs["allowed"].code == 0 and runs["allowed"].outputs["status"] == "deployed"
    assert runs["other branch"].code == 1 and "only main deploys" in runs["other branch"].stdout
    assert [c[0] for c in steps.calls] == ["plan", "deploy"]


def test_deploy_refuses_a_checkout_that_is_not_the_pushed_commit(
    workspace: Path, github_api: FakeGitHub
) -> None:
    pushed = head(workspace)
    github_api.branches["main"] = pushed
    (workspace / "infra" / "nami.yaml").write_text(CONFIG.replace("acme", "evil"))
    other = commit_all(workspace)  # a step checked out other code (a PR head)
    with pytest.MonkeyPatch.context() as mp:
        steps = Steps([make_plan([])], result=DeployResult("acme", "us-east-1", [])).patch(mp)
        env_sha = {"GITHUB_SHA": pushed}
        moved = run_job(
            workspace, github_api, "push", push_event(), ref="refs/heads/main", env=env_sha
        )
        subprocess.run(["git", "checkout", "-q", pushed], cwd=workspace, check=True)
        (workspace / "infra" / "consumers" / "github" / "planted.py").write_text("x = 1\n")
        dirty = run_job(
            workspace, github_api, "push", push_event(), ref="refs/heads/main", env=env_sha
        )
    assert moved.code == 1
    assert f"the checkout is at {other[:7]}, not at the commit being deployed" in moved.stdout
    assert dirty.code == 1 and "1 changed or untracked file(s) (infra/consumers" in dirty.stdout
    assert steps.calls == []


def test_main_moving_during_a_deploy_stops_the_next_change(
    workspace: Path, github_api: FakeGitHub
) -> None:
    """The check runs again right before each ExecuteChangeSet (apply's before_change)."""
    sha = head(workspace)
    github_api.branches["main"] = sha
    seen: list[str] = []

    def deploying(aws: Any, run: PlanRun, options: Any, on_event: Any) -> DeployResult:
        options.before_change("github")  # main is still this commit: goes ahead
        github_api.branches["main"] = "f" * 40  # a newer merge lands meanwhile
        try:
            options.before_change("stripe")
        except Exception as exc:
            seen.append(str(exc))
        return DeployResult("acme", "us-east-1", [])

    with pytest.MonkeyPatch.context() as mp:
        Steps([make_plan([])]).patch(mp)
        mp.setattr(deploy_job, "deploy", deploying)
        run_job(workspace, github_api, "push", push_event(), ref="refs/heads/main", comment=False)
    assert seen and "the tip of main is now fffffff" in seen[0]


def test_dependabot_pull_requests_validate_only(workspace: Path, github_api: FakeGitHub) -> None:
    event = pr_event()
    event["pull_request"]["user"] = {"login": "dependabot[bot]"}
    with pytest.MonkeyPatch.context() as mp:
        steps = Steps([make_plan([])]).patch(mp)
        run = run_job(workspace, github_api, "pull_request", event, credentials=False)
    assert run.code == 0 and run.outputs["status"] == "validated-only"
    assert "opened by Dependabot" in run.summary
    assert steps.calls == []


def test_a_pull_request_that_changes_its_own_check_is_flagged(
    workspace: Path, github_api: FakeGitHub
) -> None:
    """The plan comes from the pull request's own workflow: a reviewer is told when that
    workflow, an action.yml or nami's inputs changed, and the footer names the workflow."""
    github_api.pull_files[5] = [".github/workflows/nami.yml", "infra/nami.yaml", "README.md"]
    nothing = make_plan([PipelinePlan("github", "acme-github", "none")])
    env = {
        "GITHUB_WORKFLOW_REF": "acme/webhooks/.github/workflows/nami.yml@refs/pull/5/merge",
        "GITHUB_WORKFLOW_SHA": "b" * 40,
    }
    with pytest.MonkeyPatch.context() as mp:
        Steps([nothing]).patch(mp)
        run = run_job(
            workspace,
            github_api,
            "pull_request",
            pr_event(),
            env=env,
            force=True,
            fail_on="none",
            pipelines="github",
            comment_on_no_changes=False,
        )
    assert run.code == 0
    (comment,) = github_api.comments[5]  # even with comment-on-no-changes off
    body = comment["body"]
    caution = body[body.index("> [!CAUTION]") : body.index("What was planned")]
    assert "changes `.github/workflows/nami.yml`" in caution
    assert "README.md" not in caution and "infra/nami.yaml" not in caution
    assert "`force: true`" in caution and "`fail-on: none`" in caution
    assert "`pipelines: github`" in caution
    assert "workflow `.github/workflows/nami.yml@bbbbbbb`" in body


def test_an_unchanged_workflow_gets_no_caution(workspace: Path, github_api: FakeGitHub) -> None:
    github_api.pull_files[5] = ["infra/nami.yaml", "docs/action.yml.md"]
    with pytest.MonkeyPatch.context() as mp:
        Steps([make_plan([PipelinePlan("github", "acme-github", "none")])]).patch(mp)
        run_job(workspace, github_api, "pull_request", pr_event())
    (comment,) = github_api.comments[5]
    assert "[!CAUTION]" not in comment["body"]
    assert "What was planned: plan" in comment["body"]


def test_a_fake_no_changes_comment_is_replaced_by_the_real_plan(
    workspace: Path, github_api: FakeGitHub
) -> None:
    """A pull request's own workflow can post "No changes" under the marker as
    github-actions[bot]. The run of the protected workflow (ruleset "Require workflows to
    pass before merging") edits that same comment into the real plan, with its digests."""
    fake = "<!-- nami:plan:infra/nami.yaml -->\n### ✅ Nami: No changes\n"
    github_api.add_comment(5, fake, "github-actions[bot]")
    with pytest.MonkeyPatch.context() as mp:
        Steps([replacing_plan()]).patch(mp)
        run = run_job(workspace, github_api, "pull_request", pr_event(), force=True)
    (comment,) = github_api.comments[5]
    assert "No changes" not in comment["body"] and "to update" in comment["body"]
    assert run.outputs["plan-digest"] in comment["body"]
