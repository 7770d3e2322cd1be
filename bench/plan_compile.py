"""The compile part of `nami plan` on 1,000 pipelines with one changed (target: under 1 s).

Compiles once to fill the template cache (.nami/cache/templates beside nami.yaml), changes one
pipeline's memory, then times what plan, compile and deploy all run: load + validate, then the
compile step, which re-renders only the changed pipeline and reads the other 999 from the cache.
Run: .venv/bin/python bench/plan_compile.py [--pipelines N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from configs import write_config

from nami_action.compile import CodeLocation, compile_config
from nami_action.config import load_config

TARGET_SECONDS = 1.0
CODE = CodeLocation("bench-bucket", "nami/artifacts/x.zip")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pipelines", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = write_config(Path(folder), args.pipelines)
        config = load_config(path)
        before = compile_config(config, dict.fromkeys(config.pipelines, CODE))
        text = path.read_text()
        path.write_text(text.replace("memory: 128", "memory: 10240", 1))
        started = time.perf_counter()
        config = load_config(path)
        loaded = time.perf_counter()
        after = compile_config(config, dict.fromkeys(config.pipelines, CODE))
        compiled = time.perf_counter()
    changed = [stack for stack, template in after.items() if before[stack] != template]
    assert len(changed) == 1, changed
    seconds = compiled - loaded
    verdict = "OK" if seconds < TARGET_SECONDS else "SLOWER THAN TARGET"
    print(f"plan compile: {len(after)} pipelines, one changed ({changed[0]}), warm cache")
    print(f"  load+validate: {loaded - started:.2f} s")
    print(f"  compile step:  {seconds:.2f} s (target < {TARGET_SECONDS:.0f} s) {verdict}")


if __name__ == "__main__":
    main()
