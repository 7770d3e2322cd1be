"""`nami dev` with `routes:`: each webhook reaches the routes it matches (a handler route, and
forward routes to a real destination on 127.0.0.1 that verifies nami's signature), several
when several match, the default what none matched; unrouted kept as a dead letter with its
reason, or dropped and counted with `unrouted: drop`."""

from __future__ import annotations

import base64
import json
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from nami_action.cli import cli
from nami_action.dev.app import DevApp
from nami_action.dev.consumers import DevError
from nami_action.runtime import router
from nami_action.runtime.router import ROUTES_ATTRIBUTE
from tests.dev.inspector_support import api
from tests.forward.conftest import SECRET
from tests.forward.destination import Destination, Received, post, wait_until

from .conftest import handled


def send(app: DevApp, event_type: str, event_id: str, **headers: str) -> None:
    body = json.dumps({"id": event_id, "type": event_type})
    assert post(app.url, "/stripe", body, headers) == 202


def by_path(received: list[Received]) -> dict[str, list[str]]:
    paths: dict[str, list[str]] = {}
    for r in received:
        paths.setdefault(r.path, []).append(json.loads(r.body)["id"])
    return paths


def test_each_webhook_reaches_the_routes_it_matches(
    destination: Destination,
    routes_project: Callable[..., Path],
    start_dev: Callable[..., DevApp],
) -> None:
    config = routes_project(destination.url)
    # Each forward route signs with its own key (NAMI_DEV_FORWARD_SECRET_<PIPELINE>_<ROUTE>).
    keys = {f"NAMI_DEV_FORWARD_SECRET_STRIPE_{r}": SECRET for r in ("CRM", "AUDIT", "REST")}
    app = start_dev(config, env=keys)
    send(app, "invoice.paid", "evt_1")
    send(app, "customer.created", "evt_2")
    send(app, "charge.failed", "evt_3")  # no route matches: the default
    send(app, "customer.updated", "evt_4", **{"X-Audit": "1"})  # crm and audit
    send(app, "invoice.created", "evt_5", **{"X-Audit": "yes"})  # billing and audit

    wait_until(lambda: len(destination.delivered()) >= 5, 30, "forward routes delivered")
    wait_until(lambda: len(handled(config)) >= 2, 30, "billing handled")
    time.sleep(0.5)  # a second copy anywhere would show by now

    assert [event["id"] for event in handled(config)] == ["evt_1", "evt_5"]
    delivered = by_path(destination.delivered())
    assert sorted(delivered["/crm"]) == ["evt_2", "evt_4"]
    assert delivered["/rest"] == ["evt_3"]
    assert sorted(delivered["/audit"]) == ["evt_4", "evt_5"]
    assert all(r.verified for r in destination.received)  # each route signs as nami
    router = app.counters["stripe"].snapshot()
    assert (router.routed, router.unrouted, router.failed) == (5, 0, 0)
    assert app.counters["stripe/billing"].snapshot().handled == 2
    assert app.counters["stripe/crm"].snapshot().forwarded == 2
    assert app.counters["stripe/rest"].snapshot().forwarded == 1


def test_unrouted_is_kept_as_a_dead_letter_with_its_reason(
    destination: Destination,
    routes_project: Callable[..., Path],
    start_dev: Callable[..., DevApp],
) -> None:
    app = start_dev(routes_project(destination.url, default=False), env={})
    send(app, "charge.failed", "evt_lost")
    send(app, "invoice.paid", "evt_billed")
    wait_until(lambda: app.store.depth("stripe", time.time()).dead == 1, 30, "dead letter")

    (letter,) = app.store.dead_letters("stripe")
    assert json.loads(_body(letter.body))["id"] == "evt_lost"
    assert (letter.outcome, letter.reason) == ("unrouted", "matched no route")
    wait_until(lambda: app.counters["stripe"].snapshot().routed == 1, 30, "routed")
    assert app.counters["stripe"].snapshot().unrouted == 1


