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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from configs import write_config
from timing import machine, timed

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
        path.write_text(path.read_text().replace("memory: 128", "memory: 10240", 1))
        config, load = timed(lambda: load_config(path))
        after, step = timed(lambda: compile_config(config, dict.fromkeys(config.pipelines, CODE)))
    changed = [stack for stack, template in after.items() if before[stack] != template]
    assert len(changed) == 1, changed
    print(f"plan compile: {len(after)} pipelines, one changed ({changed[0]}); {machine()}")
    print(f"  load+validate: {load.wall:.2f} s wall, {load.cpu:.2f} s CPU")
    print(f"  compile step:  {step.show(TARGET_SECONDS)}")


if __name__ == "__main__":
    main()
