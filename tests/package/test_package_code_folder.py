"""Packaging through `nami compile`: `code: .` is stable across runs, errors are located."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from nami_action.cli import cli

CONFIG = """version: 1
project: acme
artifacts:
  bucket: acme-artifacts
pipelines:
  hooks:
    verify: {{scheme: none}}
    consumer:
      code: {code}
      handler: handler.handle
"""


def compile_in(folder: Path, *extra: str) -> tuple[int, str]:
    """Run `nami compile` from inside `folder`, as a user of `code: .` would."""
    cwd = Path.cwd()
    os.chdir(folder)
    try:
        result = CliRunner().invoke(cli, ["compile", "nami.yaml", *extra])
    finally:
        os.chdir(cwd)
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def s3_key(folder: Path) -> str:
    template = json.loads((folder / "out" / "acme-hooks.template.json").read_text())
    key = template["Resources"]["Consumer"]["Properties"]["Code"]["S3Key"]
    assert isinstance(key, str)
    return key


def zip_names(folder: Path, key: str) -> list[str]:
    path = folder / ".nami" / "cache" / "artifacts" / key.rsplit("/", 1)[1]
    with zipfile.ZipFile(path) as archive:
        return [n for n in archive.namelist() if not n.startswith("nami_runtime/")]


def test_code_dot_keeps_its_zip_and_key_across_runs(tmp_path: Path) -> None:
    (tmp_path / "nami.yaml").write_text(CONFIG.format(code="."))
    (tmp_path / "handler.py").write_text("def handle(webhook):\n    return None\n")
    assert compile_in(tmp_path)[0] == 0
    first = s3_key(tmp_path)
    # Between runs nami's cache grows (zips, templates), tools leave caches, compile wrote out/.
    assert (tmp_path / ".nami" / "cache" / "templates").is_dir()
    (tmp_path / ".mypy_cache").mkdir()
    (tmp_path / ".mypy_cache" / "x.json").write_text("{}")
    assert compile_in(tmp_path)[0] == 0
    assert s3_key(tmp_path) == first
    assert zip_names(tmp_path, first) == ["handler.py", "nami.yaml"]
    # Rendered anew (no template cache), the key is still the same.
    assert compile_in(tmp_path, "--no-cache")[0] == 0
    assert s3_key(tmp_path) == first


def test_an_output_folder_elsewhere_in_the_code_is_not_packaged(tmp_path: Path) -> None:
    (tmp_path / "nami.yaml").write_text(CONFIG.format(code="."))
    (tmp_path / "handler.py").write_text("def handle(webhook):\n    return None\n")
    assert compile_in(tmp_path, "--out", "build/templates")[0] == 0
    assert compile_in(tmp_path, "--out", "build/templates")[0] == 0
    template = json.loads((tmp_path / "build/templates/acme-hooks.template.json").read_text())
    key = template["Resources"]["Consumer"]["Properties"]["Code"]["S3Key"]
    assert zip_names(tmp_path, key) == ["handler.py", "nami.yaml"]


def test_a_packaging_error_points_at_consumer_code(tmp_path: Path) -> None:
    (tmp_path / "nami.yaml").write_text(CONFIG.format(code="consumer"))
    (tmp_path / "consumer").mkdir()
    (tmp_path / "consumer" / "handler.py").write_text("def handle(webhook): ...\n")
    os.symlink("/etc/hostname", tmp_path / "consumer" / "linked.txt")
    status, output = compile_in(tmp_path)
    assert status == 1
    assert output.startswith("error: nami.yaml:9:13: pipeline `hooks`: consumer.code `consumer`: ")
    assert "linked.txt is a symbolic link" in output


@pytest.mark.parametrize(
    ("content", "place", "message"),
    [
        (b"*.md\nnot\xffutf8\n", "2:4", ".namiignore is not valid UTF-8 (byte 0xff)"),
        (b"*.md\n\n[z-a].py\n", "3:1", "`[z-a]` has a reversed range `z-a`"),
        (b"[abc\n", "1:1", "`[` is never closed"),
        (b"# ok\nfoo\\\n", "2:1", "ends with a lone `\\`"),
        (b"!\n", "1:1", "`!` needs a pattern after it"),
        (b"a\x00b\n", "1:1", "pattern `a\\x00b`: contains a NUL byte"),
        (b"a\x0cb\n\x1c\n[b-a]\n", "3:1", "reversed range"),  # only \n ends a line
        (b"#" * (1024 * 1024 + 1), "1:1", ".namiignore is larger than 1024 KiB"),
    ],
    ids=["utf-8", "range", "unclosed", "backslash", "bare bang", "nul", "lines", "size"],
)
def test_a_bad_namiignore_is_an_error_at_its_line(
    tmp_path: Path, content: bytes, place: str, message: str
) -> None:
    (tmp_path / "nami.yaml").write_text(CONFIG.format(code="consumer"))
    (tmp_path / "consumer").mkdir()
    (tmp_path / "consumer" / "handler.py").write_text("def handle(webhook): ...\n")
    (tmp_path / "consumer" / ".namiignore").write_bytes(content)
    status, output = compile_in(tmp_path)
    assert status == 1
    ignore_file = (tmp_path / "consumer" / ".namiignore").resolve()
    assert f"{ignore_file}:{place}: " in output, output
    assert message in output
    assert "\0" not in output


def test_a_file_name_cannot_forge_a_workflow_command(tmp_path: Path) -> None:
    (tmp_path / "nami.yaml").write_text(CONFIG.format(code="consumer"))
    (tmp_path / "consumer").mkdir()
    (tmp_path / "consumer" / "handler.py").write_text("def handle(webhook): ...\n")
    os.symlink("handler.py", tmp_path / "consumer" / "x\n::error::forged")
    status, output = compile_in(tmp_path)
    assert status == 1
    assert not any(line.startswith("::") for line in output.splitlines()), output
    assert "x\\n::error::forged is a symbolic link" in output
