"""apply: carry out a plan. Execute the kept change sets in parallel, wait while streaming
stack events, explain failures by their resources' reasons, never lose stored webhooks."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from nami_action.aws import stacks as cfn
from nami_action.aws.mappings import get_mapping
from nami_action.aws.session import Aws
from nami_action.compile import names
from nami_action.compile.dashboard import dashboard_url
from nami_action.drift.restore import restore_drift
from nami_action.errors import NamiError
from nami_action.operate.carry_over import MOVE_FOLDER, carry_over, record_intent, replaced_urls
from nami_action.operate.pause import consumer_mapping, keep_paused
from nami_action.operate.pipelines import endpoint_of
from nami_action.plan import decide
from nami_action.plan.model import DeployResult, Outcome, PipelinePlan, PipelineResult
from nami_action.plan.planner import PlanRun, change_set_name, make_change_set

EventSink = Callable[[cfn.StackEvent], None]
Attempt = Callable[[], tuple[Outcome, list[str]]]
SUCCESS = {"CREATE_COMPLETE", "UPDATE_COMPLETE"}
# SQS CreateQueue: "You must wait 60 seconds after deleting a queue before you can create
# another with the same name" (error QueueDeletedRecently; SQS API reference, CreateQueue).
# It happens when a failed create rolled back (its new queues go: RetainExceptOnCreate) and the
# deploy creates the stack again at once, or when someone deleted kept queues just before.
QUEUE_DELETED_RECENTLY = ("QueueDeletedRecently", "wait 60 seconds after deleting a queue")
QUEUE_NAME_COOLDOWN_SECONDS = 65.0
QUEUE_NAME_ATTEMPTS = 3


@dataclass(frozen=True)
class DeployOptions:
    prune: bool = False  # delete stacks whose pipeline left nami.yaml
    force: bool = False  # go ahead even where webhooks would be orphaned
    max_parallel: int = 4
    poll_seconds: float = 2.0
    queue_cooldown_seconds: float = QUEUE_NAME_COOLDOWN_SECONDS
    # Called with the pipeline right before its change set is executed or its stack deleted;
    # a NamiError it raises fails that pipeline untouched (the Action re-checks there that
    # the commit is still the branch's tip and the checkout still that commit).
    before_change: Callable[[str], None] | None = field(default=None, compare=False)
    move_folder: Path | None = None  # replaced queues' moves; default .nami/moves by nami.yaml


def queue_deleted_recently(reasons: list[str]) -> bool:
    """Whether a failed stack operation failed only for SQS's wait after deleting a queue."""
    return any(marker in reason for reason in reasons for marker in QUEUE_DELETED_RECENTLY)


def retry_while_queue_name_cools(
    attempt: Attempt, wait: Callable[[], None], attempts: int = QUEUE_NAME_ATTEMPTS
) -> tuple[Outcome, list[str]]:
    """Run `attempt`; while it fails because a queue of the same name was deleted less than a
    minute ago, wait and run it again (at most `attempts` runs). Any other result is final."""
    for remaining in range(attempts - 1, -1, -1):
        outcome, reasons = attempt()
        if outcome != "failed" or not queue_deleted_recently(reasons) or remaining == 0:
            return outcome, reasons
        wait()
    raise AssertionError("unreachable: the last attempt returns")


def endpoint_url(aws: Aws, stack_name: str, path: str, kind: str | None = None) -> str | None:
    """Derived from the stack's resources (the API id of ingress `kind`), so it works without
    Outputs."""
    resources = cfn.stack_resources(aws, stack_name) or {}
    return endpoint_of(aws, resources, path, kind)


def refusal(plan: PipelinePlan, options: DeployOptions) -> tuple[Outcome, str] | None:
    """Why this pipeline must not be touched now, if it must not."""
    if plan.action == "delete" and not options.prune:
        return "skipped", "not deleted: run with --prune to delete pipelines removed from nami.yaml"
    losing = [w.message for w in plan.warnings if w.loses_messages]
    if losing and not options.force:
        return "refused", "refused, it could lose stored webhooks: " + "; ".join(losing) + (
            " (drain or redrive the queue, or run with --force)"
        )
    return None


