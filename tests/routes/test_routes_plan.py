"""A plan that drops a route, or a destroy of a routes pipeline, sees the route's queues as it
sees the pipeline's own: `queue-removed` and `messages-waiting` warnings, queued webhooks
counted. The templates are compiled and packaged for real (tests/plan's helpers)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from nami_action.compile import names
from nami_action.plan.decide import queue_warnings
from tests.plan.test_comment_in_nami_terms import compiled, resource_changes

URL = "http://127.0.0.1:9"


def test_dropping_a_route_warns_that_its_queues_are_removed(
    routes_project: Callable[..., Path],
) -> None:
    before = compiled(routes_project(URL))["stripe"]
    after = compiled(routes_project(URL, default=False))["stripe"]
    changes = resource_changes(before, after)
    touched = dict(queue_warnings("stripe", before, after, changes))
    assert set(touched) == {"RouteRestQueue", "RouteRestDeadLetterQueue"}
    assert {w.kind for w in touched.values()} == {"queue-removed"}
    assert all(w.loses_messages for w in touched.values())
    # Without the change set's rows (as on an emulator that leaves them out) the templates
    # alone say so too.
    assert set(dict(queue_warnings("stripe", before, after, []))) == set(touched)


def test_a_routes_template_names_every_route_queue_by_type(
    routes_project: Callable[..., Path],
) -> None:
    template = compiled(routes_project(URL))["stripe"]
    found = names.queue_ids(template)
    for route in ("Billing", "Crm", "Audit", "Rest"):
        assert {f"Route{route}Queue", f"Route{route}DeadLetterQueue"} <= found
    assert {names.QUEUE, names.DEAD_LETTER_QUEUE} <= found
