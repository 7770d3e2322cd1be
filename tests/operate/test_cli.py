"""The dlq commands end to end on a deployed project, and every error a user can cause:
one clear message, exit 1, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from nami_action.aws.session import Aws
from nami_action.cli.dlq import dlq
from nami_action.cli.send import send
from nami_action.cli.status import status
from nami_action.config import load_config
from nami_action.operate.pipelines import locate

from .support import deploy_pipelines, depth, envelope, pause_consumers, put

EMULATOR_NOISE = ("No Moto", "error running docker")


def run(command: object, args: list[str]) -> Result:
    return CliRunner().invoke(command, args)  # type: ignore[arg-type]


def one_clear_error(result: Result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    # moto runs in this process and prints its own notes ("No Moto CloudFormation support")
    lines = [
        line for line in result.stderr.strip().splitlines() if not line.startswith(EMULATOR_NOISE)
    ]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_dlq_commands_on_a_deployed_pipeline(aws: Aws, config_path: Path, tmp_path: Path) -> None:
    deploy_pipelines(aws, config_path, ("github",))
    pause_consumers(aws)
    target = locate(aws, load_config(config_path).pipelines["github"])
    sent = put(aws, target.dead_letter_url, [envelope(i) for i in range(4)] + ["garbage"])
    config = ["--config", str(config_path)]

    peeked = run(dlq, ["peek", "github", "-n", "2", *config])
    assert peeked.exit_code == 0, peeked.output
    assert peeked.stdout.count("message ") == 2 and "webhook req-" in peeked.stdout
    as_json = json.loads(run(dlq, ["peek", "github", "--format", "json", *config]).stdout)
    assert sorted(letter["messageId"] for letter in as_json) == sorted(sent)
    assert depth(aws, target.dead_letter_url) == (5, 0)

    out = tmp_path / "dead.jsonl"
    exported = run(dlq, ["export", "github", "--out", str(out), *config])
    assert exported.exit_code == 0 and "exported 5 dead letter(s)" in exported.stdout
    assert len(out.read_text().splitlines()) == 5

    dry = run(dlq, ["redrive", "github", "--dry-run", *config])
    assert "would move about 5 message(s) from shop-github-dlq to shop-github" in dry.stdout
    moved = run(dlq, ["redrive", "github", *config])
    assert moved.exit_code == 0, moved.output
    assert "moved 5 message(s) from shop-github-dlq to shop-github" in moved.stdout
    assert "moved 5 of ~5" in moved.stderr  # progress
    assert depth(aws, target.queue_url) == (5, 0)

    # Now the DLQ is empty: each command says so.
    one_clear_error(run(dlq, ["peek", "github", *config]), "is empty")
    one_clear_error(run(dlq, ["export", "github", "--out", str(out), *config]), "is empty")
    one_clear_error(run(dlq, ["redrive", "github", *config]), "is empty")
    # Not deployed, unknown.
    one_clear_error(run(dlq, ["peek", "billing", *config]), "`billing` is not deployed")
    one_clear_error(run(dlq, ["peek", "githb", *config]), "no pipeline `githb`", "`github`?")
    one_clear_error(run(status, [str(tmp_path / "missing.yaml")]))


def test_send_errors(emulator: str, config_path: Path, tmp_path: Path) -> None:
    config = ["--config", str(config_path)]
    body = tmp_path / "body.json"
    body.write_text("{}")
    one_clear_error(
        run(send, ["github", "--body", str(tmp_path / "nope.json"), *config]),
        "cannot read --body file",
    )
    one_clear_error(run(send, ["gihtub", "--body", str(body), *config]), "did you mean `github`")
    one_clear_error(run(send, ["billing", "--body", str(body), *config]), "not deployed")
    one_clear_error(
        run(
            send, ["orders", "--body", str(body), "--sign", "--url", "http://127.0.0.1:9/", *config]
        ),
        "does not verify signatures",
    )
    one_clear_error(
        run(
            send, ["github", "--body", str(body), "--header", "oops", "--url", "http://x/", *config]
        ),
        "NAME:VALUE",
    )
    # A missing secret in SSM is named, never guessed.
    one_clear_error(
        run(
            send, ["github", "--body", str(body), "--sign", "--url", "http://127.0.0.1:9/", *config]
        ),
        "SSM parameter /shop/github-secret does not exist",
    )
    # Nothing listens on port 9 (discard): one line, exit 1.
    one_clear_error(
        run(send, ["github", "--body", str(body), "--url", "http://127.0.0.1:9/github", *config]),
        "cannot reach http://127.0.0.1:9/github",
    )
