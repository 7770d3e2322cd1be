"""Warehouse order updates -> the order service.

Pipeline `orders` in examples/nami.yaml: a FIFO queue keeps updates in order, the runtime has
checked the base64 HMAC in X-Signature. The warehouse sends JSON or, from its older system,
a form-encoded body; both carry order_id, status and a version that grows with every change.

Environment: ORDER_SERVICE_URL.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nami_runtime import Webhook

STATUSES = {"received", "picked", "packed", "shipped", "delivered", "cancelled"}


class BadUpdate(ValueError):
    """The warehouse sent an update this code does not understand."""


def handle(webhook: Webhook) -> None:
    # A bad payload raises too: after the retries it parks in the dead-letter queue, where
    # it can be inspected and replayed once fixed, instead of vanishing from a log.
    apply_update(parse_update(webhook))


def parse_update(webhook: Webhook) -> dict[str, str | int]:
    content_type = webhook.headers.get("Content-Type", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        fields = {name: values[-1] for name, values in webhook.form().items()}
    else:
        fields = webhook.json()
    try:
        update: dict[str, str | int] = {
            "order_id": str(fields["order_id"]),
            "status": str(fields["status"]),
            "version": int(fields["version"]),
        }
    except (KeyError, TypeError, ValueError) as error:
        raise BadUpdate(f"missing or invalid field: {error}") from None
    if update["status"] not in STATUSES:
        raise BadUpdate(f"unknown status {update['status']!r}")
    return update


def apply_update(update: dict[str, str | int]) -> None:
    order_id = urllib.parse.quote(str(update["order_id"]), safe="")
    request = urllib.request.Request(
        f"{os.environ['ORDER_SERVICE_URL'].rstrip('/')}/orders/{order_id}/status",
        data=json.dumps({"status": update["status"], "version": update["version"]}).encode(),
        method="PUT",
        # Keyed on (order, version), not on the delivery: the same change re-sent by the
        # warehouse under a new request id is still the same change. The service answers
        # 409 when it already holds this version or a newer one.
        headers={
            "Content-Type": "application/json",
            "Idempotency-Key": f"{update['order_id']}:{update['version']}",
        },
    )
    try:
        urllib.request.urlopen(request, timeout=10).close()
    except urllib.error.HTTPError as error:
        if error.code != 409:
            raise
