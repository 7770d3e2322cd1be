"""The held-out bad inputs of issue 22, timed: each must end quickly in one located error (or
be packaged), with bounded memory.

- `nami validate` of 30,000 `[`: exit 1 with a located message (was SIGSEGV);
- `.namiignore` of 50,000 `*a*a*a*a*a*a*a*b` lines and one 200-character file name (was
  50.6 s), and the bound's worst case: the most distinct patterns allowed, all adversarial,
  against 1,000 long names (target: packaging under 2 s);
- a 1 GiB file in the consumer folder: refused at `consumer.code` (target: under 1 s and
  under 100 MB of memory; was 1,094 MB RSS and exit 0).
Run: .venv/bin/python bench/bad_input.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import Timing, machine, timed

from nami_action.errors import NamiError
from nami_action.package import build_artifact
from nami_action.package.ignore import MAX_IGNORE_PATTERNS

CONFIG = """version: 1
project: acme
artifacts:
  bucket: acme-artifacts
pipelines:
  hooks:
    verify: {scheme: none}
    consumer: {code: code}
"""
ADVERSARIAL = "*a*a*a*a*a*a*a*b"
IGNORE_TARGET = 2.0
BIG_TARGET = 1.0
BIG_RSS_TARGET_MB = 100


def run(command: Sequence[str]) -> tuple[int, str, Timing, float]:
    """Exit code, stderr, times and the peak RSS (MB) of this one child."""
    started = os.times()
    process = subprocess.Popen(list(command), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    assert process.stderr is not None
    stderr = process.stderr.read().decode()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    ended = os.times()
    timing = Timing(ended.elapsed - started.elapsed, usage.ru_utime + usage.ru_stime)
    return process.returncode, stderr, timing, usage.ru_maxrss / 1024


def project(root: Path) -> Path:
    (root / ".git").mkdir(parents=True)
    (root / "nami.yaml").write_text(CONFIG)
    code = root / "code"
    code.mkdir()
    (code / "handler.py").write_text("def handle(webhook):\n    return None\n")
    return code


def package(code: Path, cache: Path) -> tuple[str, Timing]:
    def step() -> str:
        try:
            build_artifact(code, architecture="arm64", python="3.12", cache_dir=cache)
        except NamiError as exc:
            return f"refused: {str(exc)[:110]}..."
        return "packaged"

    return timed(step)


def compile_command(root: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "nami_action",
        "compile",
        str(root / "nami.yaml"),
        "--out",
        str(root / "out"),
        "--no-cache",
    ]


def deep_nesting(folder: Path) -> None:
    for label, nesting in (("30,000 `[`", "[" * 30_000), ("30,000 `- `", "\n" + "- " * 30_000)):
        path = folder / "nami.yaml"
        path.write_text("version: 1\nproject: acme\npipelines: " + nesting + "\n")
        argv = [sys.executable, "-m", "nami_action", "validate", str(path)]
        code, stderr, timing, rss = run(argv)
        print(f"validate, {label}:")
        print(f"  exit {code}: {stderr.splitlines()[0][len(str(folder)) + 1 :]}")
        print(f"  {timing.wall:.2f} s wall, {timing.cpu:.2f} s CPU, {rss:.0f} MB peak RSS")


def ignore_worst_case(folder: Path) -> None:
    print(".namiignore:")
    cases = {
        "50,000 x `*a*a*a*a*a*a*a*b`, one 200-char name": ([ADVERSARIAL] * 50_000, 1),
        f"{MAX_IGNORE_PATTERNS:,} distinct adversarial patterns, 1,000 200-char names": (
            [f"{ADVERSARIAL}{n}" for n in range(MAX_IGNORE_PATTERNS)],
            1000,
        ),
    }
    for index, (label, (lines, files)) in enumerate(cases.items()):
        root = folder / f"ignore{index}"
        code = project(root)
        (code / ".namiignore").write_text("\n".join(lines) + "\n")
        for n in range(files):
            (code / f"{n:04d}".rjust(200, "a")).write_text("x")
        size = (code / ".namiignore").stat().st_size
        outcome, step = package(code, root / "cache")
        status, stderr, command, rss = run(compile_command(root))
        assert status == 0, stderr
        print(f"  {label} ({size / 1024:.0f} KiB): {outcome}")
        print(f"    packaging in process: {step.show(IGNORE_TARGET)}")
        print(f"    `nami compile` command: {command.wall:.2f} s wall, {rss:.0f} MB peak RSS")


def gibibyte_file(folder: Path) -> None:
    root = folder / "big"
    code = project(root)
    with (code / "model.bin").open("wb") as stream:  # written: a sparse file reads as zeros
        chunk = os.urandom(1024 * 1024)
        for _ in range(1024):
            stream.write(chunk)
    outcome, step = package(code, root / "cache")
    status, stderr, command, rss = run(compile_command(root))
    print("a 1 GiB file in the consumer folder:")
    print(f"  packaging in process: {outcome}")
    print(f"    {step.show(BIG_TARGET)}")
    verdict = "OK" if rss < BIG_RSS_TARGET_MB else "OVER TARGET"
    print(
        f"  `nami compile` command: exit {status}, {command.wall:.2f} s wall, "
        f"{command.cpu:.2f} s CPU, {rss:.0f} MB peak RSS (target < {BIG_RSS_TARGET_MB} MB) "
        f"{verdict}"
    )
    assert status == 1 and "nami.yaml:8:" in stderr, stderr


def main() -> None:
    print(machine())
    with tempfile.TemporaryDirectory() as folder:
        deep_nesting(Path(folder))
        ignore_worst_case(Path(folder))
        gibibyte_file(Path(folder))


if __name__ == "__main__":
    main()
