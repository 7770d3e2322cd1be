"""Install a consumer's requirements.txt for the Lambda platform, once per content hash.

pip runs with `--platform manylinux2014_<arch> --only-binary=:all:` so the wheels match the
Lambda machine, not the one running nami. The installed tree is cached under
`<cache_dir>/deps/<key>` where the key hashes requirements.txt, the architecture and the
Python version; a later build with the same key does not run pip at all.

pip's output is made reproducible before it is cached: the console scripts pip writes to
`bin/` start with `#!<absolute path of this interpreter>` (and their hashes are listed in
RECORD), and `direct_url.json` records the absolute path of local requirements. Both depend on
the build machine and are useless in a Lambda, so they are removed together with their RECORD
rows. The rest (RECORD, INSTALLER, REQUESTED, METADATA, WHEEL) is stable across runs.

requirements.txt is untrusted input (a pull request can change it), so pip never gets more
than it needs: the file is checked first (names and versions only, see
config/requirements.py), pip runs isolated from its configuration and environment variables
(`--isolated`, Python's `-I`), in an empty folder rather than the code folder (a `pip.py`
there would be imported), with an allow-listed environment: no AWS_*, GITHUB_TOKEN,
ACTIONS_* or INPUT_* reaches it, whatever the job holds.
"""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from nami_action.config.requirements import requirements_problems
from nami_action.package.archive import PackageError

CACHE_FORMAT = "nami-deps-v1"
PIP_PLATFORMS = {"x86_64": "manylinux2014_x86_64", "arm64": "manylinux2014_aarch64"}
STDERR_TAIL_LINES = 15
# What pip may see of the environment: finding programs and the network (proxies, the
# machine's CA bundle), a home and a temp folder; nothing that can hold a credential.
PIP_ENV_ALLOWED = (
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TMPDIR",
    "TEMP",
    "TMP",
    "SYSTEMROOT",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
)


def default_pip_command() -> tuple[str, ...]:
    # -I: no PYTHON* variables, no user site, and the working folder is not on sys.path.
    return (sys.executable, "-I", "-m", "pip")


def pip_environment(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The allow-listed environment pip runs with (see PIP_ENV_ALLOWED)."""
    source = os.environ if env is None else env
    kept = {name: source[name] for name in PIP_ENV_ALLOWED if name in source}
    return {**kept, "PYTHONDONTWRITEBYTECODE": "1"}


def check_requirements_file(requirements: Path) -> None:
    """Refuse a requirements.txt that is more than a list of packages (before pip sees it)."""
    problems = requirements_problems(requirements)
    if problems:
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise PackageError(
            f"{requirements.name}:{first.line}:{first.column}: {first.message}{more}"
        )


def deps_cache_key(requirements: bytes, *, architecture: str, python: str) -> str:
    digest = hashlib.sha256()
    for part in (CACHE_FORMAT.encode(), architecture.encode(), python.encode(), requirements):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def has_requirements(text: str) -> bool:
    """False for a requirements.txt with nothing but blank lines and comments."""
    return any(line.split("#", 1)[0].strip() for line in text.splitlines())


def install_requirements(
    requirements: Path,
    *,
    architecture: str,
    python: str,
    cache_dir: Path,
    pip_command: Sequence[str] | None = None,
) -> Path:
    """The folder holding the installed requirements (cached; pip runs only on a miss)."""
    check_requirements_file(requirements)
    key = deps_cache_key(requirements.read_bytes(), architecture=architecture, python=python)
    deps_root = cache_dir / "deps"
    target = deps_root / key
    if target.is_dir():
        return target  # only ever created by the atomic rename below, so it is complete
    deps_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{key[:12]}-", dir=deps_root))
    try:
        _run_pip(
            requirements,
            staging,
            architecture=architecture,
            python=python,
            pip_command=tuple(pip_command or default_pip_command()),
        )
        normalize_installed_tree(staging)
        try:
            staging.rename(target)
        except OSError:
            if not target.is_dir():  # lost a race with a parallel build: theirs is as good
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _run_pip(
    requirements: Path,
    target: Path,
    *,
    architecture: str,
    python: str,
    pip_command: tuple[str, ...],
) -> None:
    command = [
        *pip_command,
        "install",
        "--target",
        str(target),
        "--platform",
        PIP_PLATFORMS[architecture],
        "--implementation",
        "cp",
        "--python-version",
        python,
        "--only-binary=:all:",
        "--isolated",
        "--no-compile",
        "--no-input",
        "--disable-pip-version-check",
        "--no-warn-script-location",
        "-r",
        str(requirements),
    ]
    try:
        # cwd = the empty target: nothing of the consumer's folder is importable by pip.
        result = subprocess.run(
            command,
            cwd=target,
            env=pip_environment(),
            capture_output=True,
            text=True,
            errors="replace",
            check=False,
        )
    except OSError as exc:
        raise PackageError(f"cannot run pip ({' '.join(pip_command)}): {exc}") from exc
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        tail = "\n".join(lines[-STDERR_TAIL_LINES:]) or result.stdout.strip()[-2000:]
        raise PackageError(
            f"pip could not install {requirements} for Lambda (python {python}, {architecture}; "
            f"only binary wheels for {PIP_PLATFORMS[architecture]} are accepted):\n{tail}"
        )


def normalize_installed_tree(target: Path) -> None:
    """Drop what pip writes that depends on the build machine (see the module docstring)."""
    for record in sorted(target.glob("*.dist-info/RECORD")):
        dist_info = record.parent
        dropped: set[str] = set()
        direct_url = dist_info / "direct_url.json"
        if direct_url.is_file():
            direct_url.unlink()
            dropped.add(f"{dist_info.name}/direct_url.json")
        kept: list[str] = []
        for line in record.read_bytes().decode("utf-8").splitlines(keepends=True):
            row = next(csv.reader([line]), [])
            path = row[0] if row else ""
            if path.startswith("../../bin/"):
                script = target / "bin" / path.removeprefix("../../bin/")
                if script.is_file() or script.is_symlink():
                    script.unlink()
                continue
            if path in dropped:
                continue
            kept.append(line)
        record.write_bytes("".join(kept).encode("utf-8"))
    bin_dir = target / "bin"
    if bin_dir.is_dir() and not any(bin_dir.iterdir()):
        bin_dir.rmdir()
