"""How long `nami validate` takes on a config of 1,000 pipelines (target: under 1 s).

Also says which YAML parser this installation has: the C one (ruamel.yaml.clib, declared in
pyproject.toml) or ruamel.yaml's pure-Python fallback, about 5x slower.
Run: .venv/bin/python bench/validate.py [--pipelines N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from ruamel.yaml import main as ruamel_main

sys.path.insert(0, str(Path(__file__).resolve().parent))
from configs import write_config
from timing import machine, timed, timed_command

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
        _, in_process = timed(lambda: load_config(path))
        argv = [sys.executable, "-m", "nami_action", "validate", str(path)]
        # The first run after an editable install (make install) also writes nami's bytecode
        # (.pyc); a `pip install` writes it at install time. Both figures are printed.
        first, first_run = timed_command(argv)
        result, command = timed_command(argv)
    assert first.returncode == 0 and result.returncode == 0, result.stderr
    print(f"validate: {args.pipelines} pipelines, {size / 1024:.0f} KiB of YAML; {machine()}")
    print(f"  YAML parser: {yaml_parser()}")
    print(f"  load+validate in process: {in_process.wall:.2f} s wall, {in_process.cpu:.2f} s CPU")
    print(f"  first run, writing bytecode: {first_run.wall:.2f} s wall")
    print(f"  `nami validate` command:  {command.show(TARGET_SECONDS)}")


if __name__ == "__main__":
    main()
