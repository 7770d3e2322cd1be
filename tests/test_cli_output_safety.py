"""What `nami plan`/`deploy` print to a terminal or CI log cannot forge a workflow command or
send terminal escapes (stack event reasons and AWS messages are quoted in that text)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nami_action.cli.plan import emit

HOSTILE = "Queue: bad\x1b[2J\n::error::forged\n"


def test_emit_escapes_for_the_terminal_and_keeps_files_exact(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    emit(HOSTILE, None)
    printed = capsys.readouterr().out
    assert "\x1b" not in printed and "\\x1b[2J" in printed
    assert "\n::error::" not in printed and "> ::error::forged" in printed
    out = tmp_path / "plan.txt"
    emit(HOSTILE, out)
    assert out.read_text() == HOSTILE
