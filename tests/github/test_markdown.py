"""The Markdown preview: counts first, every warning kept, details truncated under the limit."""

from __future__ import annotations

from nami_action.errors import Problem
from nami_action.plan.model import DeployResult, PipelinePlan, PipelineResult, PlanWarning
from nami_action.render.markdown import (
    GITHUB_LIMIT,
    deploy_markdown,
    deploy_marker,
    plan_markdown,
    plan_marker,
    problems_markdown,
)

from .github_fakes import changed_pipeline, make_plan


def unchanged(name: str) -> PipelinePlan:
    return PipelinePlan(pipeline=name, stack_name=f"acme-{name}", action="none")


def test_sixty_changed_pipelines_fit_and_keep_every_warning() -> None:
    pipelines = [changed_pipeline(f"pipeline-{i:02d}") for i in range(60)]
    plan = make_plan([*pipelines, unchanged("quiet")])
    full = plan_markdown(plan, limit=10**9)
    assert len(full) > 10 * GITHUB_LIMIT  # the test is meaningful: it must truncate

    text = plan_markdown(plan, sha="0123456789abcdef", run_url="https://gh.example/run/1")
    assert len(text) < GITHUB_LIMIT
    assert len(text) <= 65_000
    for warning in plan.warnings:
        assert warning.message in text
    assert text.count("> - **") == len(plan.warnings) == 120
    assert text.startswith("<!-- nami:plan:nami.yaml -->\n")
    assert "**0 to create · 60 to update · 0 to delete · 1 unchanged**" in text
    assert "truncated" in text or "omitted" in text
    assert "see the job log / plan artifact" in text
    assert "commit 0123456" in text and "https://gh.example/run/1" in text
    assert "Unchanged (1): `quiet`" in text
    # Every changed pipeline is still named, in a section or in the "not shown" list.
    for pipeline in pipelines:
        assert pipeline.pipeline in text


def test_counts_come_before_the_warnings_and_the_details() -> None:
    plan = make_plan([changed_pipeline("github", diff_lines=3), unchanged("stripe")])
    text = plan_markdown(plan)
    counts = text.index("to create")
    caution = text.index("> [!CAUTION]")
    warning = text.index("> [!WARNING]")
    details = text.index("<details>")
    assert counts < caution < warning < details
    assert "| Operation | Logical ID | Type | Replacement |" in text
    assert "| Modify | `Resource0` | `AWS::SQS::Queue` | **True** |" in text
    assert "```diff\n--- github (deployed)" in text
    assert "truncated" not in text


