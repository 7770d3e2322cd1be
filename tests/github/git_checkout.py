"""A workspace as actions/checkout leaves it: a git repository at the commit being run."""

from __future__ import annotations

import subprocess
from pathlib import Path

GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]


def commit_all(root: Path) -> str:
    """Commit everything in `root` (a new repository on main the first time); its SHA."""
    if not (root / ".git").exists():
        subprocess.run([*GIT, "init", "-q", "-b", "main"], cwd=root, check=True)
    subprocess.run([*GIT, "add", "-A"], cwd=root, check=True)
    subprocess.run([*GIT, "commit", "-qm", "c", "--allow-empty"], cwd=root, check=True)
    return head(root)


def head(root: Path) -> str:
    done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True)
    return done.stdout.strip()
