"""The PR comment in nami.yaml's terms, on real compiled templates: the example's four pipelines
each changed (a newcomer's first pull request) and a 30-pipeline change. The templates are
compiled and packaged for real; only CloudFormation's change set is stood in for, by comparing
the two templates' resources (what the planner gets from DescribeChangeSet)."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

from nami_action.compile import CodeLocation, compile_config
from nami_action.config import load_config
from nami_action.config.rules import retry_horizon
from nami_action.cost.estimate import pipeline_cost
from nami_action.cost.model import Assumptions
from nami_action.cost.prices import prices_for
from nami_action.package.pipelines import package_config
from nami_action.plan.changes import with_changes
from nami_action.plan.decide import queue_warnings
from nami_action.plan.endpoints import kind_change_warning
from nami_action.plan.model import PipelinePlan, Plan, PlanCost, ResourceChange, SettingChange
from nami_action.plan.review_form import review_text
from nami_action.render.markdown import GITHUB_LIMIT, plan_markdown

ROOT = Path(__file__).resolve().parents[2]


def compiled(config_path: Path) -> dict[str, dict[str, Any]]:
    """Pipeline -> its template, packaged and compiled as `nami plan` does."""
    config = load_config(config_path)
    artifacts = package_config(config)
    code = {
        name: CodeLocation("bucket", artifact.s3_key, artifact.manifest)
        for name, artifact in artifacts.items()
    }
    by_stack = compile_config(config, code, use_cache=False)
    return {name: json.loads(by_stack[p.stack_name]) for name, p in config.pipelines.items()}


def resource_changes(before: dict[str, Any], after: dict[str, Any]) -> list[ResourceChange]:
    old, new = before["Resources"], after["Resources"]
    rows = []
    for logical_id in sorted(set(old) | set(new)):
        if logical_id not in new:
            rows.append(ResourceChange("Remove", logical_id, old[logical_id]["Type"], ""))
        elif logical_id not in old:
            rows.append(ResourceChange("Add", logical_id, new[logical_id]["Type"], ""))
        elif old[logical_id] != new[logical_id]:
            rows.append(ResourceChange("Modify", logical_id, new[logical_id]["Type"], "False"))
    return rows


def plan_of(before: dict[str, dict[str, Any]], config_path: Path) -> Plan:
    """The plan as the planner makes it from these templates: what changed, the warnings,
    the cost at a stated traffic (all pure steps; only the change set is stood in for)."""
    prices = prices_for("eu-west-1")
    assert prices is not None
    after, config = compiled(config_path), load_config(config_path)
    project = config.project
    pipelines = []
    for name in after:
        plan = PipelinePlan(name, f"{project}-{name}", "update", "template changed")
        plan = with_changes(plan, before[name], after[name])
        changes = resource_changes(before[name], after[name])
        touched = queue_warnings(name, before[name], after[name], changes)
        changed_kind = kind_change_warning(config.pipelines[name], before[name])
        warnings = [w for _, w in touched] + changed_kind
        cost = pipeline_cost(before[name], after[name], prices, Assumptions(), 2e6)
        plan = replace(
            plan,
            changes=changes,
            warnings=warnings,
            cost=cost,
            retries=retry_horizon(config.pipelines[name].spec),
        )
        pipelines.append(plan)
    about = PlanCost("eu-west-1", "2026-11-28", Assumptions().describe(), "2M/month per pipeline")
    return Plan(project, "nami.yaml", "eu-west-1", pipelines, about)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def newcomer_change(tmp_path: Path) -> Plan:
    """The example deployed, then each of its four pipelines changed in one pull request."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    config = tmp_path / "examples" / "nami.yaml"
    before = compiled(config)
    edit(config, "      max_concurrency: 5 ", "      memory: 1024\n      max_concurrency: 5 ")
    edit(config, "      max_concurrency: 20", "      max_concurrency: 10")
    edit(config, "      rate: 200", "      rate: 100")
    edit(config, "  github:\n", "  github:\n    ingress: http\n")
    edit(config, "      timeout: 1m", "      timeout: 2m")
    edit(config, "reserved_concurrency: 20", "reserved_concurrency: 30")
    slack = tmp_path / "examples" / "consumers" / "slack_events"
    (slack / "handler.py").write_text((slack / "handler.py").read_text() + "\n# reviewed\n")
    (slack / "blocks.py").write_text("HEADER = {'type': 'header'}\n")
    return plan_of(before, config)


