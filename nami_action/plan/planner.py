"""plan: compile + package, compare with what is deployed, preview only what changed.

Unchanged pipelines cost no change set: the decision comes from one paginated DescribeStacks
(the fingerprint of the deployed template is in each stack's Description). Changed pipelines
get a change set each, created in parallel, described, and deleted again unless the caller
(deploy) keeps them to execute.

A plan runs on pull requests with the plan role (docs/iam/plan-role-policy.json): it reads,
creates/describes/deletes its own change sets and writes only under the bucket's review
prefix. It never deletes a stack, not even the empty REVIEW_IN_PROGRESS one a CREATE change
set leaves: the next deploy removes that.
"""

from __future__ import annotations

import json
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from nami_action.aws import stacks as cfn
from nami_action.aws.apigateway import logging_role_arn
from nami_action.aws.artifacts import bootstrap_bucket
from nami_action.aws.queues import queue_depth, queue_url
from nami_action.aws.session import Aws
from nami_action.compile import CodeLocation, compile_config, names
from nami_action.compile.bootstrap import DEFAULT_STACK_NAME
from nami_action.compile.consumer import ARTIFACT_VERSION_PARAMETER
from nami_action.compile.pipeline import render_template
from nami_action.config import Config, PipelineConfig
from nami_action.config.forward import forward_summary
from nami_action.config.routes import routes_summary
from nami_action.config.rules import retry_horizon
from nami_action.cost.estimate import CostOptions
from nami_action.drift.mark import mark_drift
from nami_action.errors import NamiError
from nami_action.operate.pause import paused_queues
from nami_action.package import Artifact
from nami_action.package.pipelines import package_config
from nami_action.plan import decide
from nami_action.plan.changes import with_changes
from nami_action.plan.code_versions import (
    PinnedCode,
    Pinner,
    needs_code,
    planned,
    running_version,
)
from nami_action.plan.costs import add_costs
from nami_action.plan.endpoints import (
    endpoint_warnings,
    ingress_kinds,
    ingress_note,
    kind_change_warning,
    old_endpoints,
)
from nami_action.plan.model import PipelinePlan, Plan, PlanWarning, ResourceChange

# Who made a change set shows in its name; the IAM documents build on it (a plan role may
# create only `nami-plan-*`, a deploy role never executes one).
PLAN_CHANGE_SET_PREFIX = "nami-plan-"
DEPLOY_CHANGE_SET_PREFIX = "nami-deploy-"


@dataclass(frozen=True)
class PlanOptions:
    pipelines: tuple[str, ...] = ()  # empty: every pipeline, and deletions are considered
    keep_change_sets: bool = False  # True for a deploy: it executes the change sets it made
    max_parallel: int = 4
    poll_seconds: float = 2.0
    cost: CostOptions | None = field(default_factory=CostOptions)  # None: no cost estimate
    drift: bool = False  # also read live resources: a `drifted` warning (nami_action/drift)
    # The zips of a bundle built without credentials (package/bundle.py): the plan uses them
    # and runs no pip. None: package here (a workstation's `nami plan`).
    artifacts: dict[str, Artifact] | None = field(default=None, compare=False)
    prune: bool = False  # the deploy deletes pipelines removed from nami.yaml (else kept)


@dataclass
class PlanRun:
    """A Plan plus what deploy needs to carry it out."""

    plan: Plan
    config: Config
    bucket: str
    artifacts: dict[str, Artifact]
    templates: dict[str, str]  # pipeline -> compiled template (pretty JSON)
    stacks: dict[str, cfn.StackInfo]
    change_sets: dict[str, cfn.ChangeSetResult] = field(default_factory=dict)
    # Large templates: a plan writes them where no deploy reads.
    template_prefix: str = cfn.REVIEW_TEMPLATE_PREFIX
    # Stack name -> its deployed template, read once per run (the preview and the cost
    # estimate both need it).
    deployed: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    # Pipeline -> the S3 version of its zip its change set pins (plan/code_versions.py).
    code: dict[str, PinnedCode] = field(default_factory=dict)

    def deployed_template(self, aws: Aws, stack_name: str) -> dict[str, Any] | None:
        if stack_name not in self.deployed:
            self.deployed[stack_name] = cfn.deployed_template(aws, stack_name)
        return self.deployed[stack_name]


