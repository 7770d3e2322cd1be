"""The runtime ships alone in a Lambda zip: stdlib + boto3 only, and only relative imports."""

from __future__ import annotations

import ast
import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

RUNTIME = Path(__file__).resolve().parents[2] / "nami_action" / "runtime"
ALLOWED_THIRD_PARTY = {"boto3", "botocore"}


def runtime_modules() -> list[Path]:
    modules = sorted(RUNTIME.rglob("*.py"))
    assert len(modules) >= 6, "runtime modules not found"
    return modules


def imports(path: Path) -> list[tuple[int, str, int]]:
    """(line, module, level) for every import statement, including those inside functions."""
    found: list[tuple[int, str, int]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, 0) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.lineno, node.module or "", node.level))
    return found


@pytest.mark.parametrize("path", runtime_modules(), ids=lambda p: p.name)
def test_only_stdlib_boto3_and_relative_imports(path: Path) -> None:
    for line, module, level in imports(path):
        where = f"{path.name}:{line} imports {module or '.'}"
        if level:
            continue  # relative: stays inside the package, whatever it is called in the zip
        top = module.split(".")[0]
        assert top != "nami_action", f"{where}: use a relative import"
        assert top in sys.stdlib_module_names or top in ALLOWED_THIRD_PARTY, where


@pytest.mark.parametrize("path", runtime_modules(), ids=lambda p: p.name)
def test_boto3_is_imported_lazily(path: Path) -> None:
    # Module-level boto3 would slow every cold start, even for pipelines that never call AWS.
    tree = ast.parse(path.read_text())
    top_level = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    names = {a.name.split(".")[0] for n in top_level if isinstance(n, ast.Import) for a in n.names}
    names |= {(n.module or "").split(".")[0] for n in top_level if isinstance(n, ast.ImportFrom)}
    assert not names & ALLOWED_THIRD_PARTY, path.name


def test_runs_as_nami_runtime_in_a_bundle_without_the_repo(tmp_path: Path) -> None:
    """Copy the folder as the packager does; invoke the Lambda handler in a fresh process."""
    bundle = tmp_path / "bundle"
    shutil.copytree(RUNTIME, bundle / "nami_runtime", ignore=shutil.ignore_patterns("__pycache__"))
    (bundle / "handler.py").write_text(
        "from nami_runtime import Webhook\n"
        "def handle(webhook: Webhook) -> None:\n"
        "    if webhook.json()['fail']:\n"
        "        raise RuntimeError('boom')\n"
    )
    envelope = {
        "v": 1, "id": "r1", "receivedAt": 1, "sourceIp": "", "method": "POST", "path": "/",
        "query": {}, "headers": {},
    }  # fmt: skip
    records = [
        {
            "messageId": name,
            "body": json.dumps(envelope | {"body": base64.b64encode(body).decode()}),
        }
        for name, body in (("a", b'{"fail": false}'), ("b", b'{"fail": true}'))
    ]
    script = (
        "import json, sys\n"
        "from nami_runtime.entry import handler\n"
        "result = handler(json.loads(sys.argv[1]), None)\n"
        "assert 'nami_action' not in sys.modules and 'boto3' not in sys.modules\n"
        "print(json.dumps(result))\n"
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "NAMI_CONFIG": json.dumps(
            {"pipeline": "p", "stack": "acme-p", "mode": "webhook", "handler": "handler.handle"}
        ),
    }
    done = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, '.'); exec({script!r})",
         json.dumps({"Records": records})],
        cwd=bundle, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    *logs, metrics, result = done.stdout.splitlines()
    assert json.loads(result) == {"batchItemFailures": [{"itemIdentifier": "b"}]}
    assert [json.loads(line)["outcome"] for line in logs] == ["handled", "failed"]
    assert json.loads(metrics)["Pipeline"] == "acme-p"
