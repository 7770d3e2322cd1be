"""The router of a `routes:` pipeline: a verified webhook goes to each matched route's queue.

The record body (the envelope, byte-exact) is sent unchanged, so each route's consumer
decodes the same webhook, `receivedAt` included. Route consumers do not verify again: the
router did, once, and only the router may write a route's queue (its IAM policy names them).

A send that fails must not make the routes that already got the webhook get it twice. So when
some routes got it and others did not, the router puts one copy back on its own queue, marked
with the routes still owed (`nami-routes`), and the record is done: the copy is routed to
those only. If that put fails too (a webhook near the queue's maximum size always does: SQS
counts the `nami-routes` attribute in the size), the consumer moves the copy, marked the
same way, to the pipeline's DLQ (which takes 1 MiB) with the reason, and the record is done;
only if that fails too is the record retried whole (the log line says the routes that got it
may see it again; a pipeline's `dedupe:` drops those copies in each route). When no route got
it, the record is simply retried. Each copy owes fewer routes than the record it
came from, so this ends: with one route left, the copy is retried and dead-lettered as usual.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .routing import RouteTest, matched_routes
from .webhook import Webhook

ROUTES_ATTRIBUTE = "nami-routes"  # on a copy the router put back: the routes still owed
QUEUE_URL_ENV = "NAMI_QUEUE_URL"  # the router's own queue; its routes' are named after it
# A route's queue is the router's queue name, this, and the route's name (config/routes.py
# names them so). `_` is never in a pipeline name: no other pipeline's queue can be one.
# Derived rather than listed in the environment: Lambda allows 4 KB of variables, and a URL
# per route would use it up at about 25 routes.
ROUTE_SEPARATOR = "_"
# A copy waits this long before it is routed again: a failed send is mostly a throttle or a
# brief outage of SQS. (Standard queues only: FIFO queues refuse a per-message delay.)
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html
REQUEUE_DELAY = 30
UNROUTED_REASON = "matched no route"


class Sender(Protocol):
    """Sends a message body to a queue (SQS in Lambda, the local queues in `nami dev`)."""

    def send(self, queue: str, body: str, attributes: Mapping[str, str], delay: int) -> None:
        """Store it; raise when it was not stored."""
        ...


@dataclass(frozen=True)
class Routed:
    """What routing one record did."""

    sent: list[str]  # routes that got it
    owed: list[str] = field(default_factory=list)  # routes that did not (put back, or retry)
    error: str | None = None
    requeued: bool = False

    @property
    def done(self) -> bool:
        return not self.owed or self.requeued


@dataclass
class Router:
    routes: Sequence[RouteTest]
    queues: Mapping[str, str]  # route name -> queue (URL, or `nami dev`'s queue name)
    sender: Sender
    own_queue: str | None = None  # where copies owing some routes go back
    describe: Callable[[BaseException], str] = lambda exc: f"{type(exc).__name__}: {exc}"

    def choose(self, record: Mapping[str, Any], webhook: Webhook) -> list[str]:
        """The routes this record goes to: a put-back copy's owed routes, else the matches."""
        owed = owed_routes(record)
        if owed is not None:
            return [name for name in owed if name in self.queues]
        return matched_routes(self.routes, webhook)

    def route(self, record: Mapping[str, Any], names: list[str]) -> Routed:
        body = str(record.get("body") or "")
        sent, owed, error = [], [], None
        for name in names:
            try:
                self.sender.send(self.queues[name], body, {}, 0)
                sent.append(name)
            except Exception as exc:
                owed.append(name)
                error = f"route {name}: {self.describe(exc)}"
        if not owed or not sent or self.own_queue is None:
            return Routed(sent, owed, error)
        try:
            attributes = {ROUTES_ATTRIBUTE: ",".join(owed)}
            self.sender.send(self.own_queue, body, attributes, REQUEUE_DELAY)
        except Exception as exc:
            return Routed(sent, owed, f"{error}; not put back: {self.describe(exc)}")
        return Routed(sent, owed, error, requeued=True)


def no_handler(webhook: Any) -> None:
    """The router's Consumer function: never called (the Consumer routes instead)."""
    raise AssertionError("the router routes; it calls no handler")


def owed_routes(record: Mapping[str, Any]) -> list[str] | None:
    """The `nami-routes` attribute of a put-back copy, or None."""
    text = record_attribute(record, ROUTES_ATTRIBUTE)
    if text is None:
        return None
    return [name for name in text.split(",") if name]


def record_attribute(record: Mapping[str, Any], name: str) -> str | None:
    """A string message attribute of an SQS record in Lambda's shape
    (`messageAttributes.<name>.stringValue`; `nami dev` builds its records the same way)."""
    attributes = record.get("messageAttributes") or {}
    value = attributes.get(name) if isinstance(attributes, Mapping) else None
    text = value.get("stringValue") if isinstance(value, Mapping) else None
    return text if isinstance(text, str) else None


def record_attributes(values: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """String message attributes in an SQS record's shape, as Lambda delivers them (what
    record_attribute reads): https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html"""
    return {
        name: {
            "stringValue": value,
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "String",
        }
        for name, value in values.items()
    }


def string_attributes(values: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """String message attributes in SendMessage's shape."""
    return {name: {"DataType": "String", "StringValue": value} for name, value in values.items()}


def route_queue_url(queue_url: str, route: str) -> str:
    """A route's queue URL from the router's own (same account, region and name prefix)."""
    return f"{queue_url}{ROUTE_SEPARATOR}{route}"


class SqsSender:
    """SendMessage with boto3 (the Lambda runtime provides it)."""

    def __init__(self, client: Callable[[], Any] | None = None) -> None:
        self._factory = client or _boto3_sqs
        self._client: Any = None

    def send(self, queue: str, body: str, attributes: Mapping[str, str], delay: int) -> None:
        if self._client is None:
            self._client = self._factory()
        params: dict[str, Any] = {"QueueUrl": queue, "MessageBody": body}
        if attributes:
            params["MessageAttributes"] = string_attributes(attributes)
        if delay:
            params["DelaySeconds"] = delay
        self._client.send_message(**params)


def _boto3_sqs() -> Any:
    import boto3  # lazy: the Lambda runtime provides it

    return boto3.client("sqs")
