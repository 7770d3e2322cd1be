"""`consumer.code` is checked by validate, at its own line and column, with every other error."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from nami_action.cli import cli

HEAD = "version: 1\nproject: acme\npipelines:\n"


def pipeline(name: str, code: str) -> str:
    return f"  {name}:\n    verify: {{scheme: none}}\n    consumer:\n      code: {code}\n"


def validate(folder: Path, text: str) -> tuple[int, list[str]]:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "nami.yaml"
    path.write_text(text)
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert "Traceback" not in result.output
    return result.exit_code, [line.removeprefix(f"{path}:") for line in result.output.splitlines()]


@pytest.mark.parametrize(
    ("code", "make", "message"),
    [
        ("consumer", None, "consumer.code `consumer` does not exist"),
        ("consumer", "file", "consumer.code `consumer` is not a folder"),
        ("../outside", "outside", "consumer.code `../outside` is outside the repository"),
        ("/etc", None, "consumer.code `/etc` must be relative to nami.yaml's folder"),
        ("link", "link", "consumer.code `link` is outside the repository"),
        ('"con\\0sumer"', None, "consumer.code contains a NUL byte"),
        ("a" * 256, None, "consumer.code has a name longer than 255 bytes"),
        ("a/" * 2100, None, "consumer.code is 4,200 bytes long; a path is limited to 4,096"),
    ],
    ids=["missing", "file", "parent", "absolute", "symlink out", "nul", "long name", "long path"],
)
def test_a_bad_code_folder_is_located(
    tmp_path: Path, code: str, make: str | None, message: str
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    if make == "file":
        (project / "consumer").write_text("not a folder")
    elif make == "outside":
        (tmp_path / "outside").mkdir()
    elif make == "link":
        (tmp_path / "outside").mkdir()
        os.symlink(tmp_path / "outside", project / "link")
    status, lines = validate(project, HEAD + pipeline("hooks", code))
    assert status == 1
    assert f"7:13: pipeline `hooks`: {message}" in "\n".join(lines)
    assert all("\0" not in line for line in lines)


def test_every_bad_folder_and_schema_error_is_reported_at_once(tmp_path: Path) -> None:
    text = HEAD + pipeline("one", "missing-one") + pipeline("two", "missing-two")
    text = text.replace("project: acme", "project: acme\nregion: nowhere")
    status, lines = validate(tmp_path, text)
    assert status == 1
    assert any(line.startswith("3:9: ") and "region" in line.lower() for line in lines), lines
    assert any(line.startswith("8:13: pipeline `one`") for line in lines), lines
    assert any(line.startswith("12:13: pipeline `two`") for line in lines), lines


@pytest.mark.parametrize("code", [".", "consumer", "./consumer/", "consumer/../consumer"])
def test_a_folder_inside_the_config_folder_is_fine(tmp_path: Path, code: str) -> None:
    (tmp_path / "consumer").mkdir()
    status, lines = validate(tmp_path, HEAD + pipeline("hooks", code))
    assert status == 0, lines


def test_a_folder_elsewhere_in_the_same_repository_is_fine(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "shared" / "consumer").mkdir(parents=True)
    status, lines = validate(tmp_path / "deploy", HEAD + pipeline("hooks", "../shared/consumer"))
    assert status == 0, lines


def test_a_code_value_cannot_forge_a_workflow_command(tmp_path: Path) -> None:
    status, lines = validate(tmp_path, HEAD + pipeline("hooks", '"x\\n::error::forged\\r\\u2028"'))
    assert status == 1
    assert not any(line.startswith("::") for line in lines), lines
    assert any("`x\\n::error::forged\\r\\u2028` does not exist" in line for line in lines), lines