def test_diffs_are_cut_before_tables() -> None:
    plan = make_plan([changed_pipeline(f"p{i}", diff_lines=200) for i in range(5)])
    full = plan_markdown(plan, limit=10**9)
    text = plan_markdown(plan, limit=len(full) // 2)
    assert len(text) <= len(full) // 2
    assert text.count("| Modify |") == 5 * 6  # every table row kept
    assert "_truncated: " in text and "more lines, see the job log / plan artifact_" in text


def test_tables_are_cut_when_diffs_are_not_enough() -> None:
    plan = make_plan([changed_pipeline(f"p{i}", diff_lines=5, changes=200) for i in range(5)])
    text = plan_markdown(plan, limit=12_000)
    assert len(text) <= 12_000
    assert "_diff omitted: " in text
    assert "more rows, see the job log / plan artifact_" in text
    assert len(plan.warnings) == text.count("> - **")


def test_sections_shrink_to_their_summary_line_then_are_listed_by_name() -> None:
    quiet = [changed_pipeline(f"p{i:03d}", diff_lines=1, changes=1) for i in range(40)]
    plan = make_plan([PipelinePlan(**{**p.__dict__, "warnings": []}) for p in quiet])
    text = plan_markdown(plan, limit=8_000)
    assert len(text) <= 8_000
    assert "<details>" in text.split("**`p001`**")[0]  # the first sections stay whole
    for pipeline in quiet:  # every summary line stays
        assert f"**`{pipeline.pipeline}`** · update · 1 resource change" in text
    assert "not shown" not in text

    tight = plan_markdown(plan, limit=2_000)
    assert len(tight) <= 2_000
    assert "**`p000`** · update" in tight
    assert "more changed pipelines not shown" in tight
    assert "`p039`" in tight


def test_warnings_are_never_cut_even_over_the_limit() -> None:
    plan = make_plan([changed_pipeline(f"p{i}") for i in range(3)])
    text = plan_markdown(plan, limit=500)
    for warning in plan.warnings:
        assert warning.message in text


def test_no_changes() -> None:
    text = plan_markdown(make_plan([unchanged("a"), unchanged("b")]))
    assert "**No changes.** 2 pipelines up to date." in text
    assert "<details>" not in text and "[!CAUTION]" not in text


def test_diff_with_backticks_cannot_break_the_fence() -> None:
    pipeline = changed_pipeline("p", diff_lines=0)
    odd = PipelinePlan(**{**pipeline.__dict__, "diff": "+ description: use ```code```"})
    text = plan_markdown(make_plan([odd]))
    assert "````diff\n+ description: use ```code```\n````" in text


def test_warning_text_cannot_escape_the_alert() -> None:
    pipeline = changed_pipeline("p", diff_lines=0)
    evil = PlanWarning("p", "queue-removed", "line one\n\n# heading\n<!-- x -->", True)
    odd = PipelinePlan(**{**pipeline.__dict__, "warnings": [evil]})
    text = plan_markdown(make_plan([odd]))
    assert "> - **p** (queue-removed): line one # heading <!-- x -->" in text


def test_custom_marker() -> None:
    plan = make_plan([unchanged("a")])
    assert plan_markdown(plan, marker="nami:plan:infra/nami.yaml").startswith(
        "<!-- nami:plan:infra/nami.yaml -->"
    )
    assert plan_markdown(plan, marker="<!-- x -->").startswith("<!-- x -->\n")


def test_comment_key_gives_each_job_its_own_marker() -> None:
    assert plan_marker("nami.yaml") == "<!-- nami:plan:nami.yaml -->"
    assert plan_marker("nami.yaml", "prod") == "<!-- nami:plan:nami.yaml#prod -->"
    assert deploy_marker("nami.yaml", "a-->b") == "<!-- nami:deploy:nami.yaml#a- -&gt;b -->"


def test_deploy_markdown() -> None:
    result = DeployResult(
        "acme",
        "us-east-1",
        [
            PipelineResult("github", "acme-github", "update", "updated", 42.4, "https://x/github"),
            PipelineResult("stripe", "acme-stripe", "none", "unchanged", 0.1, "https://x/stripe"),
            PipelineResult(
                "orders",
                "acme-orders",
                "update",
                "failed",
                12,
                reasons=["Queue: Resource handler returned message: boom"],
            ),
        ],
    )
    text = deploy_markdown(result, sha="abcdef1234", run_url="https://run", marker="nami:deploy:x")
    assert text.startswith("<!-- nami:deploy:x -->")
    assert "failed (1 pipeline)" in text
    assert "**0 created · 1 updated · 0 deleted · 1 unchanged · 1 failed**" in text
    assert "> [!CAUTION]" in text and "Resource handler returned message: boom" in text
    assert "| `github` | ✅ updated | 42s | `https://x/github` |" in text
    assert "Unchanged (1): `stripe`" in text
    assert "- `stripe`: `https://x/stripe`" in text
    assert "commit abcdef1" in text
    assert "Deploys" not in text
    coalesced = deploy_markdown(result, pulls=[11, 12])
    assert "**\n\nDeploys #11, #12\n" in coalesced


def test_deploy_markdown_stays_under_the_limit() -> None:
    pipelines = [
        PipelineResult(f"p{i}", f"acme-p{i}", "update", "updated", 1, f"https://x/{'y' * 200}")
        for i in range(600)
    ]
    text = deploy_markdown(DeployResult("acme", "us-east-1", pipelines), limit=20_000)
    assert len(text) <= 20_000
    assert "truncated" in text


def test_problems_markdown() -> None:
    problems = [Problem("nami.yaml", 3, 5, "unknown key `pipline`, did you mean `pipelines`?")]
    text = problems_markdown(problems, "nami.yaml")
    assert text.startswith("<!-- nami:plan:nami.yaml -->")
    assert "- `nami.yaml:3:5`: unknown key `pipline`, did you mean `pipelines`?" in text