def resolve_bucket(config: Config, aws: Aws) -> str:
    bucket = config.artifacts_bucket or bootstrap_bucket(aws, DEFAULT_STACK_NAME)
    if not bucket:
        raise NamiError(
            f"no artifact bucket in {aws.region}: run `nami bootstrap` once per account and "
            "region, or set `artifacts.bucket` in nami.yaml"
        )
    return bucket


def require_environment_account(config: Config, aws: Aws) -> None:
    """An environment's `account` guards against planning or changing another account's
    stacks with the credentials at hand."""
    whose = f"environment `{config.environment}` (`environments.{config.environment}.account`)"
    aws.require_account(config.account, whose)


def make_change_set(
    aws: Aws, run: PlanRun, plan: PipelinePlan, name: str, *, create: bool, poll_seconds: float
) -> cfn.ChangeSetResult:
    """The pipeline's compiled template as a change set (CREATE for a new stack), computed."""
    pipeline = run.config.pipelines[plan.pipeline]
    return cfn.create_change_set(
        aws,
        plan.stack_name,
        name,
        cfn.template_argument(
            aws, decide.compact(run.templates[plan.pipeline]), run.bucket, run.template_prefix
        ),
        create=create,
        tags=names.resource_tags(run.config, pipeline),
        poll_seconds=poll_seconds,
        parameters={ARTIFACT_VERSION_PARAMETER: run.code[plan.pipeline].version}
        if plan.pipeline in run.code
        else {},
    )


def change_set_name(pipeline: str, run_id: str, *, deploying: bool) -> str:
    prefix = DEPLOY_CHANGE_SET_PREFIX if deploying else PLAN_CHANGE_SET_PREFIX
    return f"{prefix}{pipeline}-{run_id}"[:128]


def make_plan(config: Config, aws: Aws, options: PlanOptions) -> PlanRun:
    require_environment_account(config, aws)
    selected = _select(config, options.pipelines)
    bucket = resolve_bucket(config, aws)
    artifacts = package_config(config) if options.artifacts is None else options.artifacts
    code = {
        name: CodeLocation(bucket, artifact.s3_key, artifact.manifest)
        for name, artifact in artifacts.items()
    }
    by_stack = compile_config(config, code)
    templates = {name: by_stack[p.stack_name] for name, p in config.pipelines.items()}
    stacks = cfn.list_stacks(aws)
    run = PlanRun(
        plan=Plan(config.project, config.file, aws.region, [], prune=options.prune),
        config=config,
        bucket=bucket,
        artifacts=artifacts,
        templates=templates,
        stacks=stacks,
        template_prefix=(
            cfn.DEPLOY_TEMPLATE_PREFIX if options.keep_change_sets else cfn.REVIEW_TEMPLATE_PREFIX
        ),
    )
    _fill_descriptions(aws, stacks, [config.pipelines[name].stack_name for name in selected])
    if options.keep_change_sets:
        _settle_busy(aws, stacks, [config.pipelines[name].stack_name for name in selected], options)
    endpoint_notes = _keep_live_endpoints(aws, run, selected, code, options.max_parallel)
    decided = [
        _first_look(config.project, config.pipelines[name], stacks, templates[name])
        for name in selected
    ]
    decided = [
        replace(p, warnings=[*p.warnings, *endpoint_notes.get(p.pipeline, [])]) for p in decided
    ]
    if not options.pipelines:
        decided += _orphans(config, stacks)
    decided = _pin_code(aws, run, decided, deploying=options.keep_change_sets)
    previewer = _Previewer(aws, run, options)
    with ThreadPoolExecutor(max_workers=max(1, options.max_parallel)) as pool:
        previewed = list(pool.map(previewer.preview, decided))
    if options.drift:
        previewed = mark_drift(aws, stacks, previewed, options.max_parallel)
    marked = _mark_paused(aws, _check_logging_role(aws, previewed, run.templates))
    run.plan = replace(run.plan, pipelines=marked)
    run.plan = add_costs(aws, run, options.cost)
    return run


