"""What a reviewer needs to trust the plan comment: where it came from and what it covers.

On `pull_request` GitHub runs the pull request's own copy of the workflow, so a pull request
can change the job that checks it (`force: true`, `fail-on: none`, a `pipelines:` subset that
hides a deletion, or no Nami step at all). The comment cannot stop that; it says so in a
CAUTION block, and its footer names the workflow file and commit that produced it. The
provenance block lists the digests a merge's deploy must match (plan/review.py).
"""

from __future__ import annotations

from fnmatch import fnmatch
from typing import Any

from nami_action.github.api import GitHubError
from nami_action.github.job import FlowOptions, Job
from nami_action.render.markdown import code_span

WATCHED = (".github/workflows/*", "action.yml", "action.yaml", "*/action.yml", "*/action.yaml")
DEFAULTS = {"force": False, "fail_on": "refused", "pipelines": ""}


def workflow_label(job: Job) -> str | None:
    """`.github/workflows/nami.yml@1a2b3c4`: the workflow file and the commit it was read at."""
    path = job.ctx.workflow_ref.split("@", 1)[0]
    _, _, file = path.partition("/.github/")
    if not file:
        return None
    sha = job.env.get("GITHUB_WORKFLOW_SHA", "")
    return f".github/{file}" + (f"@{sha[:7]}" if sha else "")


def input_changes(options: FlowOptions) -> list[str]:
    found = []
    if options.force != DEFAULTS["force"]:
        found.append("`force: true`: the plan passes where a deploy could lose stored webhooks")
    if options.fail_on != DEFAULTS["fail_on"]:
        found.append(
            f"{code_span('fail-on: ' + options.fail_on)}: fails on less than a deploy refuses"
        )
    if options.pipelines.strip() != DEFAULTS["pipelines"]:
        found.append(
            f"{code_span('pipelines: ' + options.pipelines.strip())}: only these are planned, "
            "and deletions of removed pipelines are not shown"
        )
    return found


def changed_controls(job: Job, number: int) -> list[str]:
    try:
        files = job.client().pull_files(number)
    except GitHubError as exc:
        return [f"could not list the files this pull request changes ({exc})"]
    watched = sorted({p for p in files if any(fnmatch(p, pattern) for pattern in WATCHED)})
    return [f"changes {code_span(path)}" for path in watched]


def caution_markdown(job: Job) -> str:
    """The CAUTION block, or "" when the pull request changes nothing that checks it."""
    number = job.ctx.pull_number
    reasons = input_changes(job.options)
    if number is not None and job.options.comment:
        reasons = changed_controls(job, number) + reasons
    if not reasons:
        return ""
    lines = [
        "> [!CAUTION]",
        "> **This pull request changes the job that checks it.** The plan below was made by "
        "the pull request's own workflow; review these before trusting it or its check:",
        *[f"> - {reason}" for reason in reasons],
    ]
    return "\n".join(lines) + "\n"


def provenance_markdown(found: dict[str, Any], digest: str) -> str:
    """Folded: the bundle and plan digests, and each pipeline's template and zip digest, and
    which S3 version of the zip its functions will run."""
    bundle = found.get("bundle")
    rows = [
        f"| {code_span(name)} | {entry['action']} | {_digest(entry['template_sha256'])} "
        f"| {_digest(entry['zip_sha256'])} | {_zip_version(entry)} |"
        for name, entry in sorted(found["pipelines"].items())
    ]
    return "\n".join(
        [
            "<details><summary>What was planned: plan "
            f"<code>{digest[:12]}</code>, bundle <code>{(bundle or 'none')[:12]}</code></summary>",
            "",
            f"Plan digest `{digest}`; bundle digest `{bundle or 'none (packaged in this job)'}`. "
            "A deploy of the merge executes only a plan with the approved digest.",
            "",
            "| Pipeline | Action | Template SHA-256 | Zip SHA-256 | Zip S3 version |",
            "|---|---|---|---|---|",
            *rows,
            "",
            "</details>",
            "",
        ]
    )


def _zip_version(entry: dict[str, Any]) -> str:
    """The version the stack runs and keeps, or the one the deploy checks (plan/code_versions)."""
    kept = entry.get("code_version")
    if kept:
        return f"kept {code_span(str(kept))}"
    changing = entry["action"] in ("create", "update") and entry["zip_sha256"]
    return "checked and pinned by the deploy" if changing else "-"


def _digest(value: str | None) -> str:
    return f"`{value[:16]}`" if value else "-"
