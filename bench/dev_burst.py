"""Burst bench for `nami dev`: 10,000 webhooks from concurrent keep-alive clients.

    .venv/bin/python bench/dev_burst.py [--count 10000] [--processes 2] [--threads 16]
                                        [--http-client]

Starts `nami dev` (a subprocess) on a one-pipeline config in a temporary folder, fires the
burst, and prints accepted webhooks per second, the end-to-end drain time (until the handler
has seen every accepted webhook) and "none lost" or how many were lost.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

CONFIG = """version: 1
project: bench
pipelines:
  burst:
    verify:
      scheme: none
    consumer:
      code: consumer
      batch_size: {batch}
      batching_window: 1s
      max_concurrency: {concurrency}
"""
HANDLER = """import os
import threading

_LOCK = threading.Lock()
_OUT = open(os.environ["BENCH_SEEN"], "a", buffering=1)


def handle(webhook):
    with _LOCK:
        _OUT.write(str(webhook.json()["n"]) + "\\n")
"""


def write_project(folder: Path, batch: int, concurrency: int) -> Path:
    (folder / "consumer").mkdir(parents=True)
    (folder / "consumer" / "handler.py").write_text(HANDLER)
    config = folder / "nami.yaml"
    config.write_text(CONFIG.format(batch=batch, concurrency=concurrency))
    return config


def start_dev(config: Path, data: Path, seen: Path) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "BENCH_SEEN": str(seen)}
    command = [sys.executable, "-m", "nami_action", "dev", str(config), "--port", "0"]
    process = subprocess.Popen(
        [*command, "--data", str(data)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    for line in process.stdout:
        found = re.search(r"listening on (http://\S+)", line)
        if found:
            threading.Thread(target=_drain, args=(process,), daemon=True).start()
            return process, found.group(1)
    raise SystemExit(f"nami dev did not start (exit {process.wait()})")


def _drain(process: subprocess.Popen[str]) -> None:
    assert process.stdout is not None
    for _ in process.stdout:
        pass


def fire(url: str, numbers: list[int], threads: int, raw: bool) -> list[int]:
    """Send one webhook per number from `threads` keep-alive connections; the accepted ones."""
    host, port = url.removeprefix("http://").split(":")
    accepted: list[int] = []
    lock = threading.Lock()
    send = send_raw if raw else send_http_client

    def client(share: list[int]) -> None:
        mine = send(host, int(port), share)
        with lock:
            accepted.extend(mine)

    workers = [threading.Thread(target=client, args=(numbers[i::threads],)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return accepted


def _body(n: int) -> bytes:
    return json.dumps({"n": n, "pad": "x" * 200}).encode()


def send_http_client(host: str, port: int, share: list[int]) -> list[int]:
    conn = http.client.HTTPConnection(host, port, timeout=30)
    mine: list[int] = []
    for n in share:
        try:
            conn.request("POST", "/burst", _body(n), {"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            if response.status == 202:
                mine.append(n)
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=30)
    conn.close()
    return mine


def send_raw(host: str, port: int, share: list[int]) -> list[int]:
    """A lean keep-alive client (prebuilt request bytes, minimal response parsing), so that
    client CPU does not eat into the server's share of the two cores."""
    mine: list[int] = []
    sock = socket.create_connection((host, port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    reader = sock.makefile("rb")
    head = b"POST /burst HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n" % (
        host.encode()
    )
    for n in share:
        body = _body(n)
        sock.sendall(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        status = int(reader.readline().split()[1])
        length, close = 0, False
        while (line := reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
            close = close or (name.lower() == b"connection" and b"close" in value.lower())
        reader.read(length)
        if status == 202:
            mine.append(n)
        if close:
            reader.close()
            sock.close()
            sock = socket.create_connection((host, port), timeout=30)
            reader = sock.makefile("rb")
    reader.close()
    sock.close()
    return mine


def seen_numbers(path: Path) -> list[int]:
    if not path.exists():
        return []
    return [int(line) for line in path.read_text().split()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--processes", type=int, default=2, help="client processes")
    parser.add_argument("--threads", type=int, default=16, help="connections per process")
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument(
        "--http-client", action="store_true", help="send with http.client instead of raw sockets"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nami-dev-burst-") as tmp:
        folder = Path(tmp)
        config = write_project(folder / "project", args.batch, args.concurrency)
        seen_file = folder / "seen.txt"
        process, url = start_dev(config, folder / "data", seen_file)
        try:
            run(url, seen_file, args, process.pid)
        finally:
            process.terminate()
            process.wait(timeout=60)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(url: str, seen_file: Path, args: argparse.Namespace, pid: int) -> None:
    cpu_before = cpu_seconds(pid)
    numbers = list(range(1, args.count + 1))
    parts = [numbers[i :: args.processes] for i in range(args.processes)]
    started = time.perf_counter()
    with ProcessPoolExecutor(args.processes) as pool:
        results = list(
            pool.map(
                fire,
                [url] * len(parts),
                parts,
                [args.threads] * len(parts),
                [not args.http_client] * len(parts),
            )
        )
    burst = time.perf_counter() - started
    accepted = {n for result in results for n in result}
    while True:
        seen = seen_numbers(seen_file)
        if accepted <= set(seen) or time.perf_counter() - started > burst + 120:
            break
        time.sleep(0.05)
    drained = time.perf_counter() - started
    cpu = cpu_seconds(pid) - cpu_before
    lost = len(accepted - set(seen))
    clients = args.processes * args.threads
    kind = "http.client" if args.http_client else "raw-socket"
    print(f"sent {args.count} webhooks from {clients} {kind} keep-alive connections")
    print(f"accepted {len(accepted)} in {burst:.2f}s: {len(accepted) / burst:,.0f} webhooks/s")
    print(f"drained (handler saw all) {drained:.2f}s after the first send")
    print(f"handler calls {len(seen)}, distinct {len(set(seen))}")
    print(
        f"nami dev used {cpu:.2f}s CPU (ingest and drain): "
        f"{cpu / max(len(accepted), 1) * 1e6:.0f} µs per webhook; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    print("none lost" if lost == 0 else f"LOST {lost}")


if __name__ == "__main__":
    main()
