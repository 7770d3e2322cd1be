"""The inspector's memory is bounded: by webhooks kept and by envelope characters held."""

from __future__ import annotations

from pathlib import Path

import pytest

from nami_action.dev import history
from nami_action.dev.history import History
from nami_action.dev.queue import Outgoing, Store


def test_the_oldest_webhooks_are_forgotten_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store.open(tmp_path)
    try:
        kept = History(store, ["p"], size=3)
        kept.stored([Outgoing("p", f"m{i}", "x" * 10, float(i)) for i in range(5)])
        assert [e.message_id for e in kept.changed_since(0)] == ["m2", "m3", "m4"]
        # A later attempt of a forgotten webhook is not shown as a new one.
        kept.attempted("p", {"messageId": "m0", "outcome": "handled"})
        assert [e.message_id for e in kept.changed_since(0)] == ["m2", "m3", "m4"]

        monkeypatch.setattr(history, "BUDGET", 25)
        small = History(store, ["p"], size=100)
        small.stored([Outgoing("p", f"m{i}", "x" * 10, float(i)) for i in range(5)])
        assert [e.message_id for e in small.changed_since(0)] == ["m3", "m4"]
        # One envelope larger than the budget is still shown (the newest is never dropped).
        small.stored([Outgoing("p", "big", "x" * 100, 9.0)])
        assert [e.message_id for e in small.changed_since(0)] == ["big"]
    finally:
        store.close()


def test_a_message_a_worker_logged_before_its_commit_was_announced_is_one_row(
    tmp_path: Path,
) -> None:
    """A worker polling the queue can handle a message between the commit and the
    announcement that feeds the inspector: its log line comes first, and the later
    announcement fills that row in instead of adding a second one."""
    store = Store.open(tmp_path)
    try:
        shown = History(store, ["p"])
        shown.attempted("p", {"messageId": "m1", "outcome": "handled", "id": "w1"})
        shown.stored([Outgoing("p", "m1", '{"body": "x"}', 5.0)])

        (entry,) = shown.changed_since(0)
        assert (entry.message_id, entry.outcome, entry.attempts) == ("m1", "handled", 1)
        assert (entry.envelope, entry.stored_at) == ('{"body": "x"}', 5.0)
    finally:
        store.close()
