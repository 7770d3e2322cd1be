"""Helpers and fixtures for `nami dev` tests: a project on disk, the app in-process or as a
subprocess, and small HTTP helpers. Everything is real: HTTP on 127.0.0.1, SQLite, and the
consumer runtime."""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from nami_action.config import load_config
from nami_action.dev.app import DevApp, DevOptions

# A handler that records every call (one line per call, O_APPEND) and the most calls that were
# running at once; FAIL in a body raises, SLEEP in a body sleeps that many seconds.
RECORDING_HANDLER = """
import json, os, threading, time

_LOCK = threading.Lock()
_RUNNING = 0
_PEAK = 0
SEEN = {seen!r}
PEAK = {peak!r}


def handle(webhook):
    global _RUNNING, _PEAK
    with _LOCK:
        _RUNNING += 1
        if _RUNNING > _PEAK:
            _PEAK = _RUNNING
            with open(PEAK, "w") as f:
                f.write(str(_PEAK))
    try:
        data = webhook.json()
        with open(SEEN, "a") as f:
            f.write(json.dumps({{"n": data.get("n"), "id": webhook.id,
                                 "count": webhook.receive_count}}) + "\\n")
        time.sleep(data.get("sleep", {sleep}))
        if data.get("fail"):
            raise RuntimeError("asked to fail")
    finally:
        with _LOCK:
            _RUNNING -= 1
"""


@dataclass
class Project:
    config: Path
    data: Path
    seen: Path
    peak: Path

    def calls(self) -> list[dict[str, Any]]:
        if not self.seen.exists():
            return []
        return [json.loads(line) for line in self.seen.read_text().splitlines() if line]

    def numbers(self) -> list[int]:
        return [call["n"] for call in self.calls()]

    def peak_concurrency(self) -> int:
        return int(self.peak.read_text() or 0)


@pytest.fixture
def make_project(tmp_path: Path) -> Callable[..., Project]:
    """Write nami.yaml (pipelines given as YAML text) and a recording handler module."""

    def make(pipelines: str, *, sleep: float = 0.0) -> Project:
        module = f"handler_{uuid.uuid4().hex[:8]}"
        code = tmp_path / "consumer"
        code.mkdir(exist_ok=True)
        seen, peak = tmp_path / "seen.jsonl", tmp_path / "peak.txt"
        peak.write_text("0")
        source = RECORDING_HANDLER.format(seen=str(seen), peak=str(peak), sleep=sleep)
        (code / f"{module}.py").write_text(source)
        body = textwrap.indent(textwrap.dedent(pipelines), "  ")
        body = body.replace("HANDLER", f"{module}.handle")
        config = tmp_path / "nami.yaml"
        config.write_text(f"version: 1\nproject: devtest\npipelines:\n{body}")
        return Project(config, tmp_path / "data", seen, peak)

    return make


@pytest.fixture
def start_app() -> Iterator[Callable[..., DevApp]]:
    """Start DevApp in this process on a free port; stopped at the end of the test."""
    apps: list[DevApp] = []

    def start(project: Project, **options: Any) -> DevApp:
        app = DevApp(
            load_config(project.config),
            DevOptions(port=0, data_dir=project.data, env={}, **options),
            out=open(os.devnull, "w"),  # noqa: SIM115 - closed with the process
        )
        app.start()
        apps.append(app)
        return app

    yield start
    for app in apps:
        app.stop()


def post(
    url: str,
    path: str,
    body: bytes | str,
    headers: dict[str, str] | None = None,
    method: str = "POST",
) -> tuple[int, dict[str, Any]]:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request(method, path, body, {"Content-Type": "application/json", **(headers or {})})
        response = conn.getresponse()
        data = response.read()
        return response.status, json.loads(data) if data else {}
    finally:
        conn.close()


def wait_for(check: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


class DevProcess:
    """`python -m nami_action.cli.dev` as a subprocess; its output collected in a thread."""

    def __init__(self, project: Project, *args: str) -> None:
        command = [sys.executable, "-m", "nami_action", "dev", str(project.config)]
        self.process = subprocess.Popen(
            [*command, "--port", "0", "--data", str(project.data), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("NAMI_DEV_SECRET_")},
        )
        self.lines: list[str] = []
        self._url = threading.Event()
        self.url = ""
        threading.Thread(target=self._read, daemon=True).start()
        if not self._url.wait(30):
            self.process.kill()
            raise AssertionError("nami dev did not start:\n" + "".join(self.lines))

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            found = re.search(r"listening on (http://\S+)", line)
            if found and not self.url:
                self.url = found.group(1)
                self._url.set()

    def output(self) -> str:
        return "".join(self.lines)


@pytest.fixture
def dev_process() -> Iterator[Callable[..., DevProcess]]:
    started: list[DevProcess] = []

    def start(project: Project, *args: str) -> DevProcess:
        process = DevProcess(project, *args)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.process.poll() is None:
            process.process.kill()
        process.process.wait(10)
