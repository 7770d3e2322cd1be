"""action.yml and the example workflow: the documented interface, pinning, and zizmor."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from .action_runner import ACTION_PATH, ACTION_YML, load_action

WORKFLOW = ACTION_PATH / "examples" / "workflows" / "nami.yml"
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def test_inputs_and_outputs() -> None:
    action = load_action()
    inputs = action["inputs"]
    assert set(inputs) >= {
        "config",
        "command",
        "pipelines",
        "prune",
        "fail-on",
        "comment",
        "github-token",
        "working-directory",
        "python-version",
        "force",
        "environment",
        "comment-key",
        "comment-on-no-changes",
        "labels",
    }
    assert inputs["fail-on"]["default"] == "refused"
    assert inputs["force"]["default"] == "false"
    assert inputs["config"]["default"] == "nami.yaml"
    assert inputs["command"]["default"] == "auto"
    assert inputs["comment"]["default"] == "true"
    assert inputs["github-token"]["default"] == "${{ github.token }}"
    assert set(action["outputs"]) >= {
        "status",
        "has-changes",
        "plan",
        "changed-pipelines",
        "endpoints",
    }
    assert action["runs"]["using"] == "composite"
    assert action["branding"]["icon"] and action["branding"]["color"]


def test_no_expression_inside_a_script() -> None:
    """Inputs reach scripts through env: only; `${{ }}` in run: would be template injection."""
    for step in load_action()["runs"]["steps"]:
        if "run" in step:
            assert "${{" not in step["run"], step.get("name")


def test_cache_is_saved_right_after_the_install() -> None:
    steps = load_action()["runs"]["steps"]
    names = [s.get("uses", s.get("name", "")).split("@")[0] for s in steps]
    install = names.index("Install Nami's dependencies")
    assert names[install - 1] == "actions/cache/restore"
    assert names[install + 1] == "actions/cache/save"
    assert "if" not in steps[install], "the environment is built in every job, never restored"
    for cache in (steps[install - 1], steps[install + 1]):
        assert cache["with"]["path"] == "${{ steps.key.outputs.uv-cache }}"
    script = steps[install]["run"]
    assert script.count("--require-hashes") == 2 and "--no-deps" in script
    (run_step,) = [s for s in steps if s.get("id") == "nami"]
    assert "-P -m nami_action.github run" in run_step["run"]


def test_every_input_reaches_the_run_step() -> None:
    action = load_action()
    (run_step,) = [s for s in action["runs"]["steps"] if s.get("id") == "nami"]
    passed = " ".join(str(v) for v in run_step["env"].values())
    for name in action["inputs"]:
        if name != "python-version":
            assert f"inputs.{name} }}}}" in passed, name


def test_actions_are_pinned_by_commit() -> None:
    workflow = YAML(typ="safe").load(WORKFLOW.read_text())
    uses = [s["uses"] for s in load_action()["runs"]["steps"] if "uses" in s]
    for job in workflow["jobs"].values():
        uses += [s["uses"] for s in job["steps"] if "uses" in s]
    assert uses
    for ref in uses:
        assert PINNED.match(ref), ref


def test_example_workflow_permissions_and_concurrency() -> None:
    workflow = YAML(typ="safe").load(WORKFLOW.read_text())
    assert workflow["permissions"] == {}
    assert set(workflow["on"]) == {"pull_request", "merge_group", "push"}
    jobs = workflow["jobs"]
    plan, staging, production = jobs["plan"], jobs["deploy-staging"], jobs["deploy-production"]
    for deploy, env in ((staging, "staging"), (production, "production")):
        assert deploy["permissions"] == {
            "actions": "read",
            "contents": "read",
            "id-token": "write",
            "pull-requests": "write",
        }
        assert deploy["concurrency"] == {
            "group": f"nami-deploy-{env}",
            "cancel-in-progress": False,
        }
        assert deploy["environment"] == env
    assert "environment" not in plan
    assert "merge_group" in plan["if"] and "pull_request" in plan["if"]
    assert "matrix.environment" in plan["concurrency"]["group"]
    assert all(job["timeout-minutes"] <= 60 for job in jobs.values())
    for job in jobs.values():
        checkout = job["steps"][0]
        assert checkout["uses"].startswith("actions/checkout@")
        assert checkout["with"]["persist-credentials"] is False


def role_of(job: dict[str, Any]) -> str:
    (step,) = [s for s in job["steps"] if "configure-aws-credentials" in s.get("uses", "")]
    return str(step["with"]["role-to-assume"])


def nami_steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in job["steps"] if s.get("uses", "").startswith("nami-dev/nami@")]


def nami_step(job: dict[str, Any]) -> dict[str, Any]:
    (step,) = [s for s in nami_steps(job) if s["with"]["command"] != "build"]
    return step


def test_every_job_builds_before_its_credentials() -> None:
    """pip (the consumers' requirements) runs in the build step only, before any role."""
    jobs = YAML(typ="safe").load(WORKFLOW.read_text())["jobs"]
    for name, job in jobs.items():
        steps = job["steps"]
        build = [i for i, s in enumerate(steps) if s.get("with", {}).get("command") == "build"]
        credentials = [
            i for i, s in enumerate(steps) if "configure-aws-credentials" in s.get("uses", "")
        ]
        assert len(build) == 1 and credentials and build[0] < min(credentials), name


def test_deploys_execute_only_the_merge_plan() -> None:
    jobs = YAML(typ="safe").load(WORKFLOW.read_text())["jobs"]
    for env in ("staging", "production"):
        merge_plan, deploy = jobs[f"merge-plan-{env}"], jobs[f"deploy-{env}"]
        assert role_of(merge_plan).endswith(":role/nami-plan")
        assert "environment" not in merge_plan
        assert merge_plan["outputs"]["fingerprint"] == "${{ steps.nami.outputs.plan-fingerprint }}"
        assert f"merge-plan-{env}" in deploy["needs"]
        approved = nami_step(deploy)["with"]["approved-plan"]
        assert approved == f"${{{{ needs.merge-plan-{env}.outputs.fingerprint }}}}"


def test_plan_and_deploy_use_their_own_roles() -> None:
    """On pull_request GitHub runs the PR's workflow file: the plan job's role must not be the
    deploy role, and each deploy job is the only one in its protected environment, with the
    deploy role of that environment's account."""
    jobs = YAML(typ="safe").load(WORKFLOW.read_text())["jobs"]
    assert role_of(jobs["plan"]) == "arn:aws:iam::${{ matrix.account }}:role/nami-plan"
    assert role_of(jobs["deploy-staging"]) == "arn:aws:iam::111111111111:role/nami-deploy"
    assert role_of(jobs["deploy-production"]) == "arn:aws:iam::222222222222:role/nami-deploy"
    assert nami_step(jobs["plan"])["with"]["command"] == "plan"


def test_every_environment_is_planned_and_production_promotes_staging() -> None:
    jobs = YAML(typ="safe").load(WORKFLOW.read_text())["jobs"]
    matrix = jobs["plan"]["strategy"]["matrix"]["include"]
    example = YAML(typ="safe").load(
        (ACTION_PATH / "examples" / "nami-environments.yaml").read_text()
    )
    accounts = {name: env["account"] for name, env in example["environments"].items()}
    assert {row["environment"]: row["account"] for row in matrix} == accounts
    assert nami_step(jobs["plan"])["with"]["environment"] == "${{ matrix.environment }}"
    assert "comment-key" not in nami_step(jobs["plan"])["with"]  # the environment keys it
    assert nami_step(jobs["deploy-staging"])["with"]["environment"] == "staging"
    assert nami_step(jobs["deploy-production"])["with"]["environment"] == "production"
    assert jobs["deploy-production"]["needs"] == ["merge-plan-production", "deploy-staging"]
    assert "if" not in jobs["deploy-production"]  # only ever after the staging deploy
    for env in ("staging", "production"):
        assert accounts[env] in role_of(jobs[f"deploy-{env}"])


def test_node24_majors_are_pinned() -> None:
    """Each action at the major whose runtime is node24 (checked in each release's action.yml)."""
    text = WORKFLOW.read_text() + ACTION_YML.read_text()
    for action, major in [
        ("actions/checkout", "v7"),
        ("actions/setup-python", "v7"),
        ("actions/cache/restore", "v5"),
        ("actions/cache/save", "v5"),
        ("aws-actions/configure-aws-credentials", "v6"),
    ]:
        found = re.findall(rf"{re.escape(action)}@[0-9a-f]{{40}} # (v\d+)", text)
        assert found and set(found) == {major}, (action, found)


def zizmor() -> str:
    found = shutil.which("zizmor") or str(Path(ACTION_PATH / ".venv" / "bin" / "zizmor"))
    if not Path(found).exists():
        pytest.skip("zizmor is not installed")
    return found


WORKFLOWS = ACTION_PATH / ".github" / "workflows"


@pytest.mark.parametrize(
    "path",
    [
        ACTION_PATH / "action.yml",
        WORKFLOW,
        WORKFLOWS / "ci.yml",
        WORKFLOWS / "action-test.yml",
        WORKFLOWS / "latest-deps.yml",
        WORKFLOWS / "docs.yml",
        ACTION_PATH / ".github" / "dependabot.yml",
    ],
    ids=lambda p: p.name,
)
def test_zizmor_has_no_findings(path: Path) -> None:
    """Each file on its own: zizmor given a directory only collects .github/workflows."""
    done = subprocess.run(
        [zizmor(), "--offline", "--persona=pedantic", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings" in done.stdout


def documented_table(heading: str) -> list[list[str]]:
    """The rows of the Markdown table under `## heading` of the manual's Action page."""
    text = (ACTION_PATH / "docs" / "github-action.md").read_text()
    section = text.split("# GitHub Action\n", 1)[1].split(f"\n## {heading}\n", 1)[1]
    rows = [line for line in section.split("\n## ", 1)[0].splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows[2:]]


def test_docs_document_every_input_with_its_default() -> None:
    inputs = load_action()["inputs"]
    documented = {row[0].strip("`"): row[1] for row in documented_table("Inputs")}
    assert set(documented) == set(inputs)
    for name, spec in inputs.items():
        default = str(spec.get("default") or '""')
        assert documented[name] == f"`{default}`", name


def test_docs_document_every_output() -> None:
    documented = [row[0].strip("`") for row in documented_table("Outputs")]
    assert documented == list(load_action()["outputs"])
