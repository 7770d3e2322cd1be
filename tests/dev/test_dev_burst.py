"""A burst of concurrent webhooks: all acknowledged, each handled exactly once, bounded."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from collections.abc import Callable

from nami_action.dev.app import DevApp

from .helpers import Project, wait_for

PIPELINES = """
burst:
  verify:
    scheme: none
  consumer:
    code: consumer
    handler: HANDLER
    batch_size: 10
    max_concurrency: 4
"""
COUNT = 5000
CLIENTS = 16


def send_all(url: str, numbers: list[int]) -> list[tuple[int, int]]:
    """(number, status) for each webhook, sent over one keep-alive connection."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    results = []
    for n in numbers:
        conn.request("POST", "/burst", json.dumps({"n": n}), {"Content-Type": "application/json"})
        response = conn.getresponse()
        answer = json.loads(response.read())
        assert set(answer) == {"id", "messageId"}
        results.append((n, response.status))
    conn.close()
    return results


def _left(app: DevApp) -> int:
    depth = app.store.depth("burst", time.time())
    return depth.visible + depth.in_flight


def test_burst_is_acknowledged_and_handled_exactly_once_within_concurrency(
    make_project: Callable[..., Project], start_app: Callable[..., DevApp]
) -> None:
    project = make_project(PIPELINES, sleep=0.0005)
    app = start_app(project)
    results: list[tuple[int, int]] = []
    lock = threading.Lock()

    def client(share: list[int]) -> None:
        sent = send_all(app.url, share)
        with lock:
            results.extend(sent)

    numbers = list(range(COUNT))
    threads = [threading.Thread(target=client, args=(numbers[i::CLIENTS],)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert Counter(status for _, status in results) == {202: COUNT}
    wait_for(lambda: len(project.calls()) >= COUNT, timeout=40, what="the handler to see all")
    wait_for(lambda: _left(app) == 0, what="the queue to drain")
    handled = Counter(project.numbers())
    assert len(handled) == COUNT and set(handled.values()) == {1}  # exactly once each
    assert 2 <= project.peak_concurrency() <= 4
    # A worker deletes what it handled before it counts it: wait for the count.
    counters = app.counters["burst"]
    wait_for(lambda: counters.snapshot().handled >= COUNT, what="the handled count")
    snapshot = counters.snapshot()
    assert (snapshot.received, snapshot.handled, snapshot.failed) == (COUNT, COUNT, 0)
