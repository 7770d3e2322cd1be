from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from nami_action.config import load_config
from nami_action.config.units import format_duration, parse_duration, parse_size
from nami_action.config.validate import deep_merge

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "nami.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "nami.yaml"
    path.write_text(text)
    for code in re.findall(r"\bcode: ([\w./-]+)", text):  # consumer.code must exist
        (tmp_path / code).mkdir(parents=True, exist_ok=True)
    return path


def test_example_validates_with_the_console_script() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "nami_action", "validate", str(EXAMPLE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "4 pipelines" in result.stdout


def test_example_has_schema_modeline() -> None:
    first = EXAMPLE.read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=../schemas/nami.schema.json"


def test_documented_examples_validate(tmp_path: Path) -> None:
    """Every whole nami.yaml the README and the manual (docs/) show loads."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    configs = [
        (page.name, block)
        for page in pages
        for block in re.findall(r"```yaml\n(.*?)```", page.read_text(), re.S)
        if block.lstrip().startswith(("version: 1", "# nami.yaml"))
    ]
    shown = {name for name, _ in configs}
    assert {"README.md", "nami-yaml.md"} <= shown, f"no nami.yaml example left in {shown}"
    for index, (_, block) in enumerate(configs):
        folder = tmp_path / str(index)
        folder.mkdir()
        load_config(write(folder, block))


def test_defaults_deep_merge_and_pipeline_wins(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            """
version: 1
project: acme
defaults:
  consumer: {memory: 512, timeout: 20s, environment: {AA: "1", BB: "2"}}
  alarms: {email: [a@x.io]}
pipelines:
  one:
    verify: {scheme: none}
    consumer: {code: src, memory: 1024, environment: {BB: "3"}}
  two:
    verify: {scheme: none}
    consumer: {code: src}
    alarms: {email: [b@x.io]}
""",
        )
    )
    one, two = config.pipelines["one"].spec, config.pipelines["two"].spec
    assert one.consumer.memory == 1024 and two.consumer.memory == 512
    assert one.consumer.timeout == 20 == two.consumer.timeout
    assert one.consumer.environment == {"AA": "1", "BB": "3"}
    assert two.alarms.email == ["b@x.io"]  # lists are replaced, not appended
    assert one.alarms.email == ["a@x.io"]


def test_derived_defaults(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            """
version: 1
project: acme
pipelines:
  hooks:
    verify: {scheme: none}
    consumer: {code: src, timeout: 2m}
""",
        )
    )
    pipeline = config.pipelines["hooks"]
    assert pipeline.visibility_timeout == 720  # 6x the consumer timeout
    assert pipeline.path == "/hooks"
    assert pipeline.stack_name == "acme-hooks"
    assert pipeline.spec.queue.max_message_size == 1024 * 1024
    assert pipeline.spec.dead_letter.retention > pipeline.spec.queue.retention


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("15m", 900), ("4d", 345600), ("2h", 7200), (45, 45)]
)
def test_durations(text: str | int, seconds: int) -> None:
    assert parse_duration(text) == seconds


def test_sizes_and_formatting() -> None:
    assert parse_size("256KiB") == 262144
    assert parse_size("1MiB") == 1048576
    assert parse_size(2048) == 2048
    assert format_duration(86400) == "1d"
    assert format_duration(90) == "90s"


def test_deep_merge_does_not_mutate_inputs() -> None:
    base = {"a": {"b": 1, "c": [1]}}
    merged = deep_merge(base, {"a": {"c": [2]}})
    assert merged == {"a": {"b": 1, "c": [2]}}
    assert base == {"a": {"b": 1, "c": [1]}}
