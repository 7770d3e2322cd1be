"""Messages a newcomer met that misled: each says what is wrong, and nothing else fires."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from nami_action.cli import cli

ROOT = Path(__file__).resolve().parents[2]
PIPELINE = """version: 1
project: shopco
pipelines:
  orders:
    verify: {{scheme: github, secret: "{secret}"}}
{extra}    consumer: {{code: src, handler: handler.handle{consumer}}}
"""


def validate(
    tmp_path: Path, secret: str = "ssm:/shopco/x", extra: str = "", consumer: str = ""
) -> list[str]:
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "src" / "handler.py").write_text("def handle(webhook):\n    return None\n")
    config = tmp_path / "nami.yaml"
    config.write_text(PIPELINE.format(secret=secret, extra=extra, consumer=consumer))
    result = CliRunner().invoke(cli, ["validate", str(config)])
    assert result.exit_code == 1, result.output
    return [
        line.split(": ", 1)[1]
        for line in result.output.splitlines()
        if line.startswith(str(config))
    ]


def test_an_ssm_reference_without_its_slash_is_named_as_such(tmp_path: Path) -> None:
    (message,) = validate(tmp_path, secret="ssm:shopco/x")
    assert "an SSM reference names the parameter by its full path, which starts with `/`" in message
    assert "write `ssm:/` then the path" in message
    assert "never the secret itself" not in message
    assert "shopco/x" not in message  # a value in `secret` is never repeated


@pytest.mark.parametrize(
    ("secret", "expected"),
    [
        ("ssm:/shop co/x", "an SSM parameter path holds only letters, digits"),
        ("secretsmanager:shop stripe", "a Secrets Manager name holds only letters, digits"),
        ("whsec_0123456789abcdef", "never the secret itself"),
    ],
)
def test_other_references_say_what_is_wrong(tmp_path: Path, secret: str, expected: str) -> None:
    (message,) = validate(tmp_path, secret=secret)
    assert expected in message
    assert secret not in message


@pytest.mark.parametrize("json_path", ["id", "$.[", "$..id"])
def test_a_bad_json_path_is_one_problem(tmp_path: Path, json_path: str) -> None:
    extra = f'    dedupe: {{json_path: "{json_path}", window: 1d}}\n'
    problems = validate(tmp_path, extra=extra)
    assert len(problems) == 1, problems
    assert "must be a JSON path like `$.id`" in problems[0]


def test_max_concurrency_one_gives_aws_reason_and_the_way_to_one_at_a_time(
    tmp_path: Path,
) -> None:
    (message,) = validate(tmp_path, consumer=", max_concurrency: 1")
    assert message.startswith("`pipelines.orders.consumer.max_concurrency`: must be at least 2")
    assert "ScalingConfig.MaximumConcurrency) is 2 to 1000" in message
    assert "`queue.fifo: true`" in message


def test_the_examples_header_counts_its_pipelines() -> None:
    from nami_action.config import load_config

    config = load_config(ROOT / "examples" / "nami.yaml")
    header = (ROOT / "examples" / "nami.yaml").read_text().splitlines()[2]
    words = {2: "Two", 3: "Three", 4: "Four", 5: "Five"}
    assert header.startswith(f"# {words[len(config.pipelines)]} webhook sources"), header
