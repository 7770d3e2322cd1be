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


DEDUPED = """
orders:
  verify:
    scheme: none
  dedupe:
    json_path: $.n
  queue:
    visibility_timeout: 180s
  consumer:
    code: consumer
    handler: HANDLER
    timeout: 30s
    batch_size: 10
    max_concurrency: 3
"""

# Records a call only once the handler finished (its 20 ms of work done).
FINISHING_HANDLER = """
import json, time

def handle(webhook):
    n = webhook.json()["n"]
    time.sleep(0.02)
    with open({done!r}, "a") as f:
        f.write(json.dumps({{"n": n}}) + "\\n")
"""


def test_kill_9_and_restart_within_a_second_with_dedupe_loses_nothing(
    make_project: Callable[..., Project], dev_process: Callable[..., DevProcess]
) -> None:
    """A claim left `processing` by the killed run must not make the redelivery a duplicate
    (it was, before: one acknowledged webhook lost per worker and kill)."""
    project = make_project(DEDUPED)
    done = project.seen.with_name("finished.jsonl")
    (handler,) = project.config.with_name("consumer").glob("handler_*.py")
    handler.write_text(FINISHING_HANDLER.format(done=str(done)))

    def finished() -> set[int]:
        lines = done.read_text().splitlines() if done.exists() else []
        return {json.loads(line)["n"] for line in lines}

    rounds, numbers, acked = 4, itertools.count(), []
    restarts: list[float] = []
    dev = dev_process(project)
    for _ in range(rounds):
        stop, sent_before, handled_before = threading.Event(), len(acked), len(finished())
        clients = [
            threading.Thread(target=keep_sending, args=(dev.url, numbers, acked, stop))
            for _ in range(4)
        ]
        for client in clients:
            client.start()
        target = sent_before + 300
        wait_for(lambda: len(acked) >= target, what="300 acknowledged webhooks")  # noqa: B023
        stop.set()
        for client in clients:
            client.join()
        # Kill while the handler works through a backlog: batches in flight, claims `processing`.
        busy = handled_before + 30
        wait_for(lambda: len(finished()) >= busy, what="the handler at work")  # noqa: B023
        dev.process.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        dev.process.wait(10)
        dev = dev_process(project)
        restarts.append(time.monotonic() - killed)

    wait_for(
        lambda: set(acked) <= finished(),
        timeout=60,
        what="every acknowledged webhook to be handled",
    )
    lost = set(acked) - finished()
    print(
        f"\nkill -9 with dedupe: rounds={rounds} acknowledged={len(acked)} "
        f"handled={len(finished() & set(acked))} lost={len(lost)} "
        f"restart(kill to listening)={max(restarts):.2f}s max"
    )
    assert not lost
    dev.process.send_signal(signal.SIGTERM)
    assert dev.process.wait(20) == 0
