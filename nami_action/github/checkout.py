"""What the checkout holds, asked of git: the event says which commit should be deployed, the
files on disk are what would be. A deploy goes ahead only when they are the same commit."""

from __future__ import annotations

import subprocess
from pathlib import Path

from nami_action.errors import NamiError, printable

SHOWN_PATHS = 5


def _git(folder: Path, *args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=folder, capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise NamiError(f"cannot run git in {folder}: {exc}") from exc
    if done.returncode != 0:
        reason = printable(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "")
        raise NamiError(f"git {args[0]} failed in {folder}: {reason or f'exit {done.returncode}'}")
    return done.stdout


def head_commit(folder: Path) -> str:
    """The commit checked out in `folder` (`git rev-parse HEAD`)."""
    return _git(folder, "rev-parse", "--verify", "HEAD").strip()


def changed_paths(folder: Path) -> list[str]:
    """Files that differ from HEAD: modified, staged, deleted or untracked (not ignored)."""
    out = _git(folder, "status", "--porcelain=v1", "-z", "--untracked-files=all")
    return [entry[3:] for entry in out.split("\0") if len(entry) > 3]


def require_commit(folder: Path, sha: str) -> None:
    """A NamiError unless `folder` is a clean checkout of exactly `sha`."""
    head = head_commit(folder)
    if head != sha:
        raise NamiError(
            f"the checkout is at {head[:7]}, not at the commit being deployed ({sha[:7]}, "
            "GITHUB_SHA): a step checked out other code. A deploy runs the files of the "
            "commit that was pushed, nothing else."
        )
    changed = changed_paths(folder)
    if changed:
        shown = ", ".join(printable(p) for p in changed[:SHOWN_PATHS])
        more = f" and {len(changed) - SHOWN_PATHS} more" if len(changed) > SHOWN_PATHS else ""
        raise NamiError(
            f"the checkout of {sha[:7]} has {len(changed)} changed or untracked file(s) "
            f"({shown}{more}): a deploy runs exactly the committed files. Keep build outputs "
            "out of the checkout or in .gitignore."
        )
