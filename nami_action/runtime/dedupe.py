"""Dedupe by event id: a conditional marker in DynamoDB, claimed before the handler runs."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from .webhook import Webhook

PathStep = str | int

# `.name`, `[0]`, `['name']` or `["name"]`: enough for the ids providers put in their payloads.
_STEP = re.compile(r"""\.([^.\[\]]+)|\[(\d+)\]|\[(['"])(.*?)\3\]""")

PROCESSING = "processing"
DONE = "done"


class JsonPathError(ValueError):
    """The configured json_path is not a simple `$.a.b[0].c` path."""


def parse_json_path(path: str) -> list[PathStep]:
    """Turn `$.data.object.id` / `$.items[0]['key']` into steps; raise JsonPathError otherwise."""
    rest = path.strip()
    if not rest.startswith("$"):
        raise JsonPathError(f"json_path must start with '$': {path!r}")
    steps: list[PathStep] = []
    position = 1
    while position < len(rest):
        match = _STEP.match(rest, position)
        if match is None:
            raise JsonPathError(f"unsupported json_path {path!r} at offset {position}")
        name, index, _, quoted = match.groups()
        steps.append(int(index) if index is not None else (name if name is not None else quoted))
        position = match.end()
    return steps


def lookup(data: Any, steps: list[PathStep]) -> Any:
    """Follow steps into parsed JSON; None when any step is absent."""
    for step in steps:
        if not _has(data, step):
            return None
        data = data[step]
    return data


def _has(data: Any, step: PathStep) -> bool:
    if isinstance(step, int):
        return isinstance(data, list) and 0 <= step < len(data)
    return isinstance(data, dict) and step in data


def event_id(webhook: Webhook, header: str | None, json_path: str | None) -> str:
    """The provider's event id (header first, then body), else the envelope id."""
    if header:
        value = webhook.headers.get(header, "").strip()
        if value:
            return value
    if json_path:
        found = lookup(_json_or_none(webhook), parse_json_path(json_path))
        # Scalars only: a dict or list would make an unstable, oversized key.
        if isinstance(found, str) and found:
            return found
        if isinstance(found, int) and not isinstance(found, bool):
            return str(found)
    return webhook.id


def _json_or_none(webhook: Webhook) -> Any:
    try:
        return webhook.json()
    except ValueError:  # includes UnicodeDecodeError; a form or text body has no JSON id
        return None


@dataclass(frozen=True)
class Claim:
    """The answer to a claim: ours (an owner token), or the status of the marker in the way.

    Only `done` makes the record a duplicate. `processing` (an earlier copy running, or one
    that crashed and whose lease has not run out) or unknown means: retry later, never drop.
    """

    owner: str | None
    status: str | None = None

    @property
    def duplicate(self) -> bool:
        return self.owner is None and self.status == DONE


class Markers(Protocol):
    """Where dedupe markers live (DynamoDB in Lambda)."""

    def claim(self, key: str, now: float, expires_at: int, lease_until: int) -> Claim: ...

    def complete(self, key: str, owner: str) -> None: ...

    def release(self, key: str, owner: str) -> None: ...


class DynamoMarkers:
    """Markers in a table with hash key `id` (S) and TTL attribute `expiresAt`.

    A marker is `processing` while the handler runs and `done` after. A `processing` marker
    whose lease (the invocation's deadline) has passed belongs to a run that timed out or
    crashed, so the redelivered message takes it over. Before the lease ends the record is
    retried (the earlier copy may still finish or fail), never dropped. An `expiresAt` in the
    past is ignored too: DynamoDB TTL deletes lazily.
    """

    def __init__(self, table: str, client: Callable[[], Any] | None = None) -> None:
        self.table = table
        self._client_factory = client or _boto3_dynamodb
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self._client_factory()
        return self._client

    def claim(self, key: str, now: float, expires_at: int, lease_until: int) -> Claim:
        """Write the marker and own it, or report the status of the live marker in the way."""
        owner = uuid.uuid4().hex
        try:
            self.client.put_item(
                TableName=self.table,
                Item={
                    "id": {"S": key},
                    "expiresAt": {"N": str(expires_at)},
                    "status": {"S": PROCESSING},
                    "leaseUntil": {"N": str(lease_until)},
                    "owner": {"S": owner},
                },
                ConditionExpression=(
                    "attribute_not_exists(#id) OR #exp < :now"
                    " OR (#status = :processing AND #lease < :now)"
                ),
                ExpressionAttributeNames={
                    "#id": "id",
                    "#exp": "expiresAt",
                    "#status": "status",
                    "#lease": "leaseUntil",
                },
                ExpressionAttributeValues={
                    ":now": {"N": str(int(now))},
                    ":processing": {"S": PROCESSING},
                },
                # The marker in the way comes back with the error: no second read.
                # https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_PutItem.html
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except Exception as exc:
            if _is_condition_failure(exc):
                return Claim(None, _status_of(exc))
            raise
        return Claim(owner)

    def complete(self, key: str, owner: str) -> None:
        self._if_owner(
            "update_item",
            key,
            owner,
            UpdateExpression="SET #status = :done REMOVE #lease",
            extra_names={"#status": "status", "#lease": "leaseUntil"},
            extra_values={":done": {"S": DONE}},
        )

    def release(self, key: str, owner: str) -> None:
        self._if_owner("delete_item", key, owner)

    def _if_owner(
        self,
        operation: str,
        key: str,
        owner: str,
        extra_names: dict[str, str] | None = None,
        extra_values: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        # Only touch our own marker: if our lease ran out, another run may own it now.
        try:
            getattr(self.client, operation)(
                TableName=self.table,
                Key={"id": {"S": key}},
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner", **(extra_names or {})},
                ExpressionAttributeValues={":owner": {"S": owner}, **(extra_values or {})},
                **kwargs,
            )
        except Exception as exc:
            if not _is_condition_failure(exc):
                raise


def _is_condition_failure(exc: Exception) -> bool:
    response = getattr(exc, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return code == "ConditionalCheckFailedException"


def _status_of(exc: Exception) -> str | None:
    item = getattr(exc, "response", {}).get("Item") or {}
    status = item.get("status", {}).get("S") if isinstance(item, dict) else None
    return str(status) if status else None


def _boto3_dynamodb() -> Any:
    import boto3  # lazy: only pipelines with dedupe need it

    return boto3.client("dynamodb")
