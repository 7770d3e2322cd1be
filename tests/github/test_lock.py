"""requirements/action.lock: what action.yml installs, with --require-hashes."""

from __future__ import annotations

import re
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from .action_runner import ACTION_PATH

LOCK = ACTION_PATH / "requirements" / "action.lock"
PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)")


def pins() -> dict[str, tuple[str, list[str], list[str]]]:
    """name -> (version, hashes, what it is required by), read from the lock file."""
    found: dict[str, tuple[str, list[str], list[str]]] = {}
    current = ""
    for line in LOCK.read_text().splitlines():
        if match := PIN.match(line):
            current = canonicalize_name(match.group(1))
            found[current] = (match.group(2), [], [])
        elif "--hash=sha256:" in line:
            found[current][1].append(line.split("--hash=sha256:")[1].rstrip(" \\"))
        elif (via := line.strip().removeprefix("#").strip()) and current:
            via = via.removeprefix("via").strip()
            if via:
                found[current][2].append(via)
    return found


def declared() -> dict[str, Requirement]:
    project = tomllib.loads((ACTION_PATH / "pyproject.toml").read_text())["project"]
    requirements = [Requirement(text) for text in project["dependencies"]]
    return {canonicalize_name(r.name): r for r in requirements}


def test_lock_covers_exactly_the_declared_dependencies() -> None:
    locked = pins()
    direct = {name for name, (_, _, via) in locked.items() if "nami-action (pyproject.toml)" in via}
    assert direct == set(declared()), "run `make lock` after changing pyproject's dependencies"
    for name, requirement in declared().items():
        version = locked[name][0]
        assert requirement.specifier.contains(version, prereleases=True), (name, version)


def test_every_pin_has_hashes_and_is_needed() -> None:
    for name, (version, hashes, via) in pins().items():
        assert hashes and all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes), name
        assert via, f"{name}=={version} is required by nothing"
        assert "==" not in version and version[0].isdigit(), (name, version)
