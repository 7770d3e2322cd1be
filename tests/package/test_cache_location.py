"""A dependency cache planted in the checkout is never shipped (the `.nami/cache` attack)."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import pytest

from nami_action.config import load_config
from nami_action.errors import NamiError
from nami_action.package.deps import deps_cache_key
from nami_action.package.pipelines import cache_dir_for, package_config

CONFIG = """\
version: 1
project: acme
pipelines:
  hooks:
    verify: {scheme: none}
    consumer:
      code: consumer
      runtime: python3.12
      architecture: arm64
"""
PLANTED = "MARK = 'nami-planted-canary-7f2'\n"


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A pull request's checkout: six pinned, and six's "installed" copy planted in the cache
    folder under the key anyone can compute from requirements.txt."""
    root = tmp_path / "repo"
    (root / "consumer").mkdir(parents=True)
    (root / "nami.yaml").write_text(CONFIG)
    (root / "consumer" / "handler.py").write_text("def handle(w):\n    pass\n")
    requirements = b"six==1.16.0\n"
    (root / "consumer" / "requirements.txt").write_bytes(requirements)
    key = deps_cache_key(requirements, architecture="arm64", python="3.12")
    planted = root / ".nami" / "cache" / "deps" / key
    planted.mkdir(parents=True)
    (planted / "six.py").write_text(PLANTED)
    (root / ".gitattributes").write_text(".nami/** linguist-generated\n")
    git(root, "init", "-q")
    git(root, "add", "nami.yaml", "consumer", ".gitattributes")
    git(root, "commit", "-qm", "base")
    return root


def shipped_six(config_path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> str:
    for name in ("GITHUB_ACTIONS", "RUNNER_TEMP"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = load_config(config_path)
    (artifact,) = set(package_config(config).values())
    with zipfile.ZipFile(artifact.path) as zf:
        return zf.read("six.py").decode()


def test_a_committed_cache_is_refused(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    git(repo, "add", "-f", ".nami")
    git(repo, "commit", "-qm", "plant")
    for env in ({}, {"GITHUB_ACTIONS": "true", "RUNNER_TEMP": str(repo.parent / "t")}):
        with pytest.raises(NamiError, match=r"1 file\(s\) under repo/\.nami/ are committed"):
            shipped_six(repo / "nami.yaml", env, monkeypatch)


def test_in_github_actions_the_checkout_cache_is_never_read(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not committed but present (a restored cache, a step that wrote it): in Actions the
    cache lives under RUNNER_TEMP, so the real six is installed and shipped."""
    runner_temp = repo.parent / "runner-temp"
    env = {"GITHUB_ACTIONS": "true", "RUNNER_TEMP": str(runner_temp)}
    shipped = shipped_six(repo / "nami.yaml", env, monkeypatch)
    assert "nami-planted-canary-7f2" not in shipped and "Benjamin Peterson" in shipped
    config = load_config(repo / "nami.yaml")
    assert cache_dir_for(config, env).is_relative_to(runner_temp)
    # On a workstation the cache beside nami.yaml is the developer's own, and used.
    assert "nami-planted-canary-7f2" in shipped_six(repo / "nami.yaml", {}, monkeypatch)


def test_without_runner_temp_the_cache_is_private_to_the_process(repo: Path) -> None:
    config = load_config(repo / "nami.yaml")
    folder = cache_dir_for(config, {"GITHUB_ACTIONS": "true"})
    assert not folder.is_relative_to(repo)
    assert folder.parent.stat().st_mode & 0o077 == 0  # mkdtemp: readable by this user only
