"""How long `nami validate` takes on a config of 1,000 pipelines (target: under 1 s).

Also says which YAML parser this installation has: the C one (ruamel.yaml.clib, declared in
pyproject.toml) or ruamel.yaml's pure-Python fallback, about 5x slower.
Run: .venv/bin/python bench/validate.py [--pipelines N]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ruamel.yaml import main as ruamel_main

sys.path.insert(0, str(Path(__file__).resolve().parent))
from configs import write_config

from nami_action.config import load_config

TARGET_SECONDS = 1.0


def yaml_parser() -> str:
    if getattr(ruamel_main, "CParser", None) is None:
        return "pure Python (ruamel.yaml.clib is missing: expect about 5x slower)"
    return "C (ruamel.yaml.clib)"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pipelines", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = write_config(Path(folder), args.pipelines)
        size = path.stat().st_size
        started = time.perf_counter()
        load_config(path)
        in_process = time.perf_counter() - started
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "nami_action", "validate", str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        whole_command = time.perf_counter() - started
    assert result.returncode == 0, result.stderr
    verdict = "OK" if whole_command < TARGET_SECONDS else "SLOWER THAN TARGET"
    print(f"validate: {args.pipelines} pipelines, {size / 1024:.0f} KiB of YAML")
    print(f"  YAML parser: {yaml_parser()}")
    print(f"  load+validate in process: {in_process:.2f} s")
    print(
        f"  `nami validate` command:  {whole_command:.2f} s (target < {TARGET_SECONDS:.0f} s) "
        f"{verdict}"
    )


if __name__ == "__main__":
    main()