class Deployer:
    def __init__(self, aws: Aws, run: PlanRun, options: DeployOptions, on_event: EventSink):
        self.aws, self.run, self.options, self.on_event = aws, run, options, on_event

    def deploy(self) -> DeployResult:
        # The zips were uploaded (or checked) and pinned by version when the change sets were
        # made (plan/code_versions.py); a pipeline whose zip failed carries the error.
        plans = self.run.plan.pipelines
        with ThreadPoolExecutor(max_workers=max(1, self.options.max_parallel)) as pool:
            results = list(pool.map(self._one, plans))
        self._sweep_review_stacks()
        return DeployResult(self.run.config.project, self.aws.region, results)

    def _sweep_review_stacks(self) -> None:
        """Remove the empty REVIEW_IN_PROGRESS stacks of this project that plans left for
        pipelines nami.yaml does not have (a pull request that was never merged): the plan
        role may not delete stacks. Only once no change set waits there; trouble here is
        clean-up, never a failed deploy."""
        live = {pipeline.stack_name for pipeline in self.run.config.pipelines.values()}
        for stack in self.run.stacks.values():
            if (
                stack.status == "REVIEW_IN_PROGRESS"
                and stack.name not in live
                and stack.tags.get(names.TAG_PROJECT) == self.run.config.project
            ):
                try:
                    cfn.remove_unused_review_stack(self.aws, stack.stack_id or stack.name)
                except NamiError:
                    continue

    def _one(self, plan: PipelinePlan) -> PipelineResult:
        started = time.monotonic()
        paused = self._paused(plan)
        try:
            outcome, reasons = restore_drift(self.aws, plan, *self._carry_out(plan))
        except NamiError as exc:
            outcome, reasons = "failed", [str(exc)]
        except Exception as exc:  # one pipeline's surprise must not stop the others
            outcome, reasons = "failed", [f"unexpected error: {type(exc).__name__}: {exc}"]
        pinned = self.run.code.get(plan.pipeline)
        if pinned is not None and pinned.note:
            reasons.insert(0, pinned.note)
        reasons += self._after(plan)
        if outcome in ("created", "updated", "unchanged", "restored"):
            reasons += self._carry_over(plan)
        if paused:  # a failed update rolls back, which may re-send Enabled too
            reasons.append(self._keep_paused(plan))
        endpoint = None
        if outcome not in ("deleted", "skipped") and plan.action != "delete":
            endpoint = self._endpoint(plan, reasons)
        return PipelineResult(
            pipeline=plan.pipeline,
            stack_name=plan.stack_name,
            action=plan.action,
            outcome=outcome,
            seconds=round(time.monotonic() - started, 1),
            endpoint=endpoint,
            reasons=reasons,
            dashboard=self._dashboard(plan) if endpoint else None,
            paused=paused,
        )

    def _paused(self, plan: PipelinePlan) -> bool:
        """Whether `nami pause` stopped this pipeline's consumer, read right before anything
        touches its stack: an update, or a drift repair of an unchanged one (it may have been
        paused since the plan). An unchanged pipeline without drift keeps the plan's answer."""
        if plan.action in ("create", "delete") or plan.error:
            return False
        if plan.action == "none" and not plan.drifted:
            return plan.paused
        try:
            uuid = consumer_mapping(self.aws, plan.stack_name)
            return uuid is not None and get_mapping(self.aws, uuid).paused
        except NamiError:
            return plan.paused

    def _keep_paused(self, plan: PipelinePlan) -> str:
        """The template says Enabled; an update must not quietly restart a paused consumer
        (whether CloudFormation re-sends Enabled on an update is not documented)."""
        try:
            return keep_paused(self.aws, plan.stack_name)
        except NamiError as exc:
            return (
                f"WARNING: the consumer was paused and may run again: {exc}; "
                f"run `nami pause {plan.pipeline}`"
            )

    def _after(self, plan: PipelinePlan) -> list[str]:
        """Clean-up after a pipeline, whatever happened; its trouble is reported, not raised."""
        try:
            self._discard_change_set(plan)
        except NamiError as exc:
            return [f"could not remove the unused change set: {exc}"]
        return []

    @property
    def move_folder(self) -> Path:
        return self.options.move_folder or self.run.config.base_dir / MOVE_FOLDER

    def _record_moves(self, plan: PipelinePlan) -> None:
        """Before the change set runs: the URLs of the queues it replaces, kept on disk."""
        replaced = [w.resource for w in plan.warnings if w.kind == "queue-replaced"]
        if plan.action == "update" and replaced:
            urls = replaced_urls(self.aws, plan.stack_name, replaced)
            record_intent(self.move_folder, plan.stack_name, urls)

    def _carry_over(self, plan: PipelinePlan) -> list[str]:
        """Move what replaced queues hold into their replacements (also what an interrupted
        deploy left); trouble is reported and the move stays pending for the next deploy."""
        pipeline = self.run.config.pipelines.get(plan.pipeline)
        if pipeline is None:
            return []
        try:
            return carry_over(self.aws, pipeline, self.move_folder).notes
        except NamiError as exc:
            return [
                f"WARNING: webhooks of a replaced queue are not moved yet: {exc}; "
                "deploy again to finish the move"
            ]

    def _dashboard(self, plan: PipelinePlan) -> str | None:
        pipeline = self.run.config.pipelines[plan.pipeline]
        return dashboard_url(plan.stack_name, self.aws.region) if pipeline.spec.dashboard else None

    def _endpoint(self, plan: PipelinePlan, reasons: list[str]) -> str | None:
        pipeline = self.run.config.pipelines[plan.pipeline]
        try:
            return endpoint_url(self.aws, plan.stack_name, pipeline.path, pipeline.spec.ingress)
        except NamiError as exc:
            reasons.append(f"could not read the endpoint: {exc}")
            return None

    def _carry_out(self, plan: PipelinePlan) -> tuple[Outcome, list[str]]:
        if plan.error:
            return "failed", [plan.error]
        if plan.action == "none":
            return "unchanged", []
        refused = refusal(plan, self.options)
        if refused:
            return refused[0], [refused[1]]
        self._settle_busy_stack(plan.stack_name)
        if plan.action == "delete":
            return self._delete(plan)
        return self._execute(plan)

    def _settle_busy_stack(self, stack_name: str) -> None:
        """Something may have started on the stack since it was planned: wait it out."""
        cfn.wait_if_busy(
            self.aws, stack_name, poll_seconds=self.options.poll_seconds, on_event=self.on_event
        )

    def _execute(self, plan: PipelinePlan) -> tuple[Outcome, list[str]]:
        """Execute the change set; a run that failed on a just-deleted queue name is run again
        once SQS lets the name be used (the failed stack is removed or updated anew)."""
        return retry_while_queue_name_cools(
            lambda: self._execute_once(plan),
            lambda: time.sleep(self.options.queue_cooldown_seconds),
        )

    def _execute_once(self, plan: PipelinePlan) -> tuple[Outcome, list[str]]:
        change_set = self.run.change_sets.get(plan.pipeline)
        info = cfn.describe_stack(self.aws, plan.stack_name)
        if info is not None and info.status in decide.RECREATE_STATUSES:
            self._remove_failed_stack(plan.stack_name)
            change_set = None
        if change_set is None:
            change_set = self._new_change_set(plan, create=plan.action == "create")
        self._record_moves(plan)
        since = cfn.latest_event_time(self.aws, plan.stack_name)
        self._before_change(plan)
        cfn.execute_change_set(self.aws, change_set.change_set_id)
        self.run.change_sets.pop(plan.pipeline, None)
        cfn.wait_for_execution(
            self.aws, change_set.change_set_id, poll_seconds=self.options.poll_seconds
        )
        status, events = self._wait(plan.stack_name, since, cfn.create_finished)
        if status in SUCCESS:
            return ("created" if plan.action == "create" else "updated"), []
        return "failed", [f"stack ended in {status}", *cfn.failure_reasons(events)]

    def _wait(
        self, stack_name: str, since: datetime, finished: Callable[[str], bool] = cfn.settled
    ) -> tuple[str, list[cfn.StackEvent]]:
        return cfn.wait_until_settled(
            self.aws,
            stack_name,
            since=since,
            poll_seconds=self.options.poll_seconds,
            on_event=self.on_event,
            finished=finished,
        )

    def _remove_failed_stack(self, stack_name: str) -> None:
        """A stack left in ROLLBACK_COMPLETE by a failed create holds nothing and cannot be
        updated: delete it, then create it again. (Queues made by the failed create go with it:
        RetainExceptOnCreate.)"""
        since = cfn.latest_event_time(self.aws, stack_name)
        cfn.delete_stack(self.aws, stack_name)
        status, events = self._wait(stack_name, since, cfn.delete_finished)
        if status not in ("GONE", "DELETE_COMPLETE"):
            reasons = "; ".join(cfn.failure_reasons(events))
            raise NamiError(
                f"the failed stack {stack_name} could not be deleted ({status}) {reasons}"
            )

    def _new_change_set(self, plan: PipelinePlan, *, create: bool) -> cfn.ChangeSetResult:
        run_id = time.strftime("%Y%m%d%H%M%S") + "-redo"
        name = change_set_name(plan.pipeline, run_id, deploying=True)
        result = make_change_set(
            self.aws, self.run, plan, name, create=create, poll_seconds=self.options.poll_seconds
        )
        if result.status != "CREATE_COMPLETE":
            raise NamiError(f"change set failed: {result.reason}")
        return result

    def _before_change(self, plan: PipelinePlan) -> None:
        if self.options.before_change is not None:
            self.options.before_change(plan.pipeline)

    def _delete(self, plan: PipelinePlan) -> tuple[Outcome, list[str]]:
        since = cfn.latest_event_time(self.aws, plan.stack_name)
        self._before_change(plan)
        cfn.delete_stack(self.aws, plan.stack_name)
        status, events = self._wait(plan.stack_name, since, cfn.delete_finished)
        if status in ("GONE", "DELETE_COMPLETE"):
            return "deleted", []
        return "failed", [f"stack ended in {status}", *cfn.failure_reasons(events)]

    def _discard_change_set(self, plan: PipelinePlan) -> None:
        """A change set kept for execution but not executed (refused, failed) is removed,
        with the empty REVIEW_IN_PROGRESS stack a CREATE change set made."""
        change_set = self.run.change_sets.pop(plan.pipeline, None)
        if change_set is None:
            return
        cfn.delete_change_set(self.aws, change_set.change_set_id)
        cfn.remove_unused_review_stack(self.aws, change_set.stack_id or plan.stack_name)


def deploy(aws: Aws, run: PlanRun, options: DeployOptions, on_event: EventSink) -> DeployResult:
    return Deployer(aws, run, options, on_event).deploy()
