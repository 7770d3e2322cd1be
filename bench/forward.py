"""`forward:` bench on `nami dev`: 10,000 webhooks to a local app that takes 50 ms per request.

    .venv/bin/python bench/forward.py [--count 10000] [--concurrency 50] [--rate 200]

Two runs, each with a fresh `nami dev` (a subprocess) and a fresh destination (threads of
this process, on 127.0.0.1, verifying every request's signature with `standardwebhooks`).
The destination holds its first answers until all 10,000 are accepted, so each run drains a
full backlog, measured from that moment (not limited by how fast this process can send):
1. `rate: RATE/s`: the delivery rate over 30 s of backlog (from 5 s after the release)
   against RATE (target: within 5%, and never above), and the most requests that started in
   any one second (the bound says at most RATE + concurrency).
2. no rate: the throughput `concurrency` slots reach against the 50 ms destination (at most
   concurrency / 0.05 s).
Each run checks that every accepted webhook reached the destination (0 lost) with a valid
signature, and counts the ones delivered twice (at-least-once; none expected here).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dev_burst import cpu_seconds, fire, start_dev
from timing import machine

SECRET = "whsec_" + base64.b64encode(b"nami-forward-bench-signing-key!!").decode()
APP_SECONDS = 0.05
WARMUP, WINDOW = 5.0, 30.0
CONFIG = """version: 1
project: bench
pipelines:
  burst:
    verify: {{scheme: none}}
    forward: {{url: "{url}/hooks", concurrency: {concurrency}, timeout: 60s{rate}}}
    consumer: {{batch_size: 10}}
"""


@dataclass
class Log:
    starts: list[float] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)
    unverified: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    gate: threading.Event = field(default_factory=threading.Event)  # set: answer


def destination(log: Log) -> ThreadingHTTPServer:
    verifier = Webhook(SECRET)

    class App(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            started = time.monotonic()
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                verifier.verify(body, dict(self.headers.items()), json_parse=False)
                ok = True
            except WebhookVerificationError:
                ok = False
            log.gate.wait()
            time.sleep(APP_SECONDS)  # the app's own work
            with log.lock:
                log.starts.append(started)
                log.numbers.append(json.loads(body)["n"])
                log.unverified += not ok
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), App)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def most_in_a_second(starts: list[float]) -> int:
    ordered, best, first = sorted(starts), 0, 0
    for last, at in enumerate(ordered):
        while at - ordered[first] >= 1.0:
            first += 1
        best = max(best, last - first + 1)
    return best


def run(count: int, concurrency: int, rate: float | None) -> None:
    log = Log()
    server = destination(log)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    with tempfile.TemporaryDirectory(prefix="nami-forward-bench-") as tmp:
        folder = Path(tmp)
        config = folder / "nami.yaml"
        bound = f", rate: {rate:g}/s" if rate else ""
        config.write_text(CONFIG.format(url=url, concurrency=concurrency, rate=bound))
        os.environ["NAMI_DEV_FORWARD_SECRET_BURST"] = SECRET
        process, dev_url = start_dev(config, folder / "data", folder / "unused")
        try:
            cpu_before = cpu_seconds(process.pid)
            sent = time.monotonic()
            accepted = set(fire(dev_url, list(range(count)), 8, True))
            fired = time.monotonic() - sent
            released = time.monotonic()
            log.gate.set()
            deadline = time.monotonic() + count / (rate or 100) + 120
            while len(set(log.numbers)) < len(accepted) and time.monotonic() < deadline:
                time.sleep(0.1)
            cpu = cpu_seconds(process.pid) - cpu_before
        finally:
            process.terminate()
            process.wait(timeout=60)
            server.shutdown()
    delivered = set(log.numbers)
    starts = sorted(max(s, released) for s in log.starts)  # the held ones start at release
    span = starts[-1] - released
    print(f"  accepted {len(accepted):,} of {count:,} in {fired:.1f} s; nami dev CPU {cpu:.1f} s")
    print(
        f"  delivered {len(delivered & accepted):,}: "
        + ("0 lost" if accepted <= delivered else f"LOST {len(accepted - delivered)}")
        + f", {len(log.numbers) - len(delivered)} delivered twice, "
        f"{log.unverified} signatures not verified"
    )
    print(
        f"  the backlog drained in {span:.1f} s after release: "
        f"{len(starts) / span:,.1f} requests/s on average"
    )
    if rate:
        begin = released + WARMUP
        window = [s for s in starts if begin <= s < begin + WINDOW]
        measured = len(window) / WINDOW
        print(
            f"  rate over {WINDOW:g} s of backlog: {measured:.1f}/s against rate {rate:g}/s "
            f"({(measured / rate - 1) * 100:+.1f}%); most in any one second: "
            f"{most_in_a_second(log.starts)} (bound: rate + concurrency = {rate + concurrency:g})"
        )
    else:
        print(
            f"  unlimited: {len(starts) / span:,.0f} requests/s with {concurrency} in flight "
            f"(the destination alone allows {concurrency / APP_SECONDS:,.0f}/s)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rate", type=float, default=200.0)
    args = parser.parse_args()
    print(f"forward bench: {args.count:,} webhooks, concurrency {args.concurrency}, app 50 ms")
    print(f"  {machine()}")
    print(f"run 1: rate {args.rate:g}/s")
    run(args.count, args.concurrency, args.rate)
    print("run 2: no rate")
    run(args.count, args.concurrency, None)


if __name__ == "__main__":
    main()