def section(text: str, pipeline: str) -> list[str]:
    start = text.index(f"**`{pipeline}`** · update")
    return text[start:].splitlines()


def test_the_newcomers_four_pipeline_change_reads_in_nami_yaml_terms(tmp_path: Path) -> None:
    plan = newcomer_change(tmp_path)
    text = plan_markdown(plan)
    assert len(text) < 20_000, len(text)
    assert "truncated" not in text and "omitted" not in text  # it fits whole
    # Each pipeline opens with what changed, as written in nami.yaml; CloudFormation after.
    expected = {
        "github": ["- `consumer.memory: 256 → 1024`", "- `ingress: rest (default) → http`"],
        "stripe": ["- `consumer.max_concurrency: 20 → 10`", "- `throttle.rate: 200 → 100`"],
        "orders": ["- `consumer.timeout: 1m → 2m`"],
        "slack": [
            "- `ingress_function.reserved_concurrency: 20 → 30`",
            "- `code: changed handler.py; added blocks.py`",
        ],
    }
    for pipeline, lines in expected.items():
        found = section(text, pipeline)
        assert found[2 : 2 + len(lines)] == lines, found[:6]
        assert found[2 + len(lines)] == ""
        assert found[3 + len(lines)].startswith("<details><summary>CloudFormation: ")
    # The VTL is diffed line by line: no line of the comment is a whole mapping template.
    assert max(len(line) for line in text.splitlines()) < 1_000
    assert '"ApiPostMethod": (AWS::ApiGateway::Method removed)' in text  # in the table


def test_a_mapping_template_is_diffed_line_by_line_and_written_once(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    config = tmp_path / "examples" / "nami.yaml"
    before = compiled(config)["stripe"]
    edit(config, "      json_path: $.id", "      json_path: $.data.id")
    after = compiled(config)["stripe"]
    text = review_text(after)
    templates = after["Resources"]["ApiPostMethod"]["Properties"]["Integration"]
    vtl = templates["RequestTemplates"]["application/json"]
    assert len(templates["RequestTemplates"]) > 5 and vtl.count("\n") > 10
    for line in vtl.splitlines():
        assert text.count(line.replace('"', '\\"')) <= 1 or len(line) < 20
    assert (
        text.count('(same text as "application/cloudevents+json" above)')
        == len(templates["RequestTemplates"]) - 1
    )
    plan = with_changes(PipelinePlan("stripe", "acme-stripe", "update"), before, after)
    assert plan.settings == [SettingChange("dedupe.json_path", "$.id", "$.data.id")]
    changed = [
        line
        for line in plan.diff.splitlines()
        if line[:1] in "+-" and line[:3] not in ("+++", "---")
    ]
    assert changed and all(len(line) < 400 for line in changed)


def test_thirty_changed_pipelines_fit_with_every_summary_line(tmp_path: Path) -> None:
    (tmp_path / "consumer").mkdir()
    (tmp_path / "consumer" / "handler.py").write_text("def handle(webhook):\n    return None\n")
    config = tmp_path / "nami.yaml"
    pipelines = "".join(
        f"  source-{i:02d}:\n"
        f"    verify: {{scheme: github, secret: 'ssm:/shop/source-{i:02d}'}}\n"
        "    consumer: {code: consumer, handler: handler.handle}\n"
        for i in range(30)
    )
    head = "version: 1\nproject: shop\nregion: eu-west-1\n"
    config.write_text(f"{head}defaults:\n  consumer: {{memory: 256}}\npipelines:\n{pipelines}")
    before = compiled(config)
    # Every pipeline changes memory, ingress (REST -> HTTP: a large template diff) and code.
    config.write_text(
        f"{head}defaults:\n  ingress: http\n  consumer: {{memory: 512}}\npipelines:\n{pipelines}"
    )
    (tmp_path / "consumer" / "handler.py").write_text("def handle(webhook):\n    pass\n")
    plan = plan_of(before, config)
    full = plan_markdown(plan, limit=10**9)
    assert len(full) > GITHUB_LIMIT  # the test is meaningful: it must cut

    text = plan_markdown(plan)
    assert len(text) < GITHUB_LIMIT
    for i in range(30):
        assert re.search(rf"\*\*`source-{i:02d}`\*\* · update · 2 settings changed", text)
    assert "not shown" not in text
    assert text.count("- `consumer.memory: 256 → 512`") == 30  # settings outlast the diffs