def _pin_code(
    aws: Aws, run: PlanRun, plans: list[PipelinePlan], *, deploying: bool
) -> list[PipelinePlan]:
    """The zip version each change set pins (run.code). A deploy uploads or checks the zips
    first; a pipeline whose zip cannot be stored fails untouched (its plan carries the error)."""
    pinner = Pinner(aws, run.bucket) if deploying else None
    found = []
    for plan in plans:
        if needs_code(plan, run.artifacts):
            artifact = run.artifacts[plan.pipeline]
            try:
                kept = _running_version(aws, run, plan, artifact)
                run.code[plan.pipeline] = pinner.pin(artifact, kept) if pinner else planned(kept)
            except NamiError as exc:
                plan = replace(plan, error=str(exc))
        found.append(plan)
    return found


def _running_version(aws: Aws, run: PlanRun, plan: PipelinePlan, artifact: Artifact) -> str | None:
    """The zip version the deployed stack runs ("": none), if it runs this same zip."""
    stack = run.stacks.get(plan.stack_name)
    if plan.action != "update" or stack is None:
        return None
    deployed = run.deployed_template(aws, plan.stack_name)
    return running_version(stack.parameters, deployed, (run.bucket, artifact.s3_key))


def _keep_live_endpoints(
    aws: Aws, run: PlanRun, selected: list[str], code: dict[str, CodeLocation], parallel: int
) -> dict[str, list[PlanWarning]]:
    """Endpoints of an earlier `ingress` kind that still get requests stay in the template
    (run.templates is compiled again with them), so no sender's webhook is stranded; what the
    plan says about them and about a change of kind. Only a stack whose fingerprint differs
    from the plain compiled template can hold one: its deployed template is read anyway."""

    def look(name: str) -> tuple[str, list[PlanWarning]]:
        pipeline = run.config.pipelines[name]
        stack = run.stacks.get(pipeline.stack_name)
        try:
            if stack is None or decide.decide(stack, run.templates[name])[0] != "update":
                return name, []
            decide.check_ownership(stack, run.config.project, name)
        except decide.NotOurs:
            return name, []  # _first_look says why
        deployed = run.deployed_template(aws, pipeline.stack_name)
        notes = kind_change_warning(pipeline, deployed)
        if ingress_kinds(deployed) - {pipeline.spec.ingress}:
            resources = cfn.stack_resources(aws, pipeline.stack_name) or {}
            old = old_endpoints(aws, pipeline, deployed, resources)
            kept = tuple(endpoint.kind for endpoint in old if endpoint.keep)
            if kept:
                run.templates[name] = render_template(run.config, pipeline, code[name], kept)
            notes += endpoint_warnings(pipeline, old)
        return name, notes

    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        return {name: notes for name, notes in pool.map(look, selected) if notes}


def _mark_paused(aws: Aws, plans: list[PipelinePlan]) -> list[PipelinePlan]:
    """Pipelines whose consumer `nami pause` stopped (one listing for all of them): the
    plan says so, and deploy keeps them paused."""
    queues = {p.pipeline: (p.stack_name, p.stack_name + ".fifo") for p in plans}
    deployed = [name for p in plans if p.action != "create" for name in queues[p.pipeline]]
    paused = paused_queues(aws, deployed) if deployed else set()
    return [replace(p, paused=True) if paused & set(queues[p.pipeline]) else p for p in plans]


def _check_logging_role(
    aws: Aws, plans: list[PipelinePlan], templates: dict[str, str]
) -> list[PipelinePlan]:
    """Every REST stage writes access logs, which API Gateway refuses (the Stage create fails at
    deploy) until the region's account settings name a CloudWatch role: say so now. HTTP APIs
    and function URLs do not use that role."""
    staged = {
        p.pipeline
        for p in plans
        if p.action in ("create", "update")
        and not p.error
        and '"AWS::ApiGateway::Stage"' in templates.get(p.pipeline, "")
    }
    if not staged or logging_role_arn(aws) is not None:
        return plans
    message = (
        f"API Gateway in {aws.region} has no CloudWatch logging role, which the endpoint's "
        "access logs need: the deploy would fail creating its stage. Run `nami bootstrap` "
        "for this account and region first"
    )
    return [
        replace(p, warnings=[*p.warnings, PlanWarning(p.pipeline, "logging-role-missing", message)])
        if p.pipeline in staged
        else p
        for p in plans
    ]


