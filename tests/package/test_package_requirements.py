"""requirements.txt is installed with the real pip from PyPI for the Lambda platform, once."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from nami_action.errors import NamiError
from nami_action.package import Architecture, Artifact, build_artifact

FAILING_PIP = ("false",)  # any run of "pip" through this fails, so a pass proves a cache hit


def make_code(root: Path, requirements: str) -> Path:
    root.mkdir(parents=True)
    (root / "app.py").write_text("import six\n")
    (root / "requirements.txt").write_text(requirements)
    return root


def names(artifact: Artifact) -> list[str]:
    with zipfile.ZipFile(artifact.path) as zf:
        return zf.namelist()


def build(code: Path, cache: Path, pip: tuple[str, ...] | None = None) -> Artifact:
    return build_artifact(
        code, architecture="arm64", python="3.12", cache_dir=cache, pip_command=pip
    )


def test_installs_a_wheel_and_caches_it(tmp_path: Path) -> None:
    code = make_code(tmp_path / "code", "six==1.16.0\n")
    cache = tmp_path / "cache"
    first = build(code, cache)
    listed = names(first)
    assert "six.py" in listed
    assert "six-1.16.0.dist-info/RECORD" in listed
    assert "requirements.txt" in listed and "app.py" in listed
    assert not [n for n in listed if "__pycache__" in n or n.endswith(".pyc")]
    assert len(list((cache / "deps").iterdir())) == 1

    second = build(code, cache, pip=FAILING_PIP)  # would raise if pip ran again
    assert second.sha256 == first.sha256
    assert second.path.read_bytes() == first.path.read_bytes()

    # A new requirements.txt is a new cache key: pip has to run, and here it cannot.
    (code / "requirements.txt").write_text("six==1.16.0\n# changed\n")
    with pytest.raises(NamiError, match="pip could not install"):
        build(code, cache, pip=FAILING_PIP)


def test_cache_key_includes_architecture_and_python(tmp_path: Path) -> None:
    code = make_code(tmp_path / "code", "six==1.16.0\n")
    cache = tmp_path / "cache"
    build(code, cache)
    variants: tuple[tuple[Architecture, str], ...] = (("x86_64", "3.12"), ("arm64", "3.13"))
    for arch, python in variants:
        with pytest.raises(NamiError, match="pip could not install"):
            build_artifact(
                code, architecture=arch, python=python, cache_dir=cache, pip_command=FAILING_PIP
            )


def test_install_is_reproducible_across_interpreters_and_machines(tmp_path: Path) -> None:
    """pip writes console scripts with `#!<this interpreter>`: they must not reach the zip.

    The second build runs pip from another interpreter path (a fresh venv) with a fresh cache,
    which is what a different machine or CI runner looks like to pip.
    """
    code = make_code(tmp_path / "code", "six==1.16.0\npyflakes==3.2.0\n")
    first = build(code, tmp_path / "cache1")
    other_venv = tmp_path / "other-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(other_venv)], check=True)
    site = sysconfig.get_paths()["purelib"]
    other_pip = ("env", f"PYTHONPATH={site}", str(other_venv / "bin" / "python"), "-m", "pip")
    second = build(code, tmp_path / "cache2", pip=other_pip)
    assert second.sha256 == first.sha256
    listed = names(first)
    assert "pyflakes/__init__.py" in listed
    assert not [n for n in listed if n.startswith("bin/")]
    with zipfile.ZipFile(first.path) as zf:
        record = zf.read("pyflakes-3.2.0.dist-info/RECORD").decode()
    assert "../../bin/" not in record
    assert "pyflakes/api.py," in record


def test_unknown_package_is_a_clear_error(tmp_path: Path) -> None:
    code = make_code(tmp_path / "code", "nami-no-such-package-for-tests==0.0.1\n")
    with pytest.raises(NamiError) as caught:
        build(code, tmp_path / "cache")
    message = str(caught.value)
    assert "pip could not install" in message
    assert "nami-no-such-package-for-tests" in message
    assert "manylinux2014_aarch64" in message
    assert not (tmp_path / "cache" / "deps").exists() or not [
        p for p in (tmp_path / "cache" / "deps").iterdir()
    ], "a failed install must not leave a cache entry"


def test_comment_only_requirements_do_not_run_pip(tmp_path: Path) -> None:
    code = make_code(tmp_path / "code", "# nothing yet\n\n")
    assert "requirements.txt" in names(build(code, tmp_path / "cache", pip=FAILING_PIP))


def test_dependency_clashing_with_user_code_is_refused(tmp_path: Path) -> None:
    code = make_code(tmp_path / "code", "six==1.16.0\n")
    (code / "six.py").write_text("# my own six\n")
    with pytest.raises(NamiError, match=r"six\.py \(from .* and requirements\.txt packages\)"):
        build(code, tmp_path / "cache")
