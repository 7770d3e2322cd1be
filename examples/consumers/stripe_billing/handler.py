"""Stripe billing events -> the internal ledger.

Pipeline `stripe` in examples/nami.yaml: the runtime has checked Stripe-Signature (with a
5-minute tolerance) and dropped events whose `evt_...` id it processed in the last 3 days.

Environment: LEDGER_URL, LEDGER_API_TOKEN (resolved from SSM by the runtime at cold start).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nami_runtime import Webhook


def handle(webhook: Webhook) -> None:
    event = webhook.json()
    entry = ledger_entry(event)
    if entry is None:
        return  # an event type billing does not book; acknowledged, not retried
    # Stripe's event id is the idempotency key: Stripe may send one event several times
    # (and the runtime's dedupe window ends), but the ledger must book it exactly once.
    post_entry(entry, idempotency_key=event["id"])


def ledger_entry(event: dict[str, Any]) -> dict[str, Any] | None:
    """Translate a Stripe event into a ledger booking, or None when nothing is booked."""
    kind = event.get("type")
    obj = event.get("data", {}).get("object", {})
    if kind == "invoice.paid":
        amount = obj["amount_paid"]
        direction = "credit"
    elif kind == "charge.refunded":
        amount = obj["amount_refunded"]
        direction = "debit"
    else:
        return None
    return {
        "customer": obj.get("customer"),
        "direction": direction,
        "amount": amount,  # Stripe amounts are integers in the smallest currency unit
        "currency": obj.get("currency"),
        "source": f"stripe:{event['id']}",
        "occurredAt": event.get("created"),
    }


def post_entry(entry: dict[str, Any], idempotency_key: str) -> None:
    request = urllib.request.Request(
        f"{os.environ['LEDGER_URL'].rstrip('/')}/entries",
        data=json.dumps(entry).encode(),
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {os.environ['LEDGER_API_TOKEN']}",
            "Idempotency-Key": idempotency_key,
        },
    )
    try:
        urllib.request.urlopen(request, timeout=10).close()
    except urllib.error.HTTPError as error:
        if error.code != 409:  # 409: already booked under this key, which is success
            raise  # anything else: let SQS retry, then park it in the dead-letter queue
