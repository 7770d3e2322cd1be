"""The SQLite queue keeps SQS's rules: visibility, receipts, receive counts, dead letters."""

from __future__ import annotations

from pathlib import Path

import pytest

from nami_action.dev.dedupe import SqliteMarkers, release_unfinished
from nami_action.dev.queue import Outgoing, Store, StoreError
from nami_action.dev.workers import failed_ids
from nami_action.runtime.dedupe import Claim


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store.open(tmp_path)
    store.send([Outgoing("p", f"m{i}", f"body{i}", 100.0 + i) for i in range(3)])
    return store


def test_receive_hides_then_redelivers_with_a_higher_count(store: Store) -> None:
    first = store.receive("p", 2, visibility_timeout=30, max_receive_count=5, now=200)
    assert [m.message_id for m in first] == ["m0", "m1"]
    assert [m.receive_count for m in first] == [1, 1]
    assert [m.message_id for m in store.receive("p", 10, 30, 5, now=201)] == ["m2"]
    assert store.receive("p", 10, 30, 5, now=229) == []  # all hidden
    again = store.receive("p", 10, 30, 5, now=231)
    assert [(m.message_id, m.receive_count) for m in again] == [("m0", 2), ("m1", 2), ("m2", 2)]
    assert again[0].first_received_at == 200
    # a receipt from the first receive is stale now: deletes nothing, as in SQS
    assert store.delete([first[0].receipt]) == 0
    assert store.delete([m.receipt for m in again]) == 3
    assert store.depth("p", 300).visible == 0


def test_exhausted_messages_move_to_dead_letters(store: Store) -> None:
    for now in (200, 300):
        assert len(store.receive("p", 10, 30, max_receive_count=2, now=now)) == 3
    assert store.receive("p", 10, 30, 2, now=400) == []  # exhausted: never delivered again
    assert store.dead_letter("p", 2, now=400) == 3
    letters = store.dead_letters("p")
    assert [(m.message_id, m.receive_count) for m in letters] == [("m0", 2), ("m1", 2), ("m2", 2)]
    assert {(m.outcome, m.reason) for m in letters} == {(None, None)}  # receives ran out
    assert store.depth("p", 400).dead == 3


def test_release_all_makes_in_flight_messages_visible(store: Store) -> None:
    store.receive("p", 10, 3600, 5, now=200)
    assert store.depth("p", 201).in_flight == 3
    assert store.release_all(now=201) == 3
    assert store.depth("p", 201).visible == 3


def test_purge_drops_what_retention_would(store: Store) -> None:
    assert store.purge_expired("p", retention=60, dlq_retention=60, now=161.5) == 2
    assert store.depth("p", 200).visible == 1


def test_bad_receipt_is_refused(store: Store) -> None:
    with pytest.raises(StoreError):
        store.delete(["nonsense"])


def test_sqlite_markers_follow_the_dynamodb_rules(store: Store) -> None:
    markers = SqliteMarkers(store)
    owner = markers.claim("p#1", now=100, expires_at=1000, lease_until=130).owner
    assert owner is not None
    leased = markers.claim("p#1", now=110, expires_at=1000, lease_until=140)
    assert leased == Claim(None, "processing") and not leased.duplicate  # retry, not drop
    taken = markers.claim("p#1", now=131, expires_at=1000, lease_until=160).owner  # lease over
    assert taken is not None
    markers.complete("p#1", owner)  # not the owner any more: no effect
    assert markers.claim("p#1", now=150, expires_at=1000, lease_until=170).owner is None
    markers.release("p#1", taken)
    done = markers.claim("p#1", now=151, expires_at=1000, lease_until=170).owner
    assert done is not None
    markers.complete("p#1", done)
    assert markers.claim("p#1", now=999, expires_at=2000, lease_until=1020).duplicate  # done
    assert markers.claim("p#1", now=1001, expires_at=2000, lease_until=1020).owner is not None


def test_processing_markers_are_released_at_start(store: Store) -> None:
    markers = SqliteMarkers(store)
    markers.claim("p#crashed", now=100, expires_at=1000, lease_until=10_000)
    finished = markers.claim("p#done", now=100, expires_at=1000, lease_until=10_000).owner
    assert finished is not None
    markers.complete("p#done", finished)
    assert release_unfinished(store) == 1
    assert markers.claim("p#crashed", now=101, expires_at=1000, lease_until=130).owner
    assert markers.claim("p#done", now=101, expires_at=1000, lease_until=130).duplicate


def test_batch_item_failures_are_read_like_lambda(store: Store) -> None:
    messages = store.receive("p", 10, 30, 5, now=200)
    ids = {m.message_id for m in messages}
    assert failed_ids(None, messages) == set()
    assert failed_ids({"batchItemFailures": []}, messages) == set()
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": "m1"}]}, messages) == {"m1"}
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": "zz"}]}, messages) == ids
    assert failed_ids({"batchItemFailures": "bad"}, messages) == ids
