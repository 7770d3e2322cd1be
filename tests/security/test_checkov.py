"""checkov's CloudFormation checks on the compiled templates of the everything-config (as
zizmor runs on the workflows): 0 failures; every skip carries its reason in the resource's
Metadata (nami_action/compile/checkov.py). checkov lives in its own virtualenv (its pinned
dependencies conflict with the test environment's): `make iam-audit` makes it, and
NAMI_CHECKOV names the executable."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from . import derived

CHECKOV = Path(os.environ.get("NAMI_CHECKOV", derived.ROOT / ".venv-checkov" / "bin" / "checkov"))


def checkov(folder: Path) -> list[dict[str, Any]]:
    if not CHECKOV.exists():
        pytest.fail(f"checkov is not installed at {CHECKOV}: run `make iam-audit`")
    result = subprocess.run(
        [
            str(CHECKOV),
            "-d",
            str(folder),
            "--framework",
            "cloudformation",
            "--output",
            "json",
            "--skip-download",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    reports = json.loads(result.stdout)
    return reports if isinstance(reports, list) else [reports]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("checkov")
    templates = derived.compile_everything(out / "src")
    # The environment's templates differ only in names: one set is enough for checkov.
    plain = [t for t in templates if "-staging-" not in derived.stack_of(t)]
    for index, template in enumerate(plain):
        (out / f"{index:02}.template.json").write_text(json.dumps(template))
    return out


def test_checkov_passes_with_every_skip_justified(folder: Path) -> None:
    (report,) = checkov(folder)
    results = report["results"]
    failed = [f"{f['check_id']} {f['resource']}" for f in results["failed_checks"]]
    assert failed == []
    assert report["summary"]["passed"] > 100 and report["summary"]["parsing_errors"] == 0
    assert report["summary"]["skipped"] == len(results["skipped_checks"]) > 0
    for skipped in results["skipped_checks"]:
        assert len(skipped["check_result"].get("suppress_comment", "")) > 20, skipped["check_id"]


def test_checkov_fails_a_template_without_the_skips(folder: Path, tmp_path: Path) -> None:
    template = json.loads((folder / "00.template.json").read_text())
    for resource in template["Resources"].values():
        resource.pop("Metadata", None)
    (tmp_path / "bare.template.json").write_text(json.dumps(template))
    (report,) = checkov(tmp_path)
    assert {f["check_id"] for f in report["results"]["failed_checks"]} >= {"CKV_AWS_116"}
