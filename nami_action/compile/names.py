"""Logical ids, physical names and tags: one place, so plan and compile agree."""

from __future__ import annotations

import hashlib
from typing import Any, TypeVar

from troposphere import AWSObject, Tags

from nami_action.config import Config, PipelineConfig
from nami_action.config.naming import TAG_PIPELINE as TAG_PIPELINE
from nami_action.config.naming import TAG_PROJECT as TAG_PROJECT
from nami_action.config.naming import TAG_VERSION as TAG_VERSION
from nami_action.config.naming import dead_letter_queue_name as dead_letter_queue_name
from nami_action.config.naming import queue_name as queue_name
from nami_action.config.naming import resource_tags as resource_tags
from nami_action.config.routes import logical_prefix, route_pipelines

STAGE_NAME = "live"
QUEUE = "Queue"
DEAD_LETTER_QUEUE = "DeadLetterQueue"
FUNCTION = "Consumer"
EVENT_SOURCE = "ConsumerEventSource"
REST_API = "Api"
HTTP_API = "HttpApi"
# The API a pipeline's endpoint hangs off, whichever ingress kind compiled it.
API_LOGICAL_IDS = (REST_API, HTTP_API)
INGEST_FUNCTION = "IngestFunction"  # ingress: function-url
STAGE = "ApiStage"
QUEUE_TYPE = "AWS::SQS::Queue"
FINGERPRINT_PREFIX = "nami-fingerprint:"
LOG_RETENTION_DAYS = 30


API_OF_KIND = {"rest": REST_API, "http": HTTP_API}


def queue_ids(template: dict[str, Any] | None) -> set[str]:
    """The logical ids of every SQS queue a template holds, by resource Type: the pipeline's
    own and each route's (`Route<X>Queue`), so a plan sees a route's queue go too."""
    resources = (template or {}).get("Resources") or {}
    return {i for i, r in resources.items() if isinstance(r, dict) and r.get("Type") == QUEUE_TYPE}


def queue_names(pipeline: PipelineConfig) -> list[str]:
    """The physical names of every queue a pipeline's stack makes: its queue and dead-letter
    queue, then each route's (`<queue>_<route>`, `<queue>_<route>-dlq`)."""
    return list(queue_names_by_id(pipeline).values())


def queue_names_by_id(pipeline: PipelineConfig) -> dict[str, str]:
    """Logical id -> physical name of every queue a pipeline's stack makes (`Queue`,
    `DeadLetterQueue`, then each route's `Route<X>Queue` and `Route<X>DeadLetterQueue`)."""
    owners = {"": pipeline} | {
        logical_prefix(route): derived for route, derived in route_pipelines(pipeline).items()
    }
    return {
        prefix + title: name(owner)
        for prefix, owner in owners.items()
        for title, name in ((QUEUE, queue_name), (DEAD_LETTER_QUEUE, dead_letter_queue_name))
    }


def api_id_of(resources: dict[str, str], kind: str | None = None) -> str | None:
    """The deployed API's id from a stack's resources: of ingress `kind` (a stack may also hold
    a retiring endpoint of the other kind), or whichever it holds when the kind is unknown
    (moto's CloudFormation skips ApiGatewayV2, so an `http` stack on the emulator has none:
    callers show no URL)."""
    wanted = API_LOGICAL_IDS if kind is None else (API_OF_KIND.get(kind, ""),)
    return next((resources[i] for i in wanted if resources.get(i)), None)


def cfn_tags(config: Config, pipeline: PipelineConfig) -> Tags:
    return Tags(**resource_tags(config, pipeline))


R = TypeVar("R", bound=AWSObject)


def disposable(resource: R) -> R:
    """Say out loud that this stateful resource (logs, dedupe marks) goes with its stack."""
    resource.DeletionPolicy = "Delete"
    resource.UpdateReplacePolicy = "Delete"
    return resource


def short_hash(text: str, length: int = 8) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def path_segments(path: str) -> list[str]:
    return [segment for segment in path.split("/") if segment]


def resource_logical_id(segments: list[str]) -> str:
    """Stable id per path prefix: `ApiPath` + hash, since segments may hold `.` or `-`."""
    return "ApiPath" + short_hash("/".join(segments)).upper()
