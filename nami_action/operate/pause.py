"""`nami pause` / `nami resume`: stop and restart a pipeline's consumer, not its endpoint.

The switch is the consumer's event source mapping. Paused, the endpoint still answers 2xx and
stores every webhook in the queue; nothing is received, so no attempt is spent. Webhooks wait
there up to `queue.retention`: resume before that, or SQS deletes the oldest.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from nami_action.aws import stacks as cfn
from nami_action.aws.mappings import Mapping, get_mapping, mappings_by_queue_name, set_enabled
from nami_action.aws.session import Aws
from nami_action.compile import names
from nami_action.config import PipelineConfig
from nami_action.config.units import format_duration
from nami_action.errors import NamiError


@dataclass(frozen=True)
class Switched:
    pipeline: str
    stack_name: str
    was_paused: bool
    mapping: Mapping
    retention: int  # seconds a waiting webhook is kept (queue.retention)

    @property
    def paused(self) -> bool:
        return self.mapping.paused

    def message(self) -> str:
        settling = (
            ""
            if self.mapping.state in ("Enabled", "Disabled")
            else (f" (Lambda reports {self.mapping.state}: it takes effect within a minute)")
        )
        if self.paused:
            already = "was already paused" if self.was_paused else "paused"
            return (
                f"{self.pipeline}: {already}{settling}. The endpoint still accepts and stores "
                f"webhooks; they wait in the queue up to queue.retention "
                f"({format_duration(self.retention)}): `nami resume {self.pipeline}` before then"
            )
        already = "was not paused" if not self.was_paused else "resumed"
        return f"{self.pipeline}: {already}{settling}; the consumer takes waiting webhooks again"


def consumer_mapping(aws: Aws, stack_name: str) -> str | None:
    """The UUID of a stack's consumer event source mapping; None when there is none."""
    resources = cfn.stack_resources(aws, stack_name)
    return None if resources is None else resources.get(names.EVENT_SOURCE)


def set_paused(
    aws: Aws, pipeline: PipelineConfig, paused: bool, *, wait_seconds: float = 60.0
) -> Switched:
    """Disable (pause) or enable (resume) the pipeline's consumer mapping."""
    uuid = consumer_mapping(aws, pipeline.stack_name)
    if uuid is None:
        raise NamiError(
            f"pipeline `{pipeline.name}` has no deployed consumer (stack {pipeline.stack_name} "
            f"in {aws.region}): run `nami deploy` first"
        )
    before = get_mapping(aws, uuid)
    mapping = before
    if before.paused != paused:
        mapping = set_enabled(aws, uuid, not paused, wait_seconds=wait_seconds)
    return Switched(
        pipeline.name, pipeline.stack_name, before.paused, mapping, pipeline.spec.queue.retention
    )


def paused_queues(aws: Aws, queue_names: Iterable[str]) -> set[str]:
    """Of these queue names, those whose consumer is paused; one listing for them all. Empty
    when the caller may not list mappings (a plan role without lambda:ListEventSourceMappings)."""
    mappings = mappings_by_queue_name(aws) or {}
    return {name for name in queue_names if name in mappings and mappings[name].paused}


def keep_paused(aws: Aws, stack_name: str) -> str:
    """After a deploy of a paused pipeline: make sure its consumer is still paused, whatever
    CloudFormation did with the mapping; what was done, for the deploy output."""
    uuid = consumer_mapping(aws, stack_name)
    if uuid is None:
        return "the consumer was paused, and the stack has no event source mapping now"
    if get_mapping(aws, uuid).paused:
        return "the consumer stays paused (`nami resume` restarts it)"
    set_enabled(aws, uuid, False)
    return (
        "the consumer stays paused: the update re-enabled its event source mapping, which was "
        "disabled again (`nami resume` restarts it)"
    )
