"""Markdown views of a Plan and a DeployResult: the sticky PR comment and the job summary.

tfcmt / Atlantis style: a hidden marker first (so the comment can be found and edited in
place), the counts, a prominent alert for anything that can lose queued messages, then per
changed pipeline a summary line, what changed in nami.yaml's terms (settings as written, the
consumer's code) and the CloudFormation details folded. GitHub refuses comments over 65,536
characters, so the body is fitted under `limit` by truncating the details - diffs first, then
change tables, then the settings lists, then sections down to their summary line - and never
the marker, the counts, the warnings or the footer.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence

from nami_action import __version__
from nami_action.errors import Problem, printable, terminal_safe
from nami_action.plan.model import DeployResult, PipelinePlan, PipelineResult, Plan, PlanWarning
from nami_action.render import changes, cost

GITHUB_LIMIT = 65_536
DEFAULT_LIMIT = 65_000  # a little room below GitHub's limit
SEE_ELSEWHERE = "see the job log / plan artifact"
UNLIMITED = 1 << 30
SHORT_SHA = 7


# --------------------------------------------------------------------------- markers


def plan_marker(config_file: str, key: str = "") -> str:
    """`key` (the comment-key input: an environment, an account) keeps two jobs that plan
    one config apart, each with its own sticky comment."""
    return f"<!-- nami:plan:{_comment_safe(_keyed(config_file, key))} -->"


def deploy_marker(config_file: str, key: str = "") -> str:
    return f"<!-- nami:deploy:{_comment_safe(_keyed(config_file, key))} -->"


def _keyed(config_file: str, key: str) -> str:
    return f"{config_file}#{key.strip()}" if key.strip() else config_file


def as_marker(marker: str) -> str:
    """Accept `nami:plan:x` or a whole `<!-- ... -->` comment; return the comment."""
    marker = marker.strip()
    if marker.startswith("<!--"):
        return marker
    return f"<!-- {_comment_safe(marker)} -->"


def _comment_safe(text: str) -> str:
    # "--" may not appear inside an HTML comment, and ">" could end it early.
    return text.replace("--", "- -").replace(">", "&gt;").replace("\n", " ")


# --------------------------------------------------------------------------- plan


def plan_markdown(
    plan: Plan,
    *,
    sha: str | None = None,
    run_url: str | None = None,
    marker: str | None = None,
    limit: int = DEFAULT_LIMIT,
    caution: str = "",
    provenance: str = "",
    workflow: str | None = None,
) -> str:
    """The PR comment / job summary for a plan, at most `limit` characters when possible.

    `caution` (a pre-rendered alert, e.g. the pull request changes the workflow that makes
    this comment) goes first; `provenance` (what was planned: digests) before the footer,
    which names the `workflow` file and the commit. Neither is ever cut.

    Only the details are ever cut. If the marker, counts, warnings and footer alone exceed
    the limit (thousands of warnings), they are returned whole: dropping a warning that says
    messages will be lost is worse than a comment GitHub refuses (the summary still shows it).
    """
    head = _plan_head(plan, marker)
    warnings = _errors_block(plan) + _warnings_block(plan.warnings)
    unchanged = _unchanged_line(plan)
    foot = _footer(sha, run_url, workflow)
    sections = [_PlanSection(p, plan.prune) for p in plan.changed]
    fixed = [head, caution, warnings, _cost_block(plan)]
    return _fit(fixed, sections, [unchanged, provenance, foot], limit)


def _cost_block(plan: Plan) -> str:
    """Cost per million webhooks and fixed per month, per pipeline and in total."""
    heading = cost.heading(plan)
    if not heading:
        return ""
    found = cost.rows(plan, "→")
    lines = [f"**{_md_escape(heading)}**", ""]
    if found:
        monthly = any(row.monthly for row in found)
        lines += [
            f"| Pipeline | Cost {cost.PHRASE} | Fixed per month |"
            + (" Per month at that traffic |" if monthly else ""),
            "|---|---|---|" + ("---|" if monthly else ""),
        ]
        for row in found:
            name = "**total**" if row is found[-1] and len(found) > 1 else f"`{_cell(row.name)}`"
            name += f" · {row.note}" if row.note else ""
            cells = [row.per_million or "—", row.fixed] + ([row.monthly] if monthly else [])
            lines.append(f"| {name} | " + " | ".join(_dollars(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _dollars(text: str) -> str:
    # GitHub reads text between two `$` as math: escape them.
    return text.replace("$", "\\$")


def _plan_head(plan: Plan, marker: str | None) -> str:
    counts = plan.counts()
    title = f"### Nami plan · `{plan.project}` · {plan.region} · `{plan.config_file}`"
    if not plan.has_changes:
        total = len(plan.pipelines)
        line = f"**No changes.** {total} pipeline{_s(total)} up to date."
    else:
        line = (
            f"**{counts['create']} to create · {counts['update']} to update · "
            f"{counts['delete']} to delete · {counts['none']} unchanged**"
        )
    return f"{as_marker(marker or plan_marker(plan.config_file))}\n{title}\n\n{line}\n"


def plan_errors(plan: Plan) -> list[tuple[str, str]]:
    """(pipeline, why) for every pipeline whose change set could not be made."""
    found = ((p.pipeline, str(getattr(p, "error", "") or "")) for p in plan.pipelines)
    return [(name, error) for name, error in found if error]


def _errors_block(plan: Plan) -> str:
    errors = plan_errors(plan)
    if not errors:
        return ""
    lines = [
        "> [!CAUTION]",
        f"> **{len(errors)} pipeline{_s(len(errors))} could not be planned:**",
    ]
    lines += [f"> - **{_md_escape(name)}**: {_one_line(error)}" for name, error in errors]
    return "\n".join(lines) + "\n\n"


def _warnings_block(warnings: Sequence[PlanWarning]) -> str:
    losing = [w for w in warnings if w.loses_messages]
    other = [w for w in warnings if not w.loses_messages]
    blocks: list[str] = []
    if losing:
        lines = [
            "> [!CAUTION]",
            f"> **{len(losing)} change{_s(len(losing))} can lose queued webhooks.** "
            "Deploy refuses them unless forced (`nami deploy --force`).",
        ]
        lines += [f"> - {_warning_line(w)}" for w in losing]
        blocks.append("\n".join(lines) + "\n")
    if other:
        lines = ["> [!WARNING]"]
        lines += [f"> - {_warning_line(w)}" for w in other]
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def _warning_line(warning: PlanWarning) -> str:
    message = _one_line(warning.message)
    return f"**{_md_escape(warning.pipeline)}** ({warning.kind}): {message}"


def _unchanged_line(plan: Plan) -> str:
    names = [p.pipeline for p in plan.pipelines if not p.changed]
    if not names or not plan.has_changes:
        return ""
    paused = {p.pipeline for p in plan.pipelines if p.paused}
    shown = ", ".join(f"`{n}`" + (" (paused)" if n in paused else "") for n in names)
    return f"Unchanged ({len(names)}): {shown}\n"


def _footer(sha: str | None, run_url: str | None, workflow: str | None = None) -> str:
    parts: list[str] = []
    if workflow:
        parts.append(f"workflow `{_cell(workflow)}`")
    if sha:
        parts.append(f"commit {sha[:SHORT_SHA]}")
    if run_url:
        parts.append(f"[workflow run]({run_url})")
    parts.append(f"nami {__version__}")
    return "---\n<sub>" + " · ".join(parts) + "</sub>\n"


class _PlanSection:
    """One changed pipeline: a summary line that is always shown, then what changed in
    nami.yaml (settings as written, the consumer's code), then the CloudFormation details
    folded. Renderable at any level of truncation."""

    def __init__(self, pipeline: PipelinePlan, prune: bool) -> None:
        self.pipeline = pipeline
        self.prune = prune
        self.diff_lines = pipeline.diff.splitlines()
        self.fence = "`" * max(3, _longest_backtick_run(pipeline.diff) + 1)
        self.what_changed = [
            *(changes.setting_line(c, "→") for c in pipeline.settings),
            *changes.code_lines(pipeline.code, "→"),
        ]

    @property
    def size(self) -> tuple[int, int, int]:
        return len(self.diff_lines), len(self.pipeline.changes), len(self.what_changed)

    def summary(self) -> str:
        p = self.pipeline
        replacements = sum(1 for c in p.changes if c.replacement == "True")
        parts = [f"**`{_cell(p.pipeline)}`**", p.action]
        if changes.kept(p, self.prune):
            parts.append(changes.KEPT)
        if p.settings:
            parts.append(f"{len(p.settings)} setting{_s(len(p.settings))} changed")
        if p.code is not None:
            parts.append("code changed")
        if p.changes:
            parts.append(f"{len(p.changes)} resource change{_s(len(p.changes))}")
        if replacements:
            parts.append(f"⚠️ {replacements} replacement{_s(replacements)}")
        if any(w.loses_messages for w in p.warnings):
            parts.append("🛑 can lose messages")
        if p.paused:
            parts.append("⏸️ paused")
        return " · ".join(parts)

    def render(self, diff_limit: int, row_limit: int, change_limit: int) -> str:
        out = [self.summary(), ""]
        shown = self.what_changed[:change_limit]
        out += [f"- `{_cell(line)}`" for line in shown]
        if len(self.what_changed) > len(shown):
            out.append(f"- _{len(self.what_changed) - len(shown)} more, {SEE_ELSEWHERE}_")
        if self.pipeline.settings_note:
            out.append(f"_{_md_escape(self.pipeline.settings_note)}_")
        if shown or self.pipeline.settings_note or len(self.what_changed) > len(shown):
            out.append("")
        out += self._details(diff_limit, row_limit)
        return "\n".join(out)

    def _details(self, diff_limit: int, row_limit: int) -> list[str]:
        p = self.pipeline
        folded = []
        if p.changes:
            folded.append(f"{len(p.changes)} resource change{_s(len(p.changes))}")
        if self.diff_lines:
            folded.append(f"template diff, {len(self.diff_lines)} lines")
        title = "CloudFormation" + (f": {', '.join(folded)}" if folded else "")
        out = [f"<details><summary>{html.escape(title)}</summary>", ""]
        about = [f"Stack `{p.stack_name}`"]
        if p.reason:
            about.append(_md_escape(_one_line(p.reason)))
        if p.messages_waiting:
            about.append(f"{p.messages_waiting} message{_s(p.messages_waiting)} waiting")
        if p.retries and p.action != "delete":
            about.append(f"retries: {p.retries}")
        if p.forward and p.action != "delete":
            about.append(f"forward: {p.forward}")
        if p.routes and p.action != "delete":
            about += [_md_escape(line) for line in p.routes]
        if p.ingress and p.action != "delete":
            about.append(f"ingress: {p.ingress}")
        if p.paused:
            about.append("paused (`nami resume` to restart it; a deploy keeps it paused)")
        out += [" · ".join(about), ""]
        if p.changes:
            out += _change_table(p, row_limit)
        if self.diff_lines:
            out += self._diff(diff_limit)
        out += ["</details>", ""]
        return out

    def _diff(self, limit: int) -> list[str]:
        lines = self.diff_lines
        if limit <= 0:
            return [f"_diff omitted: {len(lines)} lines, {SEE_ELSEWHERE}_", ""]
        shown = lines[:limit]
        out = [f"{self.fence}diff", *shown, self.fence, ""]
        if len(lines) > limit:
            out += [f"_truncated: {len(lines) - limit} more lines, {SEE_ELSEWHERE}_", ""]
        return out


def _change_table(p: PipelinePlan, row_limit: int) -> list[str]:
    rows = p.changes
    if row_limit <= 0:
        return [f"_change table omitted: {len(rows)} rows, {SEE_ELSEWHERE}_", ""]
    out = ["| Operation | Logical ID | Type | Replacement |", "|---|---|---|---|"]
    for change in rows[:row_limit]:
        replacement = change.replacement or "—"
        if change.replacement == "True":
            replacement = "**True**"
        kind = f"`{_cell(change.resource_type)}`" if change.resource_type.strip() else "—"
        out.append(
            f"| {_cell(change.action)} | `{_cell(change.logical_id)}` | {kind} | {replacement} |"
        )
    out.append("")
    if len(rows) > row_limit:
        out += [f"_truncated: {len(rows) - row_limit} more rows, {SEE_ELSEWHERE}_", ""]
    return out


def _fit(
    fixed_head: Sequence[str],
    sections: Sequence[_PlanSection],
    fixed_tail: Sequence[str],
    limit: int,
) -> str:
    """Cut, in order, until the text fits: template diffs, change tables, the lists of
    changed settings and files, then whole sections (down to their summary line, which
    every changed pipeline keeps while any room is left), and last the summary lines
    themselves (their names stay listed)."""
    head = "\n".join(part for part in fixed_head if part)
    tail = "\n".join(part for part in fixed_tail if part)

    def build(diff_limit: int, row_limit: int, change_limit: int, full: int, shown: int) -> str:
        body = [head]
        for index, section in enumerate(sections[:shown]):
            if index < full:
                body.append(section.render(diff_limit, row_limit, change_limit))
            else:
                body.append(section.summary() + "\n")
        dropped = sections[shown:]
        if dropped:
            names = ", ".join(f"`{s.pipeline.pipeline}`" for s in dropped)
            body.append(
                f"_{len(dropped)} more changed pipeline{_s(len(dropped))} not shown "
                f"({SEE_ELSEWHERE}): {names}_\n"
            )
        if tail:
            body.append(tail)
        return "\n".join(body)

    every = len(sections)
    text = build(UNLIMITED, UNLIMITED, UNLIMITED, every, every)
    if len(text) <= limit:
        return text

    def fits(text: str) -> bool:
        return len(text) <= limit

    # 1. diffs: the largest per-diff line count that fits (0 = diffs omitted).
    most = [max((s.size[i] for s in sections), default=0) for i in range(3)]
    n = _largest(0, most[0], lambda n: fits(build(n, UNLIMITED, UNLIMITED, every, every)))
    if n is not None:
        return build(n, UNLIMITED, UNLIMITED, every, every)
    # 2. change tables, with every diff omitted.
    n = _largest(0, most[1], lambda n: fits(build(0, n, UNLIMITED, every, every)))
    if n is not None:
        return build(0, n, UNLIMITED, every, every)
    # 3. the lists of changed settings and files.
    n = _largest(0, most[2], lambda n: fits(build(0, 0, n, every, every)))
    if n is not None:
        return build(0, 0, n, every, every)
    # 4. sections from the end down to their summary line.
    n = _largest(0, every, lambda n: fits(build(0, 0, 0, n, every)))
    if n is not None:
        return build(0, 0, 0, n, every)
    # 5. summary lines from the end; their names stay listed.
    n = _largest(0, every, lambda n: fits(build(0, 0, 0, 0, n)))
    return build(0, 0, 0, 0, n or 0)


def _largest(low: int, high: int, fits: Callable[[int], bool]) -> int | None:
    """The largest n in [low, high] with fits(n), assuming fits is monotone decreasing."""
    if not fits(low):
        return None
    while low < high:
        mid = (low + high + 1) // 2
        if fits(mid):
            low = mid
        else:
            high = mid - 1
    return low


# --------------------------------------------------------------------------- deploy

OUTCOME_ICONS = {
    "created": "🆕",
    "updated": "✅",
    "deleted": "🗑️",
    "unchanged": "➖",
    "failed": "❌",
    "skipped": "⏭️",
    "refused": "🛑",
}


def deploy_markdown(
    result: DeployResult,
    *,
    sha: str | None = None,
    run_url: str | None = None,
    marker: str | None = None,
    limit: int = DEFAULT_LIMIT,
    config_file: str = "nami.yaml",
    pulls: Sequence[int] = (),
) -> str:
    """The job summary / merged-PR comment for a deploy: outcome per pipeline, failures first.

    `pulls`: the merged pull requests this deploy brings out (several when queued runs were
    coalesced), named under the counts."""
    failed = len(result.failed)
    status = "succeeded" if result.ok else f"failed ({failed} pipeline{_s(failed)})"
    icon = "✅" if result.ok else "❌"
    head = [
        as_marker(marker or deploy_marker(config_file)),
        f"### {icon} Nami deploy {status} · `{result.project}` · {result.region}",
        "",
        "**" + " · ".join(f"{n} {outcome}" for outcome, n in _outcome_counts(result)) + "**",
        "",
    ]
    if pulls:
        head += ["Deploys " + ", ".join(f"#{n}" for n in pulls), ""]
    failures = _failure_block(result.failed, limit // 2)
    moved = [p for p in result.pipelines if p.outcome != "unchanged"]
    still = [p.pipeline for p in result.pipelines if p.outcome == "unchanged"]
    table: list[str] = []
    if moved:
        table = ["| Pipeline | Outcome | Duration | Endpoint |", "|---|---|---|---|"]
        for p in moved:
            endpoint = f"`{_cell(p.endpoint)}`" if p.endpoint else "—"
            if p.dashboard:
                endpoint += f" · [dashboard]({p.dashboard})"
            outcome = p.outcome + (" · ⏸️ kept paused" if p.paused else "")
            table.append(
                f"| `{_cell(p.pipeline)}` | {OUTCOME_ICONS.get(p.outcome, '')} {outcome} | "
                f"{p.seconds:.0f}s | {endpoint} |"
            )
        table.append("")
    if still:
        table.append(f"Unchanged ({len(still)}): " + ", ".join(f"`{n}`" for n in still) + "\n")
    endpoints = result.endpoints()
    listed = {p.pipeline for p in moved}
    quiet = {k: v for k, v in endpoints.items() if k not in listed}
    if quiet:
        table.append(
            "<details><summary>Endpoints</summary>\n\n"
            + "\n".join(f"- `{k}`: `{v}`" for k, v in sorted(quiet.items()))
            + "\n\n</details>\n"
        )
    fixed = "\n".join(head) + "\n" + failures
    foot = _footer(sha, run_url)
    body = "\n".join(table)
    room = limit - len(fixed) - len(foot) - 200
    if len(body) > room:
        cut = body[: max(room, 0)].rsplit("\n", 1)[0]
        more = body.count("\n") - cut.count("\n")
        body = cut + f"\n\n_truncated: {more} more lines, see the job log / deploy result_\n"
    return "\n".join(part for part in (fixed, body, foot) if part)


def _outcome_counts(result: DeployResult) -> list[tuple[str, int]]:
    order = ["created", "updated", "deleted", "unchanged", "failed", "refused", "skipped"]
    counts = {o: 0 for o in order}
    for p in result.pipelines:
        counts[p.outcome] = counts.get(p.outcome, 0) + 1
    return [(o, counts[o]) for o in order if counts[o] or o in order[:4]]


def _failure_block(failed: Sequence[PipelineResult], budget: int) -> str:
    if not failed:
        return ""
    lines = ["> [!CAUTION]"]
    for p in failed:
        lines.append(f"> **{_md_escape(p.pipeline)}** {p.outcome} (stack `{p.stack_name}`)")
        for reason in p.reasons:
            lines.append(f"> - {_one_line(reason)}")
    text = "\n".join(lines) + "\n"
    if len(text) > budget:
        cut = text[:budget].rsplit("\n", 1)[0]
        text = cut + "\n> - _more reasons truncated, see the job log_\n"
    return text


# --------------------------------------------------------------------------- notices


def problems_markdown(
    problems: Sequence[Problem],
    config_file: str,
    *,
    sha: str | None = None,
    run_url: str | None = None,
    marker: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> str:
    """The comment / summary when nami.yaml does not validate."""
    count = len(problems)
    lines = [
        as_marker(marker or plan_marker(config_file)),
        f"### ❌ Nami: `{config_file}` is invalid",
        "",
        f"**{count} problem{_s(count)}** (also shown inline on the file in the diff):",
        "",
    ]
    foot = _footer(sha, run_url)
    used = sum(len(line) + 1 for line in lines) + len(foot) + 100
    for index, problem in enumerate(problems):
        line = f"- `{problem.file}:{problem.line}:{problem.column}`: {_one_line(problem.message)}"
        if used + len(line) + 1 > limit:
            lines.append(f"- _{count - index} more, see the job log_")
            break
        lines.append(line)
        used += len(line) + 1
    return "\n".join(lines) + "\n\n" + foot


def notice_markdown(
    title: str,
    text: str,
    *,
    marker: str,
    sha: str | None = None,
    run_url: str | None = None,
    kind: str = "NOTE",
) -> str:
    """A short comment/summary: e.g. a fork pull request that was validated only."""
    quoted = "\n".join(f"> {line}" if line else ">" for line in text.splitlines())
    return f"{as_marker(marker)}\n### {title}\n\n> [!{kind}]\n{quoted}\n\n" + _footer(sha, run_url)


def code_span(text: str) -> str:
    """`text` as inline code whatever backticks it holds (CommonMark: a longer delimiter)."""
    one_line = _one_line(printable(text))
    ticks = "`" * (_longest_backtick_run(one_line) + 1)
    pad = " " if one_line.startswith("`") or one_line.endswith("`") else ""
    return f"{ticks}{pad}{one_line}{pad}{ticks}"


def fenced(text: str, info: str = "") -> str:
    """`text` in a code block whose fence no line of it can close (CommonMark: a closing
    fence is at least as long as the opening one), with control characters escaped."""
    safe = terminal_safe(text)
    fence = "`" * max(3, _longest_backtick_run(safe) + 1)
    return f"{fence}{info}\n{safe}\n{fence}"


# --------------------------------------------------------------------------- helpers


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _cell(text: str) -> str:
    return _one_line(text).replace("|", "\\|").replace("`", "'")


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|])")


def _md_escape(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", text)


def _longest_backtick_run(text: str) -> int:
    return max((len(m) for m in re.findall(r"`+", text)), default=0)