def test_unrouted_drop_counts_and_logs_without_a_dead_letter(
    destination: Destination,
    routes_project: Callable[..., Path],
    start_dev: Callable[..., DevApp],
) -> None:
    app = start_dev(routes_project(destination.url, "unrouted: drop", default=False), env={})
    send(app, "charge.failed", "evt_dropped")
    wait_until(lambda: app.counters["stripe"].snapshot().unrouted == 1, 30, "unrouted")
    time.sleep(0.3)
    assert app.store.depth("stripe", time.time()).dead == 0
    assert app.store.dead_letters("stripe") == []
    log = (app.options.data_dir / "consumer.log").read_text().splitlines()
    outcomes = Counter(json.loads(line).get("outcome") for line in log)
    assert outcomes["unrouted"] == 1
    (line,) = [json.loads(x) for x in log if '"unrouted"' in x]
    assert "dropped" in line["reason"]


def _body(envelope: str) -> str:
    return base64.b64decode(json.loads(envelope)["body"]).decode()


def test_a_remote_route_is_forwarded_only_to_this_machine(
    destination: Destination,
    routes_project: Callable[..., Path],
    start_dev: Callable[..., DevApp],
) -> None:
    config = routes_project("https://crm.example.com")
    with pytest.raises(DevError) as caught:
        start_dev(config, env={})
    assert "pass --forward-to stripe/crm=http://localhost:3000/..." in str(caught.value)
    local = {f"stripe/{r}": f"{destination.url}/{r}" for r in ("crm", "audit", "rest")}
    app = start_dev(config, env={}, forward_to=local)
    send(app, "customer.created", "evt_crm")
    wait_until(lambda: len(destination.delivered()) == 1, 30, "delivered locally")
    assert destination.delivered()[0].path == "/crm"


def test_the_inspector_shows_where_each_webhook_went(
    destination: Destination,
    routes_project: Callable[..., Path],
    start_dev: Callable[..., DevApp],
) -> None:
    app = start_dev(routes_project(destination.url), env={})
    send(app, "customer.updated", "evt_both", **{"X-Audit": "1"})
    wait_until(lambda: len(destination.delivered()) == 2, 30, "crm and audit delivered")

    def rows() -> dict[str, dict[str, object]]:
        status, found = api(app, "GET", "webhooks?after=0")
        assert status == 200
        return {r["pipeline"]: r for r in found["webhooks"]}

    wait_until(lambda: rows().get("stripe/crm", {}).get("outcome") == "forwarded", 30, "shown")
    by_pipeline = rows()
    router = by_pipeline["stripe"]
    assert (router["outcome"], router["route"]) == ("routed", "crm, audit")
    crm = by_pipeline["stripe/crm"]
    assert (crm["outcome"], crm["route"], crm["verification"]) == (
        "forwarded",
        "crm",
        "by the router",
    )


# As Lambda's router (runtime/router.py): a send that fails after another route got the webhook
# puts a copy back owing only the routes that failed. A trigger makes the local queue refuse
# the `audit` route's writes, as a full disk would (SQLite aborts the INSERT).
REFUSE_AUDIT = (
    "CREATE TRIGGER refuse_audit BEFORE INSERT ON messages WHEN NEW.pipeline = 'stripe/audit'"
    " BEGIN SELECT RAISE(ABORT, 'disk I/O error (test)'); END"
)
# Retries a second apart, so a test does not wait for the visibility timeout.
FAST_RETRY = "consumer: {retry: {backoff: fixed, initial: 1}}"
KEYS = {f"NAMI_DEV_FORWARD_SECRET_STRIPE_{r}": SECRET for r in ("CRM", "AUDIT", "REST")}


def router_lines(app: DevApp) -> list[dict[str, object]]:
    log = (app.options.data_dir / "consumer.log").read_text().splitlines()
    lines = [json.loads(x) for x in log]
    return [x for x in lines if x.get("pipeline") == "stripe" and "outcome" in x]


