"""Dedupe markers in the dev database: the runtime's Markers protocol, with DynamoMarkers'
rules (a live `done` marker is a duplicate; an unexpired `processing` lease means "retry
later"; an expired one is taken over), in SQLite."""

from __future__ import annotations

import uuid

from nami_action.dev.queue import Store
from nami_action.runtime.dedupe import DONE, PROCESSING, Claim


class SqliteMarkers:
    """Markers in the `dedupe_markers` table of the dev queue database."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def claim(self, key: str, now: float, expires_at: int, lease_until: int) -> Claim:
        """Write the marker and own it, or report the status of the live marker in the way."""
        owner = uuid.uuid4().hex
        _, changed = self._store.write(
            "INSERT INTO dedupe_markers (key, status, owner, lease_until, expires_at)"
            " VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (key) DO UPDATE SET status = excluded.status,"
            " owner = excluded.owner, lease_until = excluded.lease_until,"
            " expires_at = excluded.expires_at"
            " WHERE dedupe_markers.expires_at < ?"
            " OR (dedupe_markers.status = ? AND dedupe_markers.lease_until < ?)",
            (key, PROCESSING, owner, lease_until, expires_at, int(now), PROCESSING, int(now)),
        )
        if changed == 1:
            return Claim(owner)
        rows, _ = self._store.write("SELECT status FROM dedupe_markers WHERE key = ?", (key,))
        return Claim(None, str(rows[0][0]) if rows else None)

    def complete(self, key: str, owner: str) -> None:
        self._store.write(
            "UPDATE dedupe_markers SET status = ? WHERE key = ? AND owner = ?", (DONE, key, owner)
        )

    def release(self, key: str, owner: str) -> None:
        self._store.write("DELETE FROM dedupe_markers WHERE key = ? AND owner = ?", (key, owner))


def release_unfinished(store: Store) -> int:
    """Drop every `processing` marker (at start: the database belongs to this process only, so
    they were left by a run that was killed; their webhooks are about to be redelivered)."""
    _, count = store.write("DELETE FROM dedupe_markers WHERE status = ?", (PROCESSING,))
    return count
