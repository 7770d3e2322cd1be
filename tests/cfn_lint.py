"""cfn-lint on compiled templates: no errors, no warnings, no informational findings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any


def assert_cfn_lint_clean(files: list[str]) -> None:
    lint = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--include-checks", "I", "--", *files],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert lint.stdout == ""


def assert_templates_lint_clean(templates: dict[str, dict[str, Any]], folder: Path) -> None:
    """Write each template as `<name>.template.json` under `folder`, then lint them together."""
    files = []
    for name, body in templates.items():
        path = folder / f"{name}.template.json"
        path.write_text(json.dumps(body))
        files.append(str(path))
    assert_cfn_lint_clean(files)
