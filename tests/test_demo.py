"""`make demo` end to end (examples/demo.py on its own emulator), read as a newcomer reads it:
it must succeed and tell no lies, so every warning it prints must be one this list expects."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

DEMO = Path(__file__).resolve().parents[1] / "examples" / "demo.py"
# Warnings the demo is meant to show (none today). A warning that is not here is a lie the
# emulator tells (e.g. the logging role CloudFormation's AWS::ApiGateway::Account never set
# on moto) or a regression.
EXPECTED: tuple[str, ...] = ()
WARNING = re.compile(r"warning:|Warning\b", re.IGNORECASE)


def test_demo_runs_end_to_end_without_unexpected_warnings() -> None:
    done = subprocess.run(
        [sys.executable, str(DEMO)], capture_output=True, text=True, timeout=600, check=False
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    unexpected = [
        line
        for line in output.splitlines()
        if WARNING.search(line) and not any(text in line for text in EXPECTED)
    ]
    assert not unexpected, "\n".join(unexpected)
    for command in ("bootstrap", "plan", "deploy", "status"):
        assert f"$ nami {command}" in output
    assert "API Gateway logging role: arn:aws:iam::" in output
