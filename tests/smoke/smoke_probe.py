"""The consumer the AWS smoke check deploys in place of each example handler.

It prints one JSON line per webhook with what the handler saw, which the check reads back from
CloudWatch Logs. Stdlib only: it runs inside the consumer Lambda next to the Nami runtime.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

PROBE_HEADER = "X-Smoke-Probe"
# `ingress: http` carries only the scheme's headers: for GitHub its delivery id, which every
# probe sets to the probe's name.
DELIVERY_HEADER = "X-GitHub-Delivery"
MARKER = "nami-smoke"


def seen(webhook: Any) -> dict[str, Any]:
    return {
        "probe": webhook.headers.get(PROBE_HEADER) or webhook.headers.get(DELIVERY_HEADER),
        "id": webhook.id,
        "sha256": hashlib.sha256(webhook.body).hexdigest(),
        "length": len(webhook.body),
        "contentType": webhook.headers.get("Content-Type"),
    }


def handle(webhook: Any) -> None:
    print(json.dumps({MARKER: seen(webhook)}, sort_keys=True))
