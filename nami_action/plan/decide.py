"""Pure decisions of the planner: what to do with each stack, and what could lose messages."""

from __future__ import annotations

import difflib
import json
from typing import Any

from nami_action.aws.stacks import StackInfo
from nami_action.compile import names
from nami_action.compile.pipeline import fingerprint_of
from nami_action.plan.model import Action, PlanWarning, ResourceChange

# Changing these replaces an SQS queue (AWS::SQS::Queue "Update requires: Replacement").
QUEUE_REPLACING_PROPERTIES = ("QueueName", "FifoQueue")
RECREATE_STATUSES = ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED")


STABLE_STATUSES = (
    "CREATE_COMPLETE",
    "UPDATE_COMPLETE",
    "UPDATE_ROLLBACK_COMPLETE",
    "IMPORT_COMPLETE",
    "IMPORT_ROLLBACK_COMPLETE",
)
BROKEN_STATUSES = ("DELETE_FAILED", "UPDATE_ROLLBACK_FAILED", "IMPORT_ROLLBACK_FAILED")


class NotOurs(Exception):
    """The stack exists but nami must not touch it; the message says why and what to do."""


def check_ownership(stack: StackInfo, project: str, pipeline: str) -> None:
    """Never take over a stack nami did not make for this very pipeline: deploying over it
    would delete every resource of it that is not in the pipeline's template."""
    if stack.status == "REVIEW_IN_PROGRESS":
        return
    owner = (stack.tags.get(names.TAG_PROJECT), stack.tags.get(names.TAG_PIPELINE))
    if owner != (project, pipeline):
        made_by = (
            f"nami project `{owner[0]}` pipeline `{owner[1]}`" if owner[0] else "something else"
        )
        raise NotOurs(
            f"stack {stack.name} already exists and was made by {made_by}, not by this "
            f"pipeline; nami will not take it over: rename the pipeline or the project"
        )
    if stack.status in BROKEN_STATUSES:
        raise NotOurs(
            f"stack {stack.name} is {stack.status}: repair it first (continue the rollback or "
            "delete the stack in the CloudFormation console), then run nami again"
        )


def decide(stack: StackInfo | None, template: str) -> tuple[Action, str]:
    """create / update / none, from what is deployed; no change set needed to decide."""
    if stack is None:
        return "create", "new pipeline"
    if stack.status == "REVIEW_IN_PROGRESS":
        # Only change sets were ever made (an earlier plan leaves this empty stack): to the
        # reader it is the same new pipeline, and the same plan renders the same comment.
        return "create", "new pipeline"
    if stack.status in RECREATE_STATUSES:
        return "create", f"previous create failed ({stack.status}); the stack will be re-created"
    deployed = fingerprint_of(stack.description)
    if deployed is None:
        return "update", "no fingerprint on the deployed stack"
    if stack.status not in STABLE_STATUSES:
        return "update", f"stack is {stack.status}"
    if deployed == fingerprint_of(json.loads(template).get("Description")):
        return "none", ""
    return "update", "template changed"


def compact(template: str) -> str:
    """What is sent to CloudFormation: canonical JSON without indentation (smaller body)."""
    return json.dumps(json.loads(template), sort_keys=True, separators=(",", ":"))


def unified_diff(stack_name: str, deployed: str, compiled: str) -> str:
    lines = difflib.unified_diff(
        deployed.splitlines(keepends=True),
        compiled.splitlines(keepends=True),
        fromfile=f"deployed/{stack_name}",
        tofile=f"compiled/{stack_name}",
        n=3,
    )
    return "".join(lines)


def resource_changes(rows: list[dict[str, str]]) -> list[ResourceChange]:
    return [ResourceChange(**row) for row in rows]


def all_added(template: dict[str, Any]) -> list[ResourceChange]:
    return [
        ResourceChange("Add", logical_id, resource["Type"], "")
        for logical_id, resource in sorted(template["Resources"].items())
    ]


def queue_warnings(
    pipeline: str,
    deployed: dict[str, Any] | None,
    compiled: dict[str, Any] | None,
    changes: list[ResourceChange],
) -> list[tuple[str, PlanWarning]]:
    """(queue logical id, warning) for every queue this change replaces or removes.

    CloudFormation says so in the change set on AWS; the emulator leaves Replacement empty,
    so the template itself is compared too (a changed QueueName or FifoQueue replaces)."""
    found: dict[str, PlanWarning] = {}
    queues = names.queue_ids(deployed) | names.queue_ids(compiled)
    queues |= {c.logical_id for c in changes if c.resource_type == names.QUEUE_TYPE}
    for change in changes:
        if change.logical_id not in queues:
            continue
        if change.action == "Remove":
            found[change.logical_id] = _removed(pipeline, change.logical_id)
        elif change.replacement in ("True", "Conditional"):
            found[change.logical_id] = _replaced(pipeline, change.logical_id, change.replacement)
    for logical_id in sorted(queues):
        if logical_id in found or deployed is None:
            continue
        before = deployed.get("Resources", {}).get(logical_id)
        after = (compiled or {}).get("Resources", {}).get(logical_id)
        if before is not None and after is None:
            found[logical_id] = _removed(pipeline, logical_id)
        elif before is not None and after is not None and _replacing(before, after):
            found[logical_id] = _replaced(pipeline, logical_id, "True")
    return sorted(found.items())


def _replacing(before: dict[str, Any], after: dict[str, Any]) -> bool:
    old, new = before.get("Properties", {}), after.get("Properties", {})
    return any(old.get(key) != new.get(key) for key in QUEUE_REPLACING_PROPERTIES)


def _label(logical_id: str) -> str:
    """`dead-letter queue` / `queue`; a route's queue is named by its logical id."""
    kind = "dead-letter queue" if logical_id.endswith(names.DEAD_LETTER_QUEUE) else "queue"
    own = logical_id in (names.QUEUE, names.DEAD_LETTER_QUEUE)
    return kind if own else f"{kind} {logical_id}"


def _replaced(pipeline: str, logical_id: str, how: str) -> PlanWarning:
    maybe = "may be" if how == "Conditional" else "is"
    return PlanWarning(
        pipeline,
        "queue-replaced",
        f"the {_label(logical_id)} of `{pipeline}` {maybe} replaced: deploy --force moves the "
        "webhooks stored in the old queue into the new one after the update (journaled, "
        "operate/carry_over.py); the old queue is kept, empty",
        loses_messages=True,
        resource=logical_id,
    )


def _removed(pipeline: str, logical_id: str) -> PlanWarning:
    return PlanWarning(
        pipeline,
        "queue-removed",
        f"the {_label(logical_id)} of `{pipeline}` is removed from the stack (retained in "
        "SQS, no longer consumed)",
        loses_messages=True,
        resource=logical_id,
    )


def waiting_warning(pipeline: str, logical_id: str, count: int) -> PlanWarning:
    return PlanWarning(
        pipeline,
        "messages-waiting",
        f"{count} webhook{'s' if count != 1 else ''} wait in the {_label(logical_id)} of "
        f"`{pipeline}`, which this change touches",
        loses_messages=False,
    )


def deleted_warning(pipeline: str, waiting: int) -> PlanWarning:
    held = f"; its queues hold {waiting} webhooks" if waiting else ""
    return PlanWarning(
        pipeline,
        "pipeline-deleted",
        f"pipeline `{pipeline}` left nami.yaml: its stack will be deleted with --prune{held} "
        "(queues are retained, but nothing consumes them any more)",
        loses_messages=waiting > 0,
    )
