"""The plan's view of drift: a warning on each deployed pipeline whose live resources differ
from its deployed template (direct reads only: CloudFormation's detection takes minutes)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from nami_action.aws import stacks as cfn
from nami_action.aws.session import Aws
from nami_action.drift.detect import deployed, pipeline_drift
from nami_action.plan.model import PipelinePlan, PlanWarning

CHECKED_ACTIONS = ("none", "update")


def mark_drift(
    aws: Aws, stacks: dict[str, cfn.StackInfo], plans: list[PipelinePlan], max_parallel: int
) -> list[PipelinePlan]:
    """The plans, with a `drifted` (or `drift-unchecked`) warning where it applies."""
    with ThreadPoolExecutor(max_workers=max(1, max_parallel)) as pool:
        return list(pool.map(lambda plan: _marked(aws, stacks.get(plan.stack_name), plan), plans))


def _marked(aws: Aws, stack: cfn.StackInfo | None, plan: PipelinePlan) -> PipelinePlan:
    if plan.error or plan.action not in CHECKED_ACTIONS or stack is None:
        return plan
    if not deployed(stack) or stack.busy:
        return plan
    drift = pipeline_drift(aws, plan.pipeline, stack)
    if drift.error:
        warning = PlanWarning(
            plan.pipeline, "drift-unchecked", f"{plan.stack_name}: drift not checked: {drift.error}"
        )
    elif drift.drifted:
        warning = PlanWarning(
            plan.pipeline,
            "drifted",
            f"{plan.stack_name} drifted from its template (deploy puts the declared values "
            f"back): {drift.summary()}",
        )
    else:
        return plan
    return replace(plan, warnings=[*plan.warnings, warning])
