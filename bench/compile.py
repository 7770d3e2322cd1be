"""Compile a generated config of 1,000 pipelines from scratch: time, pipelines/s, memory.

Target: `nami compile` of 1,000 in under 5 s on this machine, with an empty template cache
(the cached case is bench/plan_compile.py). The in-process figure is the compile step alone,
every pipeline pointing at one code location; the command figure is the whole `nami compile`
(load, validate, package the shared consumer folder, compile, write 1,000 files).
Run: .venv/bin/python bench/compile.py [--pipelines N]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from configs import write_config
from timing import machine, timed, timed_command

from nami_action.compile import CodeLocation, compile_config
from nami_action.config import load_config

TARGET_SECONDS = 5.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pipelines", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = write_config(Path(folder), args.pipelines)
        config = load_config(path)
        code = dict.fromkeys(config.pipelines, CodeLocation("bench-bucket", "nami/artifacts/x.zip"))
        templates, step = timed(lambda: compile_config(config, code, use_cache=False))
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        out = str(Path(folder) / "out")
        command = [sys.executable, "-m", "nami_action", "compile", str(path), "--out", out]
        result, whole = timed_command([*command, "--artifact-bucket", "bench-bucket"])
    assert result.returncode == 0, result.stderr
    size_mib = sum(len(t) for t in templates.values()) / 1024 / 1024
    print(f"compile: {len(templates)} pipelines, empty template cache; {machine()}")
    print(
        f"  compile step in process: {step.wall:.2f} s wall, {step.cpu:.2f} s CPU "
        f"({len(templates) / step.wall:.0f} pipelines/s)"
    )
    print(f"  `nami compile` command:  {whole.show(TARGET_SECONDS)}")
    print(f"  templates: {size_mib:.1f} MiB of JSON; peak RSS of the process: {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