def test_a_failed_send_to_one_route_is_put_back_for_that_route_only(
    destination: Destination,
    routes_project: Callable[..., Path],
    start_dev: Callable[..., DevApp],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(router, "REQUEUE_DELAY", 2)
    config = routes_project(destination.url, FAST_RETRY)
    app = start_dev(config, env=KEYS)
    app.store.write(REFUSE_AUDIT)
    send(app, "invoice.paid", "evt_1", **{"X-Audit": "1"})  # billing and audit

    wait_until(lambda: any("reason" in x for x in router_lines(app)), 30, "the put-back")
    app.store.write("DROP TRIGGER refuse_audit")  # the disk has room again
    wait_until(lambda: len(destination.delivered()) == 1, 30, "audit delivered")
    wait_until(lambda: len(handled(config)) >= 1, 30, "billing handled")
    time.sleep(0.5)  # a second copy anywhere would show by now

    assert [event["id"] for event in handled(config)] == ["evt_1"]  # once
    assert by_path(destination.delivered()) == {"/audit": ["evt_1"]}
    first, copy = router_lines(app)
    assert (first["outcome"], first["routes"], first["reason"]) == (
        "routed",
        ["billing"],
        "put back for audit",
    )
    assert (copy["outcome"], copy["routes"], copy["putBackCopy"]) == ("routed", ["audit"], True)
    counts = app.counters["stripe"].snapshot()
    assert (counts.routed, counts.failed) == (1, 0)  # one webhook, counted once

    # The inspector's Replay of the copy sends it to the route it owes only, as it went.
    status, found = api(app, "GET", "webhooks?after=0")
    assert status == 200
    (row,) = [r for r in found["webhooks"] if r["messageId"] == copy["messageId"]]
    status, _ = api(app, "POST", "replay", {"key": row["key"]})
    assert status == 202
    wait_until(lambda: len(destination.delivered()) == 2, 30, "the replay delivered")
    time.sleep(0.5)  # billing would have it again by now
    assert [event["id"] for event in handled(config)] == ["evt_1"]
    assert by_path(destination.delivered()) == {"/audit": ["evt_1", "evt_1"]}
    assert row["owed"] == "audit"  # labelled as a copy owed to audit


def test_a_put_back_copy_in_the_dead_letters_is_redriven_to_the_routes_it_owes(
    destination: Destination,
    routes_project: Callable[..., Path],
    start_dev: Callable[..., DevApp],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """The copy owing `audit` fails until its receives run out; its dead letter keeps
    `nami-routes` (and so does its export), and a redrive sends it to `audit` only."""
    monkeypatch.setattr(router, "REQUEUE_DELAY", 0)
    config = routes_project(destination.url, f"queue: {{max_receive_count: 2}}\n{FAST_RETRY}")
    app = start_dev(config, env=KEYS)
    app.store.write(REFUSE_AUDIT)
    send(app, "invoice.paid", "evt_1", **{"X-Audit": "1"})
    wait_until(lambda: app.store.depth("stripe", time.time()).dead == 1, 30, "the dead letter")

    (letter,) = app.store.dead_letters("stripe")
    assert letter.attributes == {ROUTES_ATTRIBUTE: "audit"}
    out = tmp_path / "letters.jsonl"
    data = ["--dev", "--data", str(app.options.data_dir), "--config", str(config)]
    exported = CliRunner().invoke(cli, ["dlq", "export", "stripe", "--out", str(out), *data])
    assert exported.exit_code == 0, exported.output
    (line,) = [json.loads(x) for x in out.read_text().splitlines()]
    assert line["messageAttributes"][ROUTES_ATTRIBUTE]["StringValue"] == "audit"
    peeked = CliRunner().invoke(cli, ["dlq", "peek", "stripe", *data])
    assert peeked.exit_code == 0, peeked.output
    assert "put-back copy, owed to: audit (redrive it" in peeked.output

    app.store.write("DROP TRIGGER refuse_audit")
    redriven = CliRunner().invoke(cli, ["dlq", "redrive", "stripe", *data])
    assert redriven.exit_code == 0, redriven.output
    wait_until(lambda: len(destination.delivered()) == 1, 30, "audit delivered")
    time.sleep(0.5)

    assert [event["id"] for event in handled(config)] == ["evt_1"]  # billing: still once
    assert by_path(destination.delivered()) == {"/audit": ["evt_1"]}
