"""Deploy's restore step: put the declared values back on a drifted pipeline.

CloudFormation re-applies a property only when its template value changes, so an update with
an unchanged template (or one changing other properties) leaves drift in place. Drift-aware
change sets (CreateChangeSet DeploymentMode=REVERT_DRIFT,
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/drift-aware-change-sets.html)
would revert it on AWS, but the emulator has neither them nor drift detection; the direct
writes here work on both and are checked by reading the live values again afterwards.
"""

from __future__ import annotations

from itertools import groupby

from nami_action.aws import live
from nami_action.aws import stacks as cfn
from nami_action.aws.session import Aws
from nami_action.drift.detect import declared_of, direct_findings
from nami_action.errors import NamiError
from nami_action.plan.model import Outcome, PipelinePlan

RESTORABLE_OUTCOMES = ("unchanged", "updated")
HOW_TO_RECREATE = (
    "CloudFormation cannot recreate a resource deleted behind its back: drain the pipeline, "
    "then `nami destroy {pipeline}` and `nami deploy` to build it again"
)


def restore_drift(
    aws: Aws, plan: PipelinePlan, outcome: Outcome, reasons: list[str]
) -> tuple[Outcome, list[str]]:
    """After the pipeline's change set (if any) ran: read the drift again against the
    template now deployed, write the declared values back, and read once more to prove it."""
    if not plan.drifted or outcome not in RESTORABLE_OUTCOMES:
        return outcome, reasons
    stack = cfn.describe_stack(aws, plan.stack_name)
    if stack is None:
        return outcome, reasons
    resources = declared_of(aws, stack)
    by_id = {resource.logical_id: resource for resource in resources}
    findings = direct_findings(aws, resources)
    if not findings:
        return outcome, reasons  # the update itself put everything back
    restored: list[str] = []
    problems: list[str] = []
    for logical_id, group in groupby(findings, key=lambda f: f.logical_id):
        found = list(group)
        if any(f.kind == "deleted" for f in found):
            problems.append(
                f"{logical_id} was deleted: " + HOW_TO_RECREATE.format(pipeline=plan.pipeline)
            )
            continue
        try:
            restored += live.restore(aws, by_id[logical_id], [f.property for f in found])
        except NamiError as exc:
            problems.append(f"could not restore {logical_id}: {exc}")
    left = [f.summary() for f in direct_findings(aws, resources) if f.kind != "deleted"]
    notes = [f"restored {what} to its declared value" for what in restored]
    if problems or left:
        still = [f"still drifted: {summary}" for summary in left]
        return "failed", [*reasons, *notes, *problems, *still]
    return ("restored" if outcome == "unchanged" else outcome), [*reasons, *notes]
