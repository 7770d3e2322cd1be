"""requirements/*.lock: the hashed locks `make install` and action.yml install.

A lock that no longer matches pyproject.toml (a dependency added, removed, or its range moved
past the pin) fails here; `make lock` regenerates all three.
"""

from __future__ import annotations

import re
import sysconfig
import tomllib
from dataclasses import dataclass, field
from importlib.metadata import distributions
from pathlib import Path

import pytest
from packaging.markers import Marker, default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "requirements"
PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)")
PYPROJECT = "nami-action (pyproject.toml)"


@dataclass
class Pin:
    """One `name==version` line of a lock with its marker, hashes and what requires it. A
    package may be pinned twice, to different versions for different Pythons (networkx)."""

    name: str
    version: str
    marker: str
    hashes: list[str] = field(default_factory=list)
    via: list[str] = field(default_factory=list)


def pins(lock: str) -> list[Pin]:
    found: list[Pin] = []
    for line in (REQUIREMENTS / lock).read_text().splitlines():
        if match := PIN.match(line):
            marker = line.partition(";")[2].rstrip(" \\").strip()
            found.append(Pin(canonicalize_name(match.group(1)), match.group(2), marker))
        elif "--hash=sha256:" in line:
            found[-1].hashes.append(line.split("--hash=sha256:")[1].rstrip(" \\"))
        elif (via := line.strip().removeprefix("#").strip()) and found:
            via = via.removeprefix("via").strip()
            if via:
                found[-1].via.append(via)
    return found


def project() -> dict[str, object]:
    return dict(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"])


def requirements_of(texts: list[str]) -> dict[str, Requirement]:
    requirements = [Requirement(text) for text in texts]
    return {canonicalize_name(r.name): r for r in requirements}


def in_file(name: str) -> list[str]:
    lines = (REQUIREMENTS / name).read_text().splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def roots(lock: str) -> dict[str, list[str]]:
    """The requirements each lock is compiled from, keyed by the `via` uv writes for them."""
    meta = project()
    dependencies = list(meta["dependencies"])  # type: ignore[call-overload]
    extras = meta["optional-dependencies"]
    test_extras = list(extras["test"]) + list(extras["docs"])  # type: ignore[index]
    return {
        "action.lock": {PYPROJECT: dependencies},
        "test.lock": {
            PYPROJECT: dependencies + test_extras,
            "-r requirements/test.in": in_file("test.in"),
        },
        "uv.lock": {"-r requirements/uv.in": in_file("uv.in")},
    }[lock]


LOCKS = ["action.lock", "test.lock", "uv.lock"]


@pytest.mark.parametrize("lock", LOCKS)
def test_lock_covers_exactly_its_declared_requirements(lock: str) -> None:
    locked = pins(lock)
    for via, texts in roots(lock).items():
        declared = requirements_of(texts)
        direct = {pin.name for pin in locked if via in pin.via}
        assert direct == set(declared), f"{lock} is stale for {via}: run `make lock`"
        for pin in locked:
            if pin.name in declared:
                assert declared[pin.name].specifier.contains(pin.version, prereleases=True), (
                    f"{lock}: {pin.name}=={pin.version} is outside {declared[pin.name]}: "
                    "run `make lock`"
                )


@pytest.mark.parametrize("lock", LOCKS)
def test_every_pin_has_hashes_and_is_needed(lock: str) -> None:
    for pin in pins(lock):
        assert pin.hashes and all(re.fullmatch(r"[0-9a-f]{64}", h) for h in pin.hashes), pin
        assert pin.via, f"{pin.name}=={pin.version} is required by nothing"
        assert "==" not in pin.version and pin.version[0].isdigit(), pin


def test_the_test_environment_is_the_lock() -> None:
    """What `make install` put into this interpreter is exactly test.lock (plus the installer
    and the project itself): nothing floated, nothing extra."""
    environment = default_environment()
    wanted = {
        pin.name: pin.version
        for pin in pins("test.lock")
        if not pin.marker or Marker(pin.marker).evaluate(environment)
    }
    # Only what is installed: pkg_resources (imported by parliament) puts setuptools' vendored
    # packages on sys.path, which plain distributions() would count.
    where = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    installed = {
        canonicalize_name(d.metadata["Name"]): d.version for d in distributions(path=where)
    }
    extra = set(installed) - set(wanted) - {"pip", "uv", "nami-action"}
    assert not extra, f"installed but not in test.lock: {sorted(extra)}"
    assert {n: installed.get(n) for n in wanted} == wanted


def test_the_suite_runs_the_versions_the_action_ships() -> None:
    tested = {(pin.name, pin.marker): pin.version for pin in pins("test.lock")}
    for pin in pins("action.lock"):
        assert tested.get((pin.name, pin.marker)) == pin.version, f"{pin.name}: run `make lock`"
