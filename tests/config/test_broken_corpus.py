"""Every file under broken/ states the error it must produce on its first line:
`# expect: LINE:COL message-substring` (or `# expect: message-substring` without a place).
A file whose point is that several errors are reported at once has one such line each."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from nami_action.cli import cli
from nami_action.config.credentials import CREDENTIAL_PATTERNS

BROKEN = sorted((Path(__file__).parent / "broken").glob("*.yaml"))
EXPECT = re.compile(r"# expect: (?:(\d+):(\d+) )?(.+)")


def expectations(path: Path) -> list[tuple[str | None, str]]:
    found = []
    for line in path.read_bytes().decode("utf-8", "replace").splitlines():
        match = EXPECT.match(line)
        if not match:
            break
        place = f"{match.group(1)}:{match.group(2)}" if match.group(1) else None
        found.append((place, match.group(3)))
    assert found, f"{path.name} has no `# expect:` line"
    return found


def test_corpus_is_large_enough() -> None:
    assert len(BROKEN) >= 220
    assert len([p for p in BROKEN if p.name.startswith("i11-")]) >= 150


@pytest.mark.parametrize("path", BROKEN, ids=[p.stem for p in BROKEN])
def test_broken_config_gets_its_message_at_its_place(path: Path) -> None:
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    for place, message in expectations(path):
        lines = [line for line in result.output.splitlines() if message in line]
        assert lines, f"expected `{message}` in:\n{result.output}"
        if place:
            assert any(line.startswith(f"{path}:{place}: ") for line in lines), result.output
    text = path.read_text(errors="replace")
    for _kind, pattern in CREDENTIAL_PATTERNS:  # no message repeats a credential it found
        for match in pattern.finditer(text):
            assert match.group() not in result.output, match.group()


@pytest.mark.parametrize("path", BROKEN[:5], ids=[p.stem for p in BROKEN[:5]])
def test_json_errors_carry_file_line_column(path: Path) -> None:
    import json

    result = CliRunner().invoke(cli, ["validate", str(path), "--format", "json"])
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["valid"] is False
    first = report["errors"][0]
    assert set(first) == {"file", "line", "column", "message"}
    assert first["file"] == str(path)


def run_validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nami_action", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_file_over_one_mebibyte(tmp_path: Path) -> None:
    big = tmp_path / "nami.yaml"
    big.write_text("version: 1\n" + "# padding\n" * 120_000)
    result = run_validate(big)
    assert result.returncode == 1
    assert f"{big}:1:1: file is 1,200,011 bytes; nami.yaml is limited to 1 MiB" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_file(tmp_path: Path) -> None:
    result = run_validate(tmp_path / "nope.yaml")
    assert result.returncode == 1
    assert result.stderr.startswith(f"{tmp_path / 'nope.yaml'}:1:1: file not found")


def test_directory_instead_of_file(tmp_path: Path) -> None:
    result = run_validate(tmp_path)
    assert result.returncode == 1
    assert "is a directory" in result.stderr


def test_invalid_utf8_reports_its_line(tmp_path: Path) -> None:
    path = tmp_path / "nami.yaml"
    path.write_bytes(b"version: 1\nproject: acme\nregion: \xff\xfe\n")
    result = run_validate(path)
    assert result.returncode == 1
    assert f"{path}:3:1: file is not valid UTF-8" in result.stderr


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "nami.yaml"
    path.write_text("")
    result = run_validate(path)
    assert result.returncode == 1
    assert f"{path}:1:1: file is empty" in result.stderr


def test_usage_error_exits_2() -> None:
    result = CliRunner().invoke(cli, ["validate", "--format", "xml"])
    assert result.exit_code == 2


def test_several_errors_are_reported_together() -> None:
    path = Path(__file__).parent / "broken" / "several_errors_first.yaml"
    result = CliRunner().invoke(cli, ["validate", str(path)])
    problems = [line for line in result.output.splitlines() if line.startswith(str(path))]
    assert len(problems) == 2, result.output
    assert "unknown key `regoin`" in problems[0]
    assert "memory`: must be at least 128" in problems[1]