def _select(config: Config, wanted: tuple[str, ...]) -> list[str]:
    unknown = sorted(set(wanted) - set(config.pipelines))
    if unknown:
        raise NamiError(
            f"unknown pipeline{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
            f"nami.yaml has: {', '.join(config.pipelines)}"
        )
    return [name for name in config.pipelines if not wanted or name in wanted]


def _settle_busy(
    aws: Aws, stacks: dict[str, cfn.StackInfo], wanted: list[str], options: PlanOptions
) -> None:
    """Before deploying, wait out any operation already running on a stack: a change set
    cannot be made on a busy stack, and its status decides what to do."""
    for name in wanted:
        stack = stacks.get(name)
        if stack is None or not stack.busy:
            continue
        info = cfn.wait_if_busy(
            aws, name, poll_seconds=options.poll_seconds, on_event=lambda event: None
        )
        if info is None:
            stacks.pop(name, None)
        else:
            stacks[name] = info


def _fill_descriptions(aws: Aws, stacks: dict[str, cfn.StackInfo], wanted: list[str]) -> None:
    """DescribeStacks carries each template's Description (and so its fingerprint) on AWS.
    The emulator leaves it out for stacks made by change sets; read it from GetTemplate there
    (one read per stack, still no change set)."""
    for name in wanted:
        stack = stacks.get(name)
        if stack is None or stack.description or stack.status in decide.RECREATE_STATUSES:
            continue
        if stack.status == "REVIEW_IN_PROGRESS":
            continue
        template = cfn.deployed_template(aws, name) or {}
        stacks[name] = replace(stack, description=str(template.get("Description", "")))


def _first_look(
    project: str, pipeline: PipelineConfig, stacks: dict[str, cfn.StackInfo], template: str
) -> PipelinePlan:
    stack = stacks.get(pipeline.stack_name)
    if stack is not None:
        try:
            decide.check_ownership(stack, project, pipeline.name)
        except decide.NotOurs as refusal:
            return PipelinePlan(
                pipeline.name, pipeline.stack_name, "none", line=pipeline.line, error=str(refusal)
            )
    action, reason = decide.decide(stack, template)
    warnings = []
    if stack is not None and stack.busy:
        warnings.append(
            PlanWarning(
                pipeline.name,
                "stack-busy",
                f"stack {stack.name} is {stack.status}; deploy waits for it to finish",
            )
        )
    return PipelinePlan(
        pipeline=pipeline.name,
        stack_name=pipeline.stack_name,
        action=action,
        reason=reason,
        warnings=warnings,
        line=pipeline.line,
        retries=retry_horizon(pipeline.spec),
        forward=forward_summary(pipeline.spec),
        routes=routes_summary(pipeline.spec),
        ingress=ingress_note(pipeline),
    )


def _orphans(config: Config, stacks: dict[str, cfn.StackInfo]) -> list[PipelinePlan]:
    """Stacks of this project whose pipeline left nami.yaml."""
    live = {p.stack_name for p in config.pipelines.values()}
    found = []
    for stack in stacks.values():
        if stack.name in live or stack.tags.get(names.TAG_PROJECT) != config.project:
            continue
        if stack.status == "REVIEW_IN_PROGRESS":
            continue  # a leftover change set, not a pipeline
        pipeline = stack.tags.get(names.TAG_PIPELINE, stack.name)
        found.append(
            PipelinePlan(pipeline, stack.name, "delete", "pipeline no longer in nami.yaml")
        )
    return sorted(found, key=lambda p: p.pipeline)


