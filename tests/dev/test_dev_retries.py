"""Failures retry after the visibility timeout, then park in the local dead-letter queue."""

from __future__ import annotations

import base64
import itertools
import json
import time
from collections.abc import Callable

from nami_action.dev.app import DevApp
from nami_action.dev.queue import Outgoing
from nami_action.envelope import IncomingRequest, decode_envelope, encode_envelope

from .helpers import Project, post, wait_for

PIPELINES = """
flaky:
  verify:
    scheme: none
  queue:
    visibility_timeout: 1s
    max_receive_count: 2
  consumer:
    code: consumer
    handler: HANDLER
    timeout: 1s
    batch_size: 5
"""


def test_failing_webhook_is_retried_then_dead_lettered(
    make_project: Callable[..., Project], start_app: Callable[..., DevApp]
) -> None:
    project = make_project(PIPELINES)
    app = start_app(project)
    fail_body = json.dumps({"n": 1, "fail": True})
    assert post(app.url, "/flaky", fail_body)[0] == 202
    assert post(app.url, "/flaky", json.dumps({"n": 2}))[0] == 202

    wait_for(lambda: app.store.depth("flaky", 0).dead == 1, timeout=10, what="a dead letter")
    calls = project.calls()
    assert [c["count"] for c in calls if c["n"] == 1] == [1, 2]  # receive count as SQS counts
    assert [c["n"] for c in calls].count(2) == 1
    ((_, envelope, receives, outcome, _, _),) = app.store.dead_letters("flaky")
    assert outcome is None  # moved by its receives running out, not by the runtime
    assert receives == 2
    assert decode_envelope(envelope).body == fail_body.encode()
    assert json.loads(envelope)["body"] == base64.b64encode(fail_body.encode()).decode()
    # A worker stores its results before it counts them: wait for the count.
    counters = app.counters["flaky"]
    wait_for(lambda: counters.snapshot().handled == 1, what="the handled count")
    snapshot = counters.snapshot()
    assert (snapshot.handled, snapshot.failed, snapshot.dead_lettered) == (1, 2, 1)
    depth = app.store.depth("flaky", time.time())
    assert depth.visible + depth.in_flight == 0


EXITING_HANDLER = """
import json, sys

def handle(webhook):
    data = webhook.json()
    with open({seen!r}, "a") as f:
        f.write(json.dumps({{"n": data["n"], "count": webhook.receive_count}}) + "\\n")
    if data.get("exit"):
        sys.exit("handler called sys.exit")
"""


def queued(body: bytes, i: int) -> Outgoing:
    request = IncomingRequest(
        method="POST", path="/flaky", body=body, request_id=f"r{i}", received_at_ms=i
    )
    return Outgoing("flaky", f"m{i}", encode_envelope(request), time.time())


def test_a_handler_calling_sys_exit_fails_only_its_own_webhook(
    make_project: Callable[..., Project], start_app: Callable[..., DevApp]
) -> None:
    project = make_project(PIPELINES + "    max_concurrency: 2\n")
    (handler,) = project.config.with_name("consumer").glob("handler_*.py")
    handler.write_text(EXITING_HANDLER.format(seen=str(project.seen)))
    app = start_app(project)
    # Stored together, so they arrive in one batch: the exits must not fail the others.
    bodies = ({"n": 1, "exit": True}, {"n": 2}, {"n": 3}, {"n": 5, "exit": True})
    app.store.send([queued(json.dumps(body).encode(), i) for i, body in enumerate(bodies)])
    app.workers["flaky"].notify()

    wait_for(lambda: app.store.depth("flaky", 0).dead == 2, timeout=10, what="two dead letters")
    # Four SystemExits and both worker threads are alive: the pipeline still consumes.
    assert post(app.url, "/flaky", json.dumps({"n": 4}))[0] == 202
    # The handler records a webhook before the worker counts it: wait for the count.
    counters = app.counters["flaky"]
    wait_for(lambda: counters.snapshot().handled == 3, what="the next webhook handled")
    assert sorted(project.numbers()) == [1, 1, 2, 3, 4, 5, 5]  # exits tried twice, then parked
    snapshot = counters.snapshot()
    assert (snapshot.handled, snapshot.failed, snapshot.dead_lettered) == (3, 4, 2)


SCHEDULED = """
flaky:
  verify:
    scheme: none
  queue:
    visibility_timeout: 30s
    max_receive_count: 4
  consumer:
    code: consumer
    handler: HANDLER
    timeout: 1s
    retry: {backoff: exponential, initial: 1s, max: 2s}
"""

TIMED_HANDLER = """
import json, time

def handle(webhook):
    with open({seen!r}, "a") as f:
        f.write(json.dumps({{"n": webhook.json()["n"], "count": webhook.receive_count,
                             "at": time.time()}}) + "\\n")
    raise RuntimeError("downstream is down")
"""


def test_retries_follow_the_schedule_not_the_visibility_timeout(
    make_project: Callable[..., Project], start_app: Callable[..., DevApp]
) -> None:
    project = make_project(SCHEDULED)
    (handler,) = project.config.with_name("consumer").glob("handler_*.py")
    handler.write_text(TIMED_HANDLER.format(seen=str(project.seen)))
    app = start_app(project)
    assert post(app.url, "/flaky", json.dumps({"n": 1}))[0] == 202

    # 4 attempts 1 s, 2 s and 2 s apart, then the dead letters after the last 2 s wait:
    # about 7 s, where the 30 s visibility timeout would take 90 s.
    wait_for(lambda: app.store.depth("flaky", 0).dead == 1, timeout=20, what="a dead letter")
    calls = project.calls()
    assert [c["count"] for c in calls] == [1, 2, 3, 4]
    gaps = [later["at"] - earlier["at"] for earlier, later in itertools.pairwise(calls)]
    for gap, delay in zip(gaps, (1, 2, 2), strict=True):
        assert delay - 0.05 <= gap < delay + 1.5, gaps
    ((_, _, receives, outcome, _, _),) = app.store.dead_letters("flaky")
    assert (receives, outcome) == (4, None)
    wait_for(lambda: app.counters["flaky"].snapshot().failed >= 4, what="the failed count")
    assert app.counters["flaky"].snapshot().failed == 4
