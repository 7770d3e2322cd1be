"""`make dev` (examples/dev.py) as a newcomer uses it: the emulator with the examples deployed
and `nami dev` keep running; what it prints is enough to send a signed webhook and to read
the emulator's stacks from another shell; SIGTERM (as Ctrl-C) stops both."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.emulator


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_make_dev_keeps_the_examples_running_until_stopped(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    dev_port = free_port()
    env = {
        **os.environ,
        "NAMI_EMULATOR_PORT": str(free_port()),
        "NAMI_DEV_PORT": str(dev_port),
        "NAMI_DEV_EXAMPLES": str(tmp_path / "examples"),
        "PYTHONUNBUFFERED": "1",
    }
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "examples" / "dev.py")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(iter(process.stdout.readline, "")))  # type: ignore[union-attr]
    reader.start()
    try:
        ready = _wait_for(output, "nami dev: listening on", timeout=600)
        assert ready, "".join(output)[-3000:]
        printed = "".join(output)
        exports = dict(re.findall(r"^\s+(NAMI_\w+|AWS_\w+)=(\S+)", printed, re.MULTILINE))
        assert {"NAMI_ENDPOINT_URL", "NAMI_DEV_SECRET_GITHUB", "AWS_DEFAULT_REGION"} <= set(exports)
        assert f"--url http://127.0.0.1:{dev_port}\n" in printed
        shell = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "NAMI_"))}
        shell.update(exports)
        body = tmp_path / "ping.json"
        body.write_text('{"zen": "Design for failure."}')
        nami = [sys.executable, "-m", "nami_action"]
        cwd = tmp_path / "examples"
        base = f"http://127.0.0.1:{dev_port}"
        for pipeline in ("github", "stripe", "slack"):
            sent = subprocess.run(
                [*nami, "send", pipeline, "--body", str(body), "--sign", "--url", base],
                cwd=cwd,
                env=shell,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert sent.returncode == 0, sent.stdout + sent.stderr
            assert sent.stdout.startswith(("HTTP 202", "HTTP 200")), sent.stdout
        status = subprocess.run(
            [*nami, "status", "nami.yaml"],
            cwd=cwd,
            env=shell,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert status.returncode == 0, status.stdout + status.stderr
        assert "github" in status.stdout and "slack" in status.stdout
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=120)
        reader.join(timeout=10)
    assert code == 0, "".join(output)[-3000:]
    assert "make dev: nami dev and the emulator stopped" in "".join(output)


def _wait_for(output: list[str], text: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(text in line for line in output):
            return True
        time.sleep(0.2)
    return False
