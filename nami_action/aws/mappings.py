"""Lambda event source mappings: the switch between a pipeline's queue and its consumer.

Disabling a mapping stops Lambda polling the queue; the endpoint keeps storing webhooks in it
(they wait, within the queue's retention) and nothing is received, so no receive is counted
against max_receive_count while paused.
https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import botocore.exceptions

from nami_action.aws.session import DENIED_CODES, Aws, error_code, translate_errors

# GetEventSourceMapping's State: a change goes through Enabling/Disabling (or Updating).
PAUSED_STATES = frozenset({"Disabled", "Disabling"})
SETTLED_STATES = frozenset({"Enabled", "Disabled"})


@dataclass(frozen=True)
class Mapping:
    uuid: str
    state: str
    queue_arn: str

    @property
    def paused(self) -> bool:
        return self.state in PAUSED_STATES


def _mapping(raw: dict[str, object]) -> Mapping:
    return Mapping(
        str(raw.get("UUID", "")), str(raw.get("State", "")), str(raw.get("EventSourceArn", ""))
    )


def get_mapping(aws: Aws, uuid: str) -> Mapping:
    with translate_errors(f"reading event source mapping {uuid}"):
        return _mapping(aws.client("lambda").get_event_source_mapping(UUID=uuid))


def mappings_by_queue_name(aws: Aws) -> dict[str, Mapping] | None:
    """Every mapping of the region, by the name of the queue it reads (one paginated call for
    all pipelines); None when the caller may not list them (a role without the permission)."""
    found: dict[str, Mapping] = {}
    paginator = aws.client("lambda").get_paginator("list_event_source_mappings")
    with translate_errors("listing the Lambda event source mappings"):
        try:
            for page in paginator.paginate():
                for raw in page.get("EventSourceMappings", []):
                    mapping = _mapping(raw)
                    found[mapping.queue_arn.rsplit(":", 1)[-1]] = mapping
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) in DENIED_CODES:
                return None
            raise
    return found


def set_enabled(
    aws: Aws, uuid: str, enabled: bool, *, wait_seconds: float = 60.0, poll_seconds: float = 1.0
) -> Mapping:
    """Enable or disable a mapping and wait (a while) for Lambda to settle it; the mapping
    as last read (its state may still be Enabling/Disabling after `wait_seconds`)."""
    with translate_errors(f"{'enabling' if enabled else 'disabling'} event source mapping {uuid}"):
        aws.client("lambda").update_event_source_mapping(UUID=uuid, Enabled=enabled)
    deadline = time.monotonic() + wait_seconds
    while True:
        mapping = get_mapping(aws, uuid)
        if mapping.state in SETTLED_STATES or time.monotonic() >= deadline:
            return mapping
        time.sleep(poll_seconds)
