"""The plan job (pull requests, the merge queue): preview every change set, comment, check."""

from __future__ import annotations

from nami_action.apply import DeployOptions, refusal
from nami_action.aws.session import Aws
from nami_action.config import Config
from nami_action.errors import NamiError
from nami_action.github.build_job import bundle_artifacts, job_bundle
from nami_action.github.comment import COMMENT_LIMIT, label, sticky_comment
from nami_action.github.job import Job
from nami_action.github.review import caution_markdown, provenance_markdown, workflow_label
from nami_action.package.bundle import Bundle
from nami_action.plan import review
from nami_action.plan.model import Plan
from nami_action.plan.planner import PlanOptions, PlanRun, make_plan
from nami_action.render.markdown import plan_errors, plan_markdown
from nami_action.render.text import plan_text

# fail-on is a threshold. `refused` (the default) fails exactly where a deploy with the same
# `force`/`prune` would refuse; `replacement` fails on a replaced queue and on anything
# worse; `deletion` only when a queue or pipeline is removed.
DELETION_KINDS = frozenset({"queue-removed", "pipeline-deleted", "messages-waiting"})
FAIL_ON_KINDS: dict[str, frozenset[str]] = {
    "none": frozenset(),
    "refused": frozenset(),
    "replacement": DELETION_KINDS | {"queue-replaced"},
    "deletion": DELETION_KINDS,
}
# A change set deleted under the plan (a deploy executed or removed it meanwhile).
VANISHED_CHANGE_SET = "ChangeSetNotFound"


def plan_with_retry(
    job: Job, config: Config, aws: Aws, keep: bool, bundle: Bundle | None
) -> PlanRun:
    options = PlanOptions(
        job.options.pipeline_list,
        keep_change_sets=keep,
        artifacts=bundle_artifacts(bundle),
        prune=job.options.prune,
    )
    run = make_plan(config, aws, options)
    if any(VANISHED_CHANGE_SET in p.error for p in run.plan.pipelines):
        job.log("a change set vanished while planning (a deploy ran meanwhile): planning again")
        run = make_plan(config, aws, options)
    return run


def plan(job: Job, config: Config) -> int:
    bundle = job_bundle(job, config)
    run = plan_with_retry(job, config, job.aws(config), keep=False, bundle=bundle)
    result = run.plan
    found = review.fingerprint(run, bundle.digest if bundle else None)
    digest = review.digest(found)
    path = job.result_path("plan")
    path.write_text(result.to_json(), encoding="utf-8")
    job.log(plan_text(result))
    job.log(f"plan digest {digest}")
    caution = caution_markdown(job) if job.ctx.pull_request else ""
    provenance = provenance_markdown(found, digest)

    def render(limit: int) -> str:
        return plan_markdown(
            result,
            sha=job.ctx.head_sha,
            run_url=job.ctx.run_url,
            marker=job.plan_marker,
            limit=limit,
            caution=caution,
            provenance=provenance,
            workflow=workflow_label(job),
        )

    job.summary(render)
    annotate_plan(job, result)
    fail_on_hit = check_fail_on(job, result)  # annotates every hit
    failed = bool(plan_errors(result)) or fail_on_hit
    if job.pull_number:
        quiet = not result.has_changes and not failed and not job.options.comment_on_no_changes
        quiet = quiet and not caution
        sticky_comment(
            job, job.pull_number, render(COMMENT_LIMIT), job.plan_marker, create=not quiet
        )
        if job.options.labels:
            label(job, job.pull_number, result)
    job.outputs(
        "failed" if failed else "planned",
        has_changes=result.has_changes,
        plan=str(path),
        changed=[p.pipeline for p in result.changed],
        endpoints={p.pipeline: p.endpoint for p in result.pipelines if p.endpoint},
        bundle_digest=bundle.digest if bundle else "",
        plan_digest=digest,
        fingerprint=review.canonical(found),
    )
    return 1 if failed else 0


def annotate_plan(job: Job, result: Plan) -> None:
    lines = {p.pipeline: p.line for p in result.pipelines}
    for name, error in plan_errors(result):
        job.annotations.add(
            "error",
            error,
            file=job.config_in_repo,
            line=lines.get(name),
            title=f"nami: {name} cannot be planned",
        )
    for pipeline in result.pipelines:
        for warning in pipeline.warnings:
            job.annotations.add(
                "warning",
                warning.message,
                file=job.config_in_repo,
                line=pipeline.line,
                title=f"nami: {warning.kind}",
            )


def check_fail_on(job: Job, result: Plan) -> bool:
    level = job.options.fail_on or "refused"
    if level not in FAIL_ON_KINDS:
        raise NamiError(f"fail-on must be one of {', '.join(FAIL_ON_KINDS)}, not {level!r}")
    if level == "refused":
        rules = DeployOptions(prune=job.options.prune, force=job.options.force)
        hits = [
            (p.pipeline, found[1])
            for p in result.pipelines
            if (found := refusal(p, rules)) and found[0] == "refused"
        ]
    else:
        hits = [(w.pipeline, w.message) for w in result.warnings if w.kind in FAIL_ON_KINDS[level]]
    for pipeline, message in hits:
        message = message.replace("run with --force", "set `force: true` on both jobs")
        job.annotations.add("error", f"{pipeline}: {message}", title=f"nami: fail-on {level}")
    if hits:
        job.log(f"fail-on {level}: {len(hits)} pipeline(s) the deploy would refuse or lose")
    return bool(hits)
