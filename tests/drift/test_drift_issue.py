"""The drift issue against the local GitHub API server: one issue, opened, edited in place,
closed when clean; never someone else's issue; nothing closed when a check failed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from nami_action.cli import cli
from nami_action.drift.model import DriftReport, Finding, PipelineDrift
from nami_action.drift.render import MARKER
from nami_action.github.drift_issue import IssueClient, sync_drift_issue
from tests.github.github_fakes import REPO, TOKEN, FakeGitHub

RETENTION = Finding("Queue", "AWS::SQS::Queue", "MessageRetentionPeriod", "345600", "86400")
CONCURRENCY = Finding(
    "ConsumerEventSource",
    "AWS::Lambda::EventSourceMapping",
    "ScalingConfig.MaximumConcurrency",
    "10",
    "50",
)


def report(*findings: Finding, error: str = "") -> DriftReport:
    return DriftReport(
        "shop", "us-east-1", [PipelineDrift("github", "shop-github", list(findings), 4, error)]
    )


def client(fake: FakeGitHub) -> IssueClient:
    return IssueClient(TOKEN, REPO, fake.url)


def open_issues(fake: FakeGitHub) -> list[dict[str, object]]:
    return [i for i in fake.issues.values() if i["state"] == "open"]


def test_one_issue_opened_updated_then_closed(github_api: FakeGitHub) -> None:
    gh = client(github_api)
    assert sync_drift_issue(gh, report()) == ("clean", None)
    assert github_api.writes() == []

    result, number = sync_drift_issue(gh, report(RETENTION))
    assert result == "created"
    (issue,) = open_issues(github_api)
    assert issue["number"] == number and issue["labels_names"] == ["nami-drift"]
    assert str(issue["body"]).startswith(MARKER) and "345600 -> 86400" in str(issue["body"])

    assert sync_drift_issue(gh, report(RETENTION)) == ("unchanged", number)
    assert sync_drift_issue(gh, report(RETENTION, CONCURRENCY)) == ("updated", number)
    (issue,) = open_issues(github_api)
    assert "10 -> 50" in str(issue["body"])

    assert sync_drift_issue(gh, report(), run_url="https://github.example/run/7") == (
        "closed",
        number,
    )
    assert open_issues(github_api) == []
    assert github_api.issues[number]["state_reason"] == "completed"
    (comment,) = github_api.comments[number]
    assert "No drift any more" in comment["body"] and "run/7" in comment["body"]
    assert sync_drift_issue(gh, report(RETENTION))[0] == "created"  # drift again: a new one


def test_an_issue_someone_else_wrote_with_the_marker_is_left_alone(github_api: FakeGitHub) -> None:
    github_api.issues[5] = {
        "number": 5,
        "title": "fake",
        "body": MARKER + "\nnot ours",
        "state": "open",
        "labels_names": ["nami-drift"],
        "user": {"login": "mallory"},
    }
    github_api.issues[6] = {  # the issues list holds pull requests too
        "number": 6,
        "title": "pr",
        "body": MARKER,
        "state": "open",
        "pull_request": {},
        "labels_names": ["nami-drift"],
        "user": {"login": "github-actions[bot]"},
    }
    result, number = sync_drift_issue(client(github_api), report(RETENTION))
    assert result == "created" and number not in (5, 6)
    assert github_api.issues[5]["body"] == MARKER + "\nnot ours"


def test_a_failed_check_never_closes_the_issue(github_api: FakeGitHub) -> None:
    gh = client(github_api)
    _, number = sync_drift_issue(gh, report(RETENTION))
    assert sync_drift_issue(gh, report(error="access denied")) == ("skipped", None)
    assert github_api.issues[number]["state"] == "open"


def test_server_errors_are_retried(github_api: FakeGitHub) -> None:
    gh = client(github_api)
    gh.sleep = lambda seconds: None  # type: ignore[method-assign]
    github_api.failures = [(502, {}), (503, {})]
    assert sync_drift_issue(gh, report(RETENTION))[0] == "created"


def test_the_cli_reads_the_json_report(
    github_api: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
    monkeypatch.setenv("GITHUB_API_URL", github_api.url)
    monkeypatch.setenv("GITHUB_RUN_ID", "42")
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    path = tmp_path / "drift.json"
    path.write_text(report(RETENTION).to_json())
    result = CliRunner().invoke(cli, ["github", "drift-issue", "--report", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("drift issue: created #")
    (issue,) = open_issues(github_api)
    assert f"https://github.com/{REPO}/actions/runs/42" in str(issue["body"])
    assert "345600 -> 86400" in summary.read_text()

    path.write_text(report(error="boom").to_json())
    failed = CliRunner().invoke(cli, ["github", "drift-issue", "--report", str(path)])
    assert failed.exit_code == 1 and "left as it is" in failed.output
    path.write_text(json.dumps({"nope": 1}))
    bad = CliRunner().invoke(cli, ["github", "drift-issue", "--report", str(path)])
    assert bad.exit_code == 1 and "not a `nami drift --format json` report" in bad.output
