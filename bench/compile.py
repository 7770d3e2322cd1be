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
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from configs import write_config

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
        started = time.perf_counter()
        templates = compile_config(config, code, use_cache=False)
        seconds = time.perf_counter() - started
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        started = time.perf_counter()
        command = [sys.executable, "-m", "nami_action", "compile", str(path)]
        result = subprocess.run(
            [*command, "--out", str(Path(folder) / "out"), "--artifact-bucket", "bench-bucket"],
            capture_output=True,
            text=True,
            check=False,
        )
        whole_command = time.perf_counter() - started
    assert result.returncode == 0, result.stderr
    size_mib = sum(len(t) for t in templates.values()) / 1024 / 1024
    verdict = "OK" if whole_command < TARGET_SECONDS else "SLOWER THAN TARGET"
    print(f"compile: {len(templates)} pipelines, empty template cache")
    print(
        f"  compile step in process: {seconds:.2f} s ({len(templates) / seconds:.0f} pipelines/s)"
    )
    print(
        f"  `nami compile` command:  {whole_command:.2f} s (target < {TARGET_SECONDS:.0f} s) "
        f"{verdict}"
    )
    print(f"  templates: {size_mib:.1f} MiB of JSON; peak RSS of the process: {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
