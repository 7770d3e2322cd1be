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

from nami_action.dev.app import DevApp
from nami_action.dev.consumers import DevError
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
