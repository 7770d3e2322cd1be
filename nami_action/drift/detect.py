"""Wire the aws layer to the pure steps: for each deployed pipeline, its deployed template's
declared values beside the live ones, plus CloudFormation's own drift detection."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from nami_action.aws import live
from nami_action.aws import stacks as cfn
from nami_action.aws.session import Aws
from nami_action.config import Config
from nami_action.drift.compare import cloudformation_findings, compare, merge
from nami_action.drift.declared import ALARM, Declared, Pseudo, account_of, declared_resources
from nami_action.drift.model import DriftReport, Finding, PipelineDrift
from nami_action.errors import NamiError

UNAVAILABLE = "CloudFormation drift detection unavailable: {reason}"
INCOMPLETE = "CloudFormation drift detection incomplete on {reason}"


@dataclass(frozen=True)
class DriftOptions:
    pipelines: tuple[str, ...] = ()  # empty: every pipeline of the config
    cloudformation: bool = True  # also run CloudFormation's DetectStackDrift
    max_parallel: int = 4
    poll_seconds: float = 2.0
    timeout_seconds: float = 600.0  # detection takes "up to several minutes" per stack


def deployed(stack: cfn.StackInfo | None) -> bool:
    """A stack with resources to compare: not only a change set, not a failed create."""
    return stack is not None and stack.status not in (
        "REVIEW_IN_PROGRESS",
        "ROLLBACK_COMPLETE",
        "ROLLBACK_FAILED",
        "DELETE_IN_PROGRESS",
        "CREATE_IN_PROGRESS",
    )


def declared_of(aws: Aws, stack: cfn.StackInfo) -> list[Declared]:
    """The managed resources of a deployed stack with the values its template declares."""
    template = cfn.deployed_template(aws, stack.name)
    if template is None:
        raise NamiError(f"the template of stack {stack.name} is not JSON: cannot compare it")
    physical = cfn.stack_resources(aws, stack.name) or {}
    pseudo = Pseudo(aws.region, account_of(stack.stack_id), stack.name)
    return declared_resources(template, physical, pseudo)


def direct_findings(aws: Aws, resources: list[Declared]) -> list[Finding]:
    """One read per resource, except the alarms: one DescribeAlarms for all of them."""
    alarms = [r.physical_id for r in resources if r.resource_type == ALARM]
    alarm_values = live.read_alarms(aws, alarms) if alarms else {}
    found: list[Finding] = []
    for resource in resources:
        if resource.resource_type == ALARM:
            found += compare(resource, alarm_values.get(resource.physical_id))
        else:
            found += compare(resource, live.read_live(aws, resource))
    return found


def pipeline_drift(aws: Aws, pipeline: str, stack: cfn.StackInfo) -> PipelineDrift:
    """Direct reads only (what `nami plan` and the deploy's restore use)."""
    try:
        resources = declared_of(aws, stack)
        return PipelineDrift(pipeline, stack.name, direct_findings(aws, resources), len(resources))
    except NamiError as exc:
        return PipelineDrift(pipeline, stack.name, error=str(exc))


def detect_drift(config: Config, aws: Aws, options: DriftOptions) -> DriftReport:
    unknown = sorted(set(options.pipelines) - set(config.pipelines))
    if unknown:
        raise NamiError(
            f"unknown pipeline(s) {', '.join(unknown)}; nami.yaml has: "
            f"{', '.join(config.pipelines)}"
        )
    stacks = cfn.list_stacks(aws)
    chosen: list[tuple[str, cfn.StackInfo]] = []
    busy: list[PipelineDrift] = []
    notes: list[str] = []
    for name, pipeline in config.pipelines.items():
        stack = stacks.get(pipeline.stack_name)
        if options.pipelines and name not in options.pipelines:
            continue
        if stack is None or not deployed(stack):
            notes.append(f"{name}: not deployed (stack {pipeline.stack_name})")
        elif stack.busy:  # its template and resources are changing: no verdict now
            busy.append(PipelineDrift(name, stack.name, error=f"stack is {stack.status}"))
        else:
            chosen.append((name, stack))
    detections, unavailable = _start_detections(aws, chosen) if options.cloudformation else ({}, "")
    with ThreadPoolExecutor(max_workers=max(1, options.max_parallel)) as pool:
        direct = list(pool.map(lambda item: pipeline_drift(aws, *item), chosen))
        reported = list(
            pool.map(lambda item: _reported(aws, item[1].name, detections, options), chosen)
        )
    results = []
    for drift, (findings, reason, complete) in zip(direct, reported, strict=True):
        if reason and complete:
            notes.append(INCOMPLETE.format(reason=reason))
        elif reason:
            unavailable = unavailable or reason
        results.append(
            drift
            if drift.error
            else PipelineDrift(
                drift.pipeline, drift.stack_name, merge(drift.findings, findings), drift.checked
            )
        )
    if unavailable:
        notes.insert(0, UNAVAILABLE.format(reason=unavailable))
    return DriftReport(config.project, aws.region, [*results, *busy], notes)


def _start_detections(
    aws: Aws, chosen: list[tuple[str, cfn.StackInfo]]
) -> tuple[dict[str, str], str]:
    """Start one detection per stack (they run in parallel on AWS's side); stop at the first
    sign that detection is unavailable and say why once."""
    started: dict[str, str] = {}
    for _, stack in chosen:
        try:
            started[stack.name] = live.start_detection(aws, stack.name)
        except live.DetectionUnavailable as exc:
            return {}, str(exc)
    return started, ""


def _reported(
    aws: Aws, stack_name: str, detections: dict[str, str], options: DriftOptions
) -> tuple[list[Finding], str, bool]:
    """CloudFormation's findings for one stack, why they are missing or partial, and whether
    detection ran (a partial result: DETECTION_FAILED on some resources)."""
    detection_id = detections.get(stack_name)
    if detection_id is None:
        return [], "", False
    try:
        drifts, failed = live.detection_result(
            aws,
            stack_name,
            detection_id,
            poll_seconds=options.poll_seconds,
            timeout_seconds=options.timeout_seconds,
        )
    except live.DetectionUnavailable as exc:
        return [], f"{stack_name}: {exc}", False
    return cloudformation_findings(drifts), (f"{stack_name}: {failed}" if failed else ""), True
