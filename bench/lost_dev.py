"""Nothing acknowledged is lost by `nami dev`, across kill -9 and restart: the closing figures.

    .venv/bin/python bench/lost_dev.py [--rounds 3] [--per-round 1500]

Two pipelines: `orders` (no signature; every 50th webhook makes the handler raise, so after
2 attempts it is a dead letter) and `signed` (GitHub signatures; every 7th is forged, so it is
rejected into the dead letters). Eight clients send to both; `nami dev` is killed with
SIGKILL mid-burst `--rounds` times and started again each time. At the end every webhook
answered 202 must be handled (the handler's own record) or a dead letter (read with
`nami dlq export --dev`): lost = acknowledged - handled - dead-lettered, and must be 0.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import http.client
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

SECRET = "bench-secret"
CONFIG = """version: 1
project: lost
pipelines:
  orders:
    verify: {scheme: none}
    queue: {max_receive_count: 2}
    consumer:
      code: consumer
      max_concurrency: 3
      retry: {backoff: fixed, initial: 1s}
  signed:
    verify: {scheme: github, secret: "ssm:/lost/github"}
    consumer: {code: consumer, max_concurrency: 3}
"""
HANDLER = """import json, os, threading

_LOCK = threading.Lock()
_OUT = open(os.environ["LOST_SEEN"], "a", buffering=1)


def handle(webhook):
    data = webhook.json()
    if data.get("fail"):
        raise RuntimeError("this one always fails")
    with _LOCK:
        _OUT.write(str(data["n"]) + "\\n")
"""


def body(n: int) -> bytes:
    return json.dumps({"n": n, "fail": n % 50 == 0}).encode()


def headers(path: str, n: int, payload: bytes) -> dict[str, str]:
    found = {"Content-Type": "application/json"}
    if path == "/signed":
        key = b"forged" if n % 7 == 0 else SECRET.encode()
        found["X-Hub-Signature-256"] = (
            "sha256=" + hmac.new(key, payload, hashlib.sha256).hexdigest()
        )
    return found


class Dev:
    """`nami dev` as a subprocess."""

    def __init__(self, folder: Path) -> None:
        env = {**os.environ, "LOST_SEEN": str(folder / "seen.txt")}
        command = [sys.executable, "-m", "nami_action", "dev", str(folder / "nami.yaml")]
        self.process = subprocess.Popen(
            [
                *command,
                "--port",
                "0",
                "--data",
                str(folder / "data"),
                "--secret",
                f"signed={SECRET}",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        assert self.process.stdout is not None
        for line in self.process.stdout:
            found = re.search(r"listening on (http://\S+)", line)
            if found:
                self.url = found.group(1)
                threading.Thread(target=self._drain, daemon=True).start()
                return
        raise SystemExit(f"nami dev did not start (exit {self.process.wait()})")

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for _ in self.process.stdout:
            pass


def keep_sending(url: str, numbers: itertools.count[int], acked: list[int]) -> None:
    """Send until the server goes away; record what was answered 202."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        while True:
            n = next(numbers)
            path = "/signed" if n % 2 else "/orders"
            payload = body(n)
            conn.request("POST", path, payload, headers(path, n, payload))
            response = conn.getresponse()
            response.read()
            if response.status == 202:
                acked.append(n)
    except (OSError, http.client.HTTPException):
        pass  # killed mid-request: not acknowledged
    finally:
        conn.close()


def handled(folder: Path) -> list[int]:
    seen = folder / "seen.txt"
    return [int(x) for x in seen.read_text().split()] if seen.exists() else []


def dead_lettered(folder: Path) -> list[int]:
    """The webhooks in the dead letters, read through `nami dlq export --dev`."""
    found: list[int] = []
    for pipeline in ("orders", "signed"):
        out = folder / f"{pipeline}.jsonl"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "nami_action",
                "dlq",
                "export",
                pipeline,
                "--out",
                str(out),
                "--dev",
                "--data",
                str(folder / "data"),
                "--config",
                str(folder / "nami.yaml"),
            ],
            capture_output=True,
            check=False,
        )
        if out.exists():
            for line in out.read_text().splitlines():
                envelope = json.loads(line)["envelope"]
                found.append(json.loads(base64.b64decode(envelope["body"]))["n"])
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--per-round", type=int, default=1500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nami-lost-") as tmp:
        folder = Path(tmp)
        (folder / "consumer").mkdir()
        (folder / "consumer" / "handler.py").write_text(HANDLER)
        (folder / "nami.yaml").write_text(CONFIG)
        numbers, acked = itertools.count(1), []
        for round_ in range(1, args.rounds + 1):
            dev = Dev(folder)
            clients = [
                threading.Thread(target=keep_sending, args=(dev.url, numbers, acked))
                for _ in range(8)
            ]
            for client in clients:
                client.start()
            while len(acked) < round_ * args.per_round:
                time.sleep(0.01)
            dev.process.send_signal(signal.SIGKILL)
            for client in clients:
                client.join()
            dev.process.wait(10)
            print(
                f"round {round_}: killed with {len(acked)} acknowledged so far, "
                f"{len(set(handled(folder)))} handled"
            )
        dev = Dev(folder)  # the last restart drains what the kills left
        deadline = time.monotonic() + 120
        while True:
            done, dead = set(handled(folder)), set(dead_lettered(folder))
            if set(acked) <= done | dead or time.monotonic() > deadline:
                break
            time.sleep(1)
        dev.process.send_signal(signal.SIGTERM)
        dev.process.wait(60)
        expected_dead = {n for n in acked if n % 50 == 0 or (n % 2 and n % 7 == 0)}
        lost = set(acked) - done - dead
        repeats = len(handled(folder)) - len(done)
        print(
            f"acknowledged {len(acked)}, handled {len(done & set(acked))}, "
            f"dead-lettered {len(dead & set(acked))} (expected {len(expected_dead)}: "
            f"{'as expected' if dead & set(acked) == expected_dead else 'DIFFERENT'}), "
            f"lost {len(lost)}; handled twice (at-least-once after a kill) {repeats}"
        )
        if lost:
            raise SystemExit(f"lost: {sorted(lost)[:20]}")


if __name__ == "__main__":
    main()
