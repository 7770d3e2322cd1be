"""Process lifecycle: SIGKILL mid-burst loses nothing acknowledged; SIGTERM drains and exits 0."""

from __future__ import annotations

import http.client
import itertools
import json
import signal
import threading
import time
from collections.abc import Callable

from .helpers import DevProcess, Project, post, wait_for

PIPELINES = """
orders:
  verify:
    scheme: none
  queue:
    visibility_timeout: 30s
  consumer:
    code: consumer
    handler: HANDLER
    batch_size: 10
    max_concurrency: 3
"""


def keep_sending(
    url: str, numbers: itertools.count[int], acked: list[int], stop: threading.Event
) -> None:
    """Send until the server goes away; record what was acknowledged with a 202."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        while not stop.is_set():
            n = next(numbers)
            conn.request(
                "POST", "/orders", json.dumps({"n": n}), {"Content-Type": "application/json"}
            )
            response = conn.getresponse()
            response.read()
            if response.status == 202:
                acked.append(n)
    except (OSError, http.client.HTTPException):
        pass  # killed mid-request: that webhook was not acknowledged
    finally:
        conn.close()


def test_kill_mid_burst_then_restart_loses_no_acknowledged_webhook(
    make_project: Callable[..., Project], dev_process: Callable[..., DevProcess]
) -> None:
    project = make_project(PIPELINES, sleep=0.002)  # slow enough to leave a backlog
    dev = dev_process(project)
    numbers, acked, stop = itertools.count(), [], threading.Event()
    clients = [
        threading.Thread(target=keep_sending, args=(dev.url, numbers, acked, stop))
        for _ in range(8)
    ]
    for client in clients:
        client.start()
    wait_for(lambda: len(acked) >= 1500, what="1,500 acknowledged webhooks")
    dev.process.send_signal(signal.SIGKILL)
    for client in clients:
        client.join()
    dev.process.wait(10)
    handled_before = set(project.numbers())
    assert len(handled_before) < len(acked)  # the kill left a backlog (and maybe batches in flight)

    again = dev_process(project)
    wait_for(
        lambda: set(acked) <= set(project.numbers()),
        timeout=30,
        what="every acknowledged webhook to be handled after the restart",
    )
    again.process.send_signal(signal.SIGTERM)
    assert again.process.wait(20) == 0


def test_sigterm_lets_the_batch_in_flight_finish_and_exits_zero(
    make_project: Callable[..., Project], dev_process: Callable[..., DevProcess]
) -> None:
    project = make_project(PIPELINES)
    dev = dev_process(project)
    assert post(dev.url, "/orders", json.dumps({"n": 7, "sleep": 1.5}))[0] == 202
    wait_for(lambda: project.numbers() == [7], what="the handler to start")
    started = time.monotonic()
    dev.process.send_signal(signal.SIGTERM)
    assert dev.process.wait(20) == 0
    assert time.monotonic() - started > 1.0  # it waited for the handler
    assert "stopping" in dev.output()

    # The finished batch was deleted: a restart does not deliver it again.
    again = dev_process(project)
    time.sleep(0.5)
    again.process.send_signal(signal.SIGINT)
    assert again.process.wait(20) == 0
    assert project.numbers() == [7]
    assert any(" orders " in line and " handled=1 " in line for line in dev.lines)
