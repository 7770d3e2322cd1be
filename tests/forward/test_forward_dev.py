"""`nami dev` forwarding to a real local destination: retries through an outage exactly once
(dedupe), the rate bound, Retry-After, a refusal kept with its reason and delivered after the
destination is fixed, and nami's signature verified with the `standardwebhooks` library."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from nami_action.dev.app import DevApp
from nami_action.dev.consumers import DevError
from nami_action.dev.queue import Outgoing

from .destination import Answer, Destination, Received, max_in_window, post, wait_until

RATE, CONCURRENCY = 20.0, 4


def send(app: DevApp, event_id: str, **extra: object) -> None:
    body = json.dumps({"id": event_id, **extra})
    assert post(app.url, "/stripe?source=test", body, {"Stripe-Signature": "t=1,v1=abc"}) == 202


def event_ids(received: list[Received]) -> list[str]:
    return [json.loads(r.body)["id"] for r in received]


def test_an_outage_then_recovery_delivers_each_event_once_within_the_rate(
    destination: Destination,
    forward_project: Callable[..., Path],
    start_dev: Callable[..., DevApp],
) -> None:
    def outage(received: Received, before: int) -> Answer:
        # Down for the first 3 s after the first request, then up.
        started = destination.received[0].at
        return (503, {}, b"maintenance") if received.at < started + 3.0 else (200, {}, b"ok")

    destination.script = outage
    config = forward_project(
        destination.url + "/hooks",
        f"rate: {RATE:g}/s, concurrency: {CONCURRENCY}, timeout: 5s",
        "dedupe: {json_path: $.id}\nqueue: {max_receive_count: 30}\n"
        "consumer: {batch_size: 5, retry: {backoff: fixed, initial: 1s, max: 5s}}",
    )
    app = start_dev(config)
    ids = [f"evt_{i}" for i in range(40)]
    for event_id in ids:
        send(app, event_id)
    for event_id in ids[:8]:  # the sender retried some: the same events again
        send(app, event_id)

    wait_until(lambda: len(destination.delivered()) >= len(ids), 60, "every event delivered")
    time.sleep(1.0)  # anything delivered twice would show up by now

    delivered = destination.delivered()
    assert sorted(event_ids(delivered)) == sorted(ids)  # each once, none lost
    assert any(status == 503 for status in destination.answers)  # the outage was retried
    assert all(r.verified for r in destination.received)  # standardwebhooks accepts nami
    first = delivered[0]
    assert first.path == "/hooks?source=test"  # the sender's query string is passed on
    assert first.headers["stripe-signature"] == "t=1,v1=abc"  # the sender's headers too
    # At most `rate` requests start per second over the run, and in any one second at most
    # rate + concurrency (each of the `concurrency` slots holds concurrency/rate per request).
    starts = destination.starts()
    assert max_in_window(starts, 1.0) <= RATE + CONCURRENCY
    span = max(starts) - min(starts)
    assert (len(starts) - CONCURRENCY) / span <= RATE * 1.05
    assert destination.peak_in_flight <= CONCURRENCY
    counts = app.counters["stripe"].snapshot()
    assert counts.forwarded == len(ids)
    assert counts.duplicate + counts.forwarded + counts.failed >= len(ids) + 8


def test_retry_after_is_honoured_over_a_shorter_schedule(
    destination: Destination,
    forward_project: Callable[..., Path],
    start_dev: Callable[..., DevApp],
) -> None:
    def busy_once(received: Received, before: int) -> Answer:
        return (429, {"Retry-After": "2"}, b"slow down") if before == 0 else (200, {}, b"ok")

    destination.script = busy_once
    config = forward_project(
        destination.url,
        "concurrency: 2",
        "consumer: {retry: {backoff: fixed, initial: 1s, max: 1m}}",
    )
    app = start_dev(config)
    send(app, "evt_once")

    wait_until(lambda: len(destination.delivered()) == 1, 20, "the retried delivery")
    first, second = destination.received
    assert destination.answers == [429, 200]
    assert second.at - first.at >= 2.0  # Retry-After (2 s), not the schedule's 1 s
    assert second.at - first.at < 4.0


def test_a_refusal_is_dead_lettered_with_its_reason_and_delivered_after_the_fix(
    destination: Destination,
    forward_project: Callable[..., Path],
    start_dev: Callable[..., DevApp],
) -> None:
    fixed = False

    def strict(received: Received, before: int) -> Answer:
        return (200, {}, b"ok") if fixed else (400, {}, b'{"error": "unknown field: amount"}')

    destination.script = strict
    config = forward_project(destination.url, "", "dedupe: {json_path: $.id}")
    app = start_dev(config)
    send(app, "evt_refused")

    wait_until(lambda: bool(app.store.dead_letters("stripe")), 20, "the dead letter")
    (letter,) = app.store.dead_letters("stripe")
    assert letter.outcome == "refused"
    assert letter.reason == 'HTTP 400: {"error": "unknown field: amount"}'
    assert len(destination.received) == 1  # refused for good: not retried

    # The destination is fixed; the dead letter goes back to the queue (what a redrive does).
    fixed = True
    app.store.send([Outgoing("stripe", str(uuid.uuid4()), letter.body, time.time())])
    app.workers["stripe"].notify()

    wait_until(lambda: len(destination.delivered()) == 1, 20, "the redriven delivery")
    assert event_ids(destination.delivered()) == ["evt_refused"]  # dedupe did not drop it
    assert Counter(destination.answers) == Counter({400: 1, 200: 1})


def test_the_dev_signing_secret_is_made_once_and_kept(
    destination: Destination,
    forward_project: Callable[..., Path],
    start_dev: Callable[..., DevApp],
    tmp_path: Path,
) -> None:
    app = start_dev(forward_project(destination.url), env={})
    secret_file = tmp_path / "data" / "forward-secrets" / "stripe"
    assert secret_file.stat().st_mode & 0o777 == 0o600
    destination.secret = secret_file.read_text().strip()
    send(app, "evt_1")
    wait_until(lambda: len(destination.delivered()) == 1, 20, "the delivery")
    assert destination.received[0].verified


def test_nami_dev_forwards_only_to_this_machine(
    destination: Destination,
    forward_project: Callable[..., Path],
    start_dev: Callable[..., DevApp],
) -> None:
    config = forward_project("https://api.acme.com/webhooks/stripe")
    with pytest.raises(DevError, match="nami dev forwards only to this machine: pass"):
        start_dev(config)
    with pytest.raises(DevError, match="--forward-to names what does not forward: nope"):
        start_dev(config, forward_to={"nope": destination.url})
    app = start_dev(config, forward_to={"stripe": destination.url + "/local"})
    send(app, "evt_local")
    wait_until(lambda: len(destination.delivered()) == 1, 20, "the local delivery")
    assert destination.received[0].path == "/local?source=test"


def test_the_command_says_where_it_forwards(
    destination: Destination, forward_project: Callable[..., Path], tmp_path: Path
) -> None:
    config = forward_project("https://api.acme.com/webhooks/stripe", "rate: 5/s")
    command = [sys.executable, "-m", "nami_action", "dev", str(config), "--port", "0"]
    target = f"stripe={destination.url}/local"
    process = subprocess.Popen(
        [*command, "--data", str(tmp_path / "data"), "--forward-to", target],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("NAMI_DEV_")},
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if "Ctrl-C stops" in line:
                break
    finally:
        process.terminate()
        process.wait(30)
    secret_file = tmp_path / "data" / "forward-secrets" / "stripe"
    assert (
        f"  stripe: forwarding to {destination.url}/local (at most 10 at once, 5/s), signed "
        f"(Standard Webhooks) with the secret in {secret_file}\n"
    ) in lines, "".join(lines)
    assert secret_file.read_text().startswith("whsec_")
