"""The deploy job: only on a push to the default branch (or an opted-in workflow_dispatch),
only from a clean checkout of that push's commit, only while it is still the branch's tip,
checked again right before each change set is executed."""

from __future__ import annotations

import json
from typing import Any

from nami_action.apply import DeployOptions, deploy
from nami_action.aws.stacks import StackEvent
from nami_action.config import Config
from nami_action.errors import NamiError
from nami_action.github.api import GitHubError
from nami_action.github.build_job import job_bundle
from nami_action.github.checkout import require_commit
from nami_action.github.comment import COMMENT_LIMIT, report_failure, sticky_comment
from nami_action.github.job import Failure, Job
from nami_action.github.plan_job import plan_with_retry
from nami_action.plan import review
from nami_action.plan.model import DeployResult
from nami_action.render.markdown import deploy_markdown
from nami_action.render.text import deploy_text, event_line, plan_text

MOST_COMMITS = 50  # commits looked up for the pull requests a deploy includes
MOVED = frozenset({"created", "updated", "deleted"})


def refusal(job: Job) -> str | None:
    """Why this event must not deploy, or None. The event is checked, not trusted: an
    issue_comment, workflow_run, repository_dispatch or schedule run has the default branch's
    GITHUB_SHA whatever code its steps checked out, and a pull request runs its own workflow."""
    event, options, ctx = job.ctx.event_name, job.options, job.ctx
    if event == "workflow_dispatch" and not options.deploy_on_dispatch:
        return (
            "refusing to deploy on workflow_dispatch: set the input `deploy-on-dispatch: true` "
            "on this step to allow a manual deploy of the default branch"
        )
    if event not in ("push", "workflow_dispatch"):
        return (
            f"refusing to deploy on {event or 'an unknown event'}: only a push to the default "
            "branch deploys (or workflow_dispatch with `deploy-on-dispatch: true`); other events "
            "can run code that was never merged"
        )
    default = ctx.default_branch
    if not default:
        return "refusing to deploy: the event payload does not name the default branch"
    if ctx.ref != f"refs/heads/{default}":
        return f"refusing to deploy {ctx.ref or 'an unknown ref'}: only {default} deploys"
    return None


def verify(job: Job) -> None:
    """The checkout is exactly GITHUB_SHA, clean, and GITHUB_SHA is still the branch's tip."""
    require_commit(job.workdir, job.ctx.sha)
    branch = job.ctx.default_branch or ""
    try:
        head = job.client().branch_head(branch)
    except GitHubError as exc:
        raise Failure(f"cannot check that {job.ctx.sha[:7]} is the tip of {branch}: {exc}") from exc
    if head != job.ctx.sha:
        raise Failure(
            f"refusing to deploy {job.ctx.sha[:7]}: the tip of {branch} is now {head[:7]}, "
            "and deploying an older commit would roll it back. The run for the newest "
            "commit deploys it (re-run that one if needed)."
        )


def included_pulls(job: Job) -> list[int]:
    """The merged pull requests this deploy brings out: every commit since the last
    successful deploy run (runs waiting in a concurrency group are coalesced)."""
    client, sha, branch = job.client(), job.ctx.sha, job.ctx.default_branch or ""
    base = None
    workflow = job.ctx.workflow_file
    try:
        base = client.last_successful_run_sha(workflow, branch) if workflow else None
    except GitHubError as exc:
        job.log(f"cannot read the last successful run ({exc}); using the push's `before`")
    before = str(job.ctx.event.get("before") or "")
    base = base or (before if before.strip("0") else None)
    commits = [sha]
    if base and base != sha:
        try:
            commits = client.commits_between(base, sha)[-MOST_COMMITS:] or [sha]
        except GitHubError as exc:
            job.log(f"cannot compare {base[:7]}...{sha[:7]}: {exc}")
    pulls: list[int] = []
    for commit in commits:
        try:
            found = client.merged_pulls_for_commit(commit)
        except GitHubError as exc:
            job.warn_github(exc, "nami: no PR comment")
            break
        pulls += [n for n in found if n not in pulls]
    return sorted(pulls)


def run_deploy(job: Job, config: Config) -> int:
    verify(job)
    pulls = included_pulls(job) if job.options.comment else []
    try:
        return _deploy(job, config, pulls)
    except NamiError as exc:
        return report_failure(job, "deploy", str(exc), pulls=pulls)


def unapproved(job: Job, found: dict[str, Any]) -> list[str]:
    """What differs from the approved plan (the `approved-plan` input); [] when it matches
    or no approval was given."""
    if not job.options.approved_plan.strip():
        return []
    try:
        approved = json.loads(job.options.approved_plan)
    except ValueError:
        approved = None
    if not isinstance(approved, dict) or approved.get("format") != review.FORMAT:
        raise Failure("approved-plan is not a plan fingerprint (the plan job's plan-fingerprint)")
    if review.digest(approved) == review.digest(found):
        return []
    return review.differences(approved, found) or ["the plan digests differ"]


def _deploy(job: Job, config: Config, pulls: list[int]) -> int:
    aws = job.aws(config)
    bundle = job_bundle(job, config)
    run = plan_with_retry(job, config, aws, keep=True, bundle=bundle)
    plan_path = job.result_path("plan")
    plan_path.write_text(run.plan.to_json(), encoding="utf-8")
    job.log(plan_text(run.plan))
    found = review.fingerprint(run, bundle.digest if bundle else None)
    job.log(f"plan digest {review.digest(found)}")
    differs = unapproved(job, found)
    if differs:
        job.log("not the approved plan, nothing is executed: " + "; ".join(differs))

    def before_change(_pipeline: str) -> None:
        if differs:
            raise Failure("not the approved plan: " + "; ".join(differs))
        verify(job)  # main may have moved while other stacks updated

    options = DeployOptions(
        prune=job.options.prune, force=job.options.force, before_change=before_change
    )
    result = deploy(aws, run, options, lambda event: _on_event(job, event))
    job.result_path("deploy").write_text(result.to_json(), encoding="utf-8")
    job.log(deploy_text(result))
    report_deploy(job, result, pulls)
    moved = [p.pipeline for p in result.pipelines if p.outcome in MOVED]
    job.outputs(
        "deployed" if result.ok else "failed",
        has_changes=bool(moved),
        plan=str(plan_path),
        changed=moved,
        endpoints=result.endpoints(),
        bundle_digest=bundle.digest if bundle else "",
        plan_digest=review.digest(found),
    )
    return 0 if result.ok else 1


def _on_event(job: Job, event: StackEvent) -> None:
    job.log(event_line(event))


def report_deploy(job: Job, result: DeployResult, pulls: list[int]) -> None:
    sha, run_url = job.ctx.sha, job.ctx.run_url

    def render(limit: int) -> str:
        return deploy_markdown(
            result,
            sha=sha,
            run_url=run_url,
            marker=job.deploy_marker,
            limit=limit,
            config_file=job.config_in_repo,
            pulls=pulls,
        )

    job.summary(render)
    for failed in result.failed:
        job.annotations.add(
            "error",
            "; ".join(failed.reasons) or failed.outcome,
            title=f"nami: {failed.pipeline} {failed.outcome}",
        )
    if not pulls:
        job.log(f"no merged pull request found for {sha[:7]}: no comment")
    for number in pulls:
        sticky_comment(job, number, render(COMMENT_LIMIT), job.deploy_marker)