class _Previewer:
    def __init__(self, aws: Aws, run: PlanRun, options: PlanOptions) -> None:
        self.aws, self.run, self.options = aws, run, options
        self.run_id = time.strftime("%Y%m%d%H%M%S") + secrets.token_hex(2)

    def preview(self, plan: PipelinePlan) -> PipelinePlan:
        try:
            if plan.action == "none" or plan.error:
                return plan
            if plan.action == "delete":
                return self._preview_delete(plan)
            return self._preview_change(plan)
        except NamiError as exc:
            return replace(plan, error=str(exc))

    def _change_set_name(self, pipeline: str) -> str:
        # The emulator looks change sets up by name alone: make names unique per stack and run.
        return change_set_name(pipeline, self.run_id, deploying=self.options.keep_change_sets)

    def _preview_change(self, plan: PipelinePlan) -> PipelinePlan:
        template = self.run.templates[plan.pipeline]
        stack = self.run.stacks.get(plan.stack_name)
        compiled = json.loads(template)
        deployed = None
        if stack is not None and plan.action == "update":
            deployed = self.run.deployed_template(self.aws, plan.stack_name)
        plan = with_changes(plan, deployed, compiled)
        diff = plan.diff
        if stack is not None and stack.busy:
            return replace(plan, diff=diff)  # no change set beside a running operation
        leftover = self._leftover_queues(plan.pipeline, plan.action, deployed)
        if leftover:
            return replace(plan, diff=diff, error=leftover)
        if stack is not None and stack.status in decide.RECREATE_STATUSES:
            # No change set can be made beside a failed stack; deploy deletes it first.
            return replace(plan, changes=decide.all_added(compiled), diff=diff)
        if (
            stack is not None
            and stack.status == "REVIEW_IN_PROGRESS"
            and self.options.keep_change_sets
        ):
            self._drop_stale_review_stack(plan.stack_name)
        result = self._change_set(plan, template, create=plan.action == "create")
        if result.status == "FAILED" and not result.empty:
            return replace(plan, diff=diff, error=f"change set failed: {result.reason}")
        if result.empty:
            return replace(plan, action="none", reason="no resource changes", diff="")
        changes = decide.resource_changes(result.changes)
        warnings = list(plan.warnings)
        touched = decide.queue_warnings(plan.pipeline, deployed, compiled, changes)
        warnings += [warning for _, warning in touched]
        waiting = self._waiting(plan, changes, dict(touched))
        warnings += waiting[1]
        return replace(
            plan, changes=changes, diff=diff, warnings=warnings, messages_waiting=waiting[0]
        )

    def _leftover_queues(
        self, pipeline_name: str, action: str, deployed: dict[str, Any] | None
    ) -> str:
        """Queues are kept when their stack is deleted, or their route removed from it; a
        stack cannot make a queue of the same name. Say so before the create (or the update
        that adds the route back) fails, with what the queues still hold. An update checks
        the queues the deployed stack does not hold; without its template, none."""
        if action == "create":
            held: set[str] = set()
        elif action == "update" and deployed:
            held = set(deployed.get("Resources") or {})
        else:
            return ""
        pipeline = self.run.config.pipelines[pipeline_name]
        found = []
        for logical_id, name in names.queue_names_by_id(pipeline).items():
            url = None if logical_id in held else queue_url(self.aws, name)
            if url:
                depth = queue_depth(self.aws, url)
                found.append(f"{name} ({depth.total if depth else 0} webhooks)")
        if not found:
            return ""
        listed = found[0] if len(found) == 1 else f"{', '.join(found[:-1])} and {found[-1]}"
        kept = (
            "kept from an earlier stack of this pipeline"
            if action == "create"
            else "kept from a route removed from this pipeline earlier"
        )
        return (
            f"queue{'' if len(found) == 1 else 's'} {listed} already exist"
            f"{'s' if len(found) == 1 else ''}, {kept}: "
            "redrive or export what they hold, delete them, then deploy again"
        )

    def _drop_stale_review_stack(self, stack_name: str) -> None:
        """A stack that only holds change sets of an interrupted run has no resources: remove
        it (and its stale change sets) so the new change set is the only one to execute."""
        since = cfn.latest_event_time(self.aws, stack_name)
        cfn.delete_stack(self.aws, stack_name)
        cfn.wait_until_settled(
            self.aws,
            stack_name,
            since=since,
            poll_seconds=self.options.poll_seconds,
            on_event=lambda event: None,
            finished=cfn.delete_finished,  # right after DeleteStack it still reads REVIEW
        )

    def _change_set(
        self, plan: PipelinePlan, template: str, *, create: bool
    ) -> cfn.ChangeSetResult:
        result = make_change_set(
            self.aws,
            self.run,
            plan,
            self._change_set_name(plan.pipeline),
            create=create,
            poll_seconds=self.options.poll_seconds,
        )
        if self.options.keep_change_sets and result.status == "CREATE_COMPLETE":
            self.run.change_sets[plan.pipeline] = result
        else:
            self._clean_up(result, create=create, stack_name=plan.stack_name)
        return result

    def _clean_up(self, result: cfn.ChangeSetResult, *, create: bool, stack_name: str) -> None:
        """Remove the change set. A deploy also removes the empty stack a CREATE change set
        made (REVIEW_IN_PROGRESS) once no other run's change set waits there; a plan may not
        delete stacks (the plan role has no DeleteStack), so it leaves that empty stack to
        the next deploy."""
        if result.change_set_id:
            cfn.delete_change_set(self.aws, result.change_set_id)
        if create and self.options.keep_change_sets:
            cfn.remove_unused_review_stack(self.aws, result.stack_id or stack_name)

    def _waiting(
        self,
        plan: PipelinePlan,
        changes: list[Any],
        touched: dict[str, PlanWarning],
    ) -> tuple[int | None, list[PlanWarning]]:
        """Ask SQS how many webhooks wait in each queue the change touches."""
        queues = {c.logical_id for c in changes if c.resource_type == names.QUEUE_TYPE}
        queues |= set(touched)
        if plan.action != "update" or not queues:
            return None, []
        resources = cfn.stack_resources(self.aws, plan.stack_name) or {}
        total, warnings = 0, []
        for logical_id in sorted(queues):
            url = resources.get(logical_id)
            depth = queue_depth(self.aws, url) if url else None
            if depth and depth.total:
                total += depth.total
                warnings.append(decide.waiting_warning(plan.pipeline, logical_id, depth.total))
        return total, warnings

    def _preview_delete(self, plan: PipelinePlan) -> PipelinePlan:
        resources = cfn.stack_resources(self.aws, plan.stack_name) or {}
        # The deployed template names each resource's type (the cost estimate reads it too):
        # every queue it holds counts, a route's as much as the pipeline's own.
        deployed = self.run.deployed_template(self.aws, plan.stack_name) or {}
        waiting = 0
        for logical_id in sorted(names.queue_ids(deployed)):
            url = resources.get(logical_id)
            depth = queue_depth(self.aws, url) if url else None
            waiting += depth.total if depth else 0
        types = {
            logical_id: str(resource.get("Type", ""))
            for logical_id, resource in (deployed.get("Resources") or {}).items()
        }
        changes = [
            ResourceChange("Remove", logical_id, types.get(logical_id, ""), "")
            for logical_id in sorted(resources)
        ]
        return replace(
            plan,
            changes=changes,
            messages_waiting=waiting,
            warnings=[decide.deleted_warning(plan.pipeline, waiting)],
        )


def plan_destroy(
    config: Config, aws: Aws, wanted: tuple[str, ...], options: PlanOptions
) -> PlanRun:
    """A plan that deletes the stacks of the named pipelines (or every stack of the project)."""
    require_environment_account(config, aws)
    stacks = cfn.list_stacks(aws)
    owned = {
        stack.tags.get(names.TAG_PIPELINE, stack.name): stack
        for stack in stacks.values()
        if stack.tags.get(names.TAG_PROJECT) == config.project
        and stack.status != "REVIEW_IN_PROGRESS"
    }
    unknown = sorted(set(wanted) - set(owned))
    if unknown:
        raise NamiError(
            f"no deployed stack for pipeline{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(unknown)} in project {config.project} ({aws.region})"
        )
    chosen = sorted(wanted or owned)
    run = PlanRun(
        plan=Plan(config.project, config.file, aws.region, [], prune=True),
        config=config,
        bucket="",
        artifacts={},
        templates={},
        stacks=stacks,
    )
    previewer = _Previewer(aws, run, options)
    plans = [
        previewer.preview(PipelinePlan(name, owned[name].name, "delete", "destroy requested"))
        for name in chosen
    ]
    run.plan = replace(run.plan, pipelines=plans)
    return run
