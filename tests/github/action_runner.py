"""Run the composite action.yml the way the GitHub runner does, on this machine.

Each `run:` step is written to a script and run with `bash --noprofile --norc -eo pipefail`
(the runner's `shell: bash`), in GITHUB_WORKSPACE, with the step's `env:` evaluated, a fresh
GITHUB_OUTPUT and GITHUB_STEP_SUMMARY file per step, and GITHUB_ACTION_PATH set. Its outputs
feed `steps.<id>.outputs`, which later `env:`, `with:`, `if:` and the action's `outputs:` read.

`uses:` steps are stood in for, not run:
- actions/setup-python: outputs `python-path` = this interpreter (the repo's .venv python),
  or the `python` given;
- actions/cache/save: records the key it would save (ActionRun.saved);
- actions/cache/restore: a hit by default - uv's download cache path is made a symlink to this
  machine's uv cache (which `make install` filled), so the install step, which always runs,
  installs from it as on a warm run; pip finds uv's wheel in its own cache. With
  `cache_hit=False` the path starts empty and uv downloads everything (needs PyPI).
Only the expression forms action.yml uses are supported; anything else fails loudly.
"""

from __future__ import annotations

import functools
import os
import platform
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

ACTION_PATH = Path(__file__).resolve().parents[2]
ACTION_YML = ACTION_PATH / "action.yml"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
CONDITION = re.compile(r"^([\w.-]+)\s*(==|!=)\s*'([^']*)'$")


@dataclass
class ActionRun:
    returncode: int
    outputs: dict[str, str]
    summary: str
    stdout: str
    stderr: str
    steps: dict[str, dict[str, str]] = field(default_factory=dict)
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    saved: list[str] = field(default_factory=list)


def load_action() -> dict[str, Any]:
    data = YAML(typ="safe").load(ACTION_YML.read_text())
    assert isinstance(data, dict)
    return data


def parse_output_file(text: str) -> dict[str, str]:
    outputs: dict[str, str] = {}
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line:
            i += 1
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            end = lines.index(delimiter, i + 1)
            outputs[name] = "\n".join(lines[i + 1 : end])
            i = end + 1
        else:
            name, value = line.split("=", 1)
            outputs[name] = value
            i += 1
    return outputs


class Contexts:
    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def lookup(self, path: str) -> str:
        node: Any = self.values
        for part in path.split("."):
            if not isinstance(node, dict) or part not in node:
                if path.startswith("steps.") or path.startswith("inputs."):
                    return ""  # the runner yields '' for a missing output
                raise AssertionError(f"harness: unsupported expression {path!r}")
            node = node[part]
        return "" if node is None else str(node)

    def substitute(self, text: str) -> str:
        return EXPRESSION.sub(lambda m: self.lookup(m.group(1)), text)

    def condition(self, expression: str) -> bool:
        inner = EXPRESSION.fullmatch(expression.strip())
        expression = inner.group(1) if inner else expression.strip()
        match = CONDITION.match(expression)
        if not match:
            raise AssertionError(f"harness: unsupported if: {expression!r}")
        left, operator, right = match.groups()
        equal = self.lookup(left) == right
        return equal if operator == "==" else not equal


def run_action(
    *,
    workspace: Path,
    temp: Path,
    event_name: str,
    event_path: Path,
    inputs: dict[str, str],
    env: dict[str, str],
    token: str,
    cache_hit: bool = True,
    python: str = sys.executable,
    timeout: float = 300,
) -> ActionRun:
    """Run action.yml's steps in order, stopping at the first failing one, like the runner."""
    action = load_action()
    given = {
        name: inputs.get(name, str(spec.get("default", "")))
        for name, spec in action.get("inputs", {}).items()
    }
    unknown = set(inputs) - set(given)
    assert not unknown, f"not inputs of action.yml: {unknown}"
    runner_temp = temp / "runner-temp"
    runner_temp.mkdir(parents=True, exist_ok=True)
    steps: dict[str, dict[str, str]] = {}
    ctx = Contexts(
        {
            "github": {
                "action_path": str(ACTION_PATH),
                "token": token,
                "workspace": str(workspace),
            },
            "runner": {"temp": str(runner_temp), "os": "Linux", "arch": "X64"},
            "steps": steps,
        }
    )
    # inputs.* is evaluated in the github context first (the default `${{ github.token }}`).
    ctx.values["inputs"] = {name: ctx.substitute(value) for name, value in given.items()}
    result = ActionRun(0, {}, "", "", "", steps)
    summaries: list[str] = []
    for index, step in enumerate(action["runs"]["steps"]):
        step_id = str(step.get("id") or f"__{index}")
        name = str(step.get("name") or step_id)
        if "if" in step and not ctx.condition(str(step["if"])):
            result.skipped.append(name)
            continue
        result.ran.append(name)
        if "uses" in step:
            outputs = _stand_in(step, ctx, cache_hit, python, result)
            steps[step_id] = {"outputs": outputs}  # type: ignore[dict-item]
            continue
        step_env = {k: ctx.substitute(str(v)) for k, v in (step.get("env") or {}).items()}
        output = temp / f"output-{index}"
        summary = temp / f"summary-{index}.md"
        output.write_text("")
        summary.write_text("")
        script = temp / f"step-{index}.sh"
        script.write_text(ctx.substitute(str(step["run"])))
        assert step.get("shell") == "bash", f"step {name}: the harness runs bash steps only"
        full_env = {
            **env,
            **step_env,
            "GITHUB_EVENT_NAME": event_name,
            "GITHUB_EVENT_PATH": str(event_path),
            "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_ACTION_PATH": str(ACTION_PATH),
            "GITHUB_OUTPUT": str(output),
            "GITHUB_STEP_SUMMARY": str(summary),
            "RUNNER_TEMP": str(runner_temp),
            "RUNNER_OS": "Linux",
            "RUNNER_ARCH": "X64",
        }
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=workspace,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        result.stdout += done.stdout
        result.stderr += done.stderr
        steps[step_id] = {"outputs": parse_output_file(output.read_text())}  # type: ignore[dict-item]
        summaries.append(summary.read_text())
        if done.returncode != 0:
            result.returncode = done.returncode
            break
    result.summary = "".join(summaries)
    result.outputs = {
        name: ctx.substitute(str(spec["value"])) for name, spec in action["outputs"].items()
    }
    return result


@functools.cache
def machine_uv_cache() -> str:
    """Where uv keeps its cache for this user (`uv cache dir`), asked once per test process."""
    uv = Path(sys.prefix) / "bin" / "uv"
    done = subprocess.run([str(uv), "cache", "dir"], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def _stand_in(
    step: dict[str, Any], ctx: Contexts, cache_hit: bool, python: str, result: ActionRun
) -> dict[str, str]:
    uses = str(step["uses"])
    with_ = {k: ctx.substitute(str(v)) for k, v in (step.get("with") or {}).items()}
    if uses.startswith("actions/setup-python@"):
        return {"python-path": python, "python-version": platform.python_version()}
    if uses.startswith("actions/cache/save@"):
        assert Path(with_["path"]).is_dir(), "saving a cache path that does not exist"
        result.saved.append(with_["key"])
        return {}
    if uses.startswith("actions/cache/restore@"):
        path = Path(with_["path"])
        assert with_["key"].startswith("nami-uv-"), with_
        if cache_hit:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                os.symlink(machine_uv_cache(), path)
        return {"cache-hit": "true" if cache_hit else "false"}
    raise AssertionError(f"harness: no stand-in for {uses}")
