"""Compile a generated config of 1,000 pipelines: pipelines per second and peak memory.

Target: the 1,000 compile in under 10 s on this machine. Packaging is left out (it is cached
per code folder and measured by its own tests); every pipeline points at one code location.
Run: .venv/bin/python bench/compile.py [--pipelines N]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from configs import write_config

from nami_action.compile import CodeLocation, compile_config
from nami_action.config import load_config

TARGET_SECONDS = 10.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pipelines", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        config = load_config(write_config(Path(folder), args.pipelines))
    code = dict.fromkeys(config.pipelines, CodeLocation("bench-bucket", "nami/artifacts/x.zip"))
    started = time.perf_counter()
    templates = compile_config(config, code)
    seconds = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    size_mib = sum(len(t) for t in templates.values()) / 1024 / 1024
    verdict = "OK" if seconds < TARGET_SECONDS else "SLOWER THAN TARGET"
    print(
        f"compile: {len(templates)} pipelines in {seconds:.2f} s "
        f"({len(templates) / seconds:.0f} pipelines/s; target < {TARGET_SECONDS:.0f} s) {verdict}"
    )
    print(f"  templates: {size_mib:.1f} MiB of JSON; peak RSS of the process: {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
