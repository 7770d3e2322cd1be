"""Slack Events API -> the support tool's inbox.

Pipeline `slack` in examples/nami.yaml, behind a function URL: the ingest function has already
checked X-Slack-Signature (forged requests got 401 and were never stored) and answered Slack's
`url_verification` challenge itself, so only real events arrive here.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nami_runtime import Webhook


def handle(webhook: Webhook) -> None:
    payload = webhook.json()
    event = payload.get("event") or {}
    print(json.dumps({"slack_event": event.get("type"), "team": payload.get("team_id")}))
