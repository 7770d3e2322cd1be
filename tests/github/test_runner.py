"""The runner's files and workflow commands, as GitHub's runner reads them."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from nami_action.github import runner


def parse_output_file(text: str) -> dict[str, str]:
    """Read GITHUB_OUTPUT the way the runner does: `name=value` or `name<<DELIM` heredocs."""
    outputs: dict[str, str] = {}
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line:
            i += 1
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            end = lines.index(delimiter, i + 1)
            outputs[name] = "\n".join(lines[i + 1 : end])
            i = end + 1
        else:
            name, value = line.split("=", 1)
            outputs[name] = value
            i += 1
    return outputs


def test_outputs_survive_any_value(tmp_path: Path) -> None:
    out = tmp_path / "output"
    tricky = 'line one\nname<<EOF\nEOF\nghadelimiter_x\n{"a": "b=c"}\n'
    runner.set_output("plan", "/tmp/plan.json", str(out))
    runner.set_output("tricky", tricky, str(out))
    runner.set_output("empty", "", str(out))
    runner.set_output("endpoints", json.dumps({"a": "https://x?y=1"}), str(out))
    parsed = parse_output_file(out.read_text())
    assert parsed == {
        "plan": "/tmp/plan.json",
        "tricky": tricky,
        "empty": "",
        "endpoints": '{"a": "https://x?y=1"}',
    }
    assert re.search(r"^plan<<ghadelimiter_[0-9a-f-]{36}$", out.read_text(), re.M)


def test_no_output_file_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    runner.set_output("x", "y")
    runner.append_summary("# hi")


def test_summary_appends(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    runner.append_summary("# one", str(summary))
    runner.append_summary("two\n", str(summary))
    assert summary.read_text() == "# one\ntwo\n"


def test_annotation_escaping() -> None:
    command = runner.annotation(
        "error",
        "50% of\r\nthe keys: a, b",
        file="infra/na,mi:x.yaml",
        line=12,
        column=5,
        title="nami: bad",
    )
    assert command == (
        "::error title=nami%3A bad,file=infra/na%2Cmi%3Ax.yaml,line=12,col=5"
        "::50%25 of%0D%0Athe keys: a, b"
    )
    assert "\n" not in command


def test_annotation_without_properties() -> None:
    assert runner.annotation("notice", "hello") == "::notice::hello"


def test_emit_writes_one_line() -> None:
    stream = io.StringIO()
    runner.emit(runner.annotation("warning", "a\nb"), stream)
    assert stream.getvalue() == "::warning::a%0Ab\n"


def test_context_from_env(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(
        json.dumps(
            {
                "number": 7,
                "pull_request": {
                    "number": 7,
                    "head": {"sha": "h" * 40, "repo": {"full_name": "someone/webhooks"}},
                    "base": {"repo": {"full_name": "acme/webhooks"}},
                },
                "repository": {"default_branch": "main"},
            }
        )
    )
    ctx = runner.RunnerContext.from_env(
        {
            "GITHUB_EVENT_NAME": "pull_request",
            "GITHUB_EVENT_PATH": str(event),
            "GITHUB_REPOSITORY": "acme/webhooks",
            "GITHUB_SHA": "m" * 40,
            "GITHUB_SERVER_URL": "https://github.example/",
            "GITHUB_RUN_ID": "99",
        }
    )
    assert ctx.pull_number == 7
    assert ctx.is_fork
    assert ctx.head_sha == "h" * 40
    assert ctx.default_branch == "main"
    assert ctx.run_url == "https://github.example/acme/webhooks/actions/runs/99"
    assert ctx.api_url == "https://api.github.com"


def test_same_repository_pull_request_is_not_a_fork() -> None:
    same = {"full_name": "acme/webhooks"}
    ctx = runner.RunnerContext(
        event={"pull_request": {"number": 1, "head": {"repo": same}, "base": {"repo": same}}},
        repository="acme/webhooks",
    )
    assert not ctx.is_fork


def test_deleted_fork_counts_as_a_fork() -> None:
    ctx = runner.RunnerContext(
        event={"pull_request": {"number": 1, "head": {"repo": None}}},
        repository="acme/webhooks",
    )
    assert ctx.is_fork


def test_bad_event_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "event.json"
    bad.write_text("{")
    with pytest.raises(runner.NamiError, match="GITHUB_EVENT_PATH"):
        runner.read_event(str(bad))


def test_workflow_file_and_merge_queue_commit() -> None:
    ctx = runner.RunnerContext(
        event={"merge_group": {"head_sha": "q" * 40}},
        sha="m" * 40,
        workflow_ref="acme/webhooks/.github/workflows/nami.yml@refs/heads/main",
    )
    assert ctx.workflow_file == "nami.yml"
    assert ctx.head_sha == "q" * 40
    assert runner.RunnerContext(workflow_ref="").workflow_file == ""
