"""What a job says on the pull request: the sticky comment, the reports, the labels."""

from __future__ import annotations

from collections.abc import Sequence

from nami_action.errors import Problem
from nami_action.github.api import GitHubError
from nami_action.github.job import Command, Job
from nami_action.plan.model import Plan
from nami_action.render.markdown import DEFAULT_LIMIT as COMMENT_LIMIT
from nami_action.render.markdown import fenced, notice_markdown, problems_markdown

LABELS = {"changes": "nami:changes", "destroy": "nami:destroy", "none": "nami:no-changes"}
__all__ = ["COMMENT_LIMIT", "label", "report_failure", "report_invalid", "sticky_comment"]


def sticky_comment(job: Job, number: int, body: str, marker: str, *, create: bool = True) -> None:
    """Create or edit our own comment; a failure is a warning, the summary has it all."""
    try:
        existing = job.client().find_comment(number, marker)
        if existing is None and not create:
            job.log(f"nothing changes: no comment on #{number} (comment-on-no-changes)")
            return
        outcome, comment_id = job.client().upsert_comment(number, body, marker)
    except GitHubError as exc:
        job.warn_github(exc, "nami: no PR comment")
        return
    job.log(f"comment {comment_id} on #{number}: {outcome}")


def report_invalid(job: Job, problems: list[Problem]) -> int:
    for problem in problems:
        job.annotations.add(
            "error",
            problem.message,
            file=job.repo_path(problem.file),
            line=problem.line,
            col=problem.column,
            title="nami.yaml",
        )
    shown = [Problem(job.repo_path(p.file), p.line, p.column, p.message) for p in problems]

    def render(limit: int) -> str:
        return problems_markdown(
            shown,
            job.config_in_repo,
            sha=job.ctx.head_sha,
            run_url=job.ctx.run_url,
            marker=job.plan_marker,
            limit=limit,
        )

    job.summary(render)
    if job.pull_number:
        sticky_comment(job, job.pull_number, render(COMMENT_LIMIT), job.plan_marker)
    job.outputs("invalid")
    job.log(f"{len(problems)} problem(s) in {job.config_in_repo}")
    return 1


def report_validated_only(job: Job, reason: str) -> int:
    text = (
        f"`{job.config_in_repo}` is valid. {reason}\n\n"
        "The change sets will be previewed when this runs with credentials, at the latest "
        "when the change is merged."
    )
    body = notice_markdown(
        "Nami: validated only",
        text,
        marker=job.plan_marker,
        sha=job.ctx.head_sha,
        run_url=job.ctx.run_url,
    )
    job.summary(lambda _: body)
    job.annotations.add("notice", reason, title="nami: validated only")
    job.outputs("validated-only")
    return 0


def report_failure(job: Job, what: Command, message: str, *, pulls: Sequence[int] = ()) -> int:
    """A failed build or plan replaces the sticky comment (no stale plan beside a red
    check); a failed deploy is said on the merged pull requests it was deploying."""
    job.annotations.add("error", message, title=f"nami {what} failed")
    body = notice_markdown(
        f"❌ Nami {what} failed",
        fenced(message[:20_000]),
        marker=job.deploy_marker if what == "deploy" else job.plan_marker,
        sha=job.ctx.head_sha,
        run_url=job.ctx.run_url,
        kind="CAUTION",
    )
    job.summary(lambda _: body)
    if what != "deploy" and job.pull_number:
        sticky_comment(job, job.pull_number, body, job.plan_marker)
    for number in pulls if job.options.comment else ():
        sticky_comment(job, number, body, job.deploy_marker)
    job.outputs("failed")
    return 1


def label(job: Job, number: int, plan: Plan) -> None:
    destroys = any(p.action == "delete" for p in plan.pipelines) or any(
        w.loses_messages for w in plan.warnings
    )
    wanted = {LABELS["destroy"], LABELS["changes"]} if destroys else set()
    if plan.has_changes:
        wanted.add(LABELS["changes"])
    else:
        wanted.add(LABELS["none"])
    try:
        job.client().add_labels(number, sorted(wanted))
        for name in sorted(set(LABELS.values()) - wanted):
            job.client().remove_label(number, name)
    except GitHubError as exc:
        job.warn_github(exc, "nami: no labels")
