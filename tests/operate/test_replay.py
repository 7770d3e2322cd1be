"""nami replay on the moto server: an export file back into the queue, each webhook exactly
once, even when a run is interrupted or the same file is replayed again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from nami_action.aws.session import Aws
from nami_action.cli import cli
from nami_action.config import Config, load_config
from nami_action.envelope import decode_envelope
from nami_action.errors import NamiError
from nami_action.operate.dlq import export
from nami_action.operate.pipelines import DeployedPipeline, locate
from nami_action.operate.redrive import REDRIVE_ATTRIBUTE
from nami_action.operate.replay import ReplayOptions, replay

from .support import deploy_pipelines, depth, drain, envelope, make_queues, pause_consumers, put


def exported(
    aws: Aws, config: Config, tmp_path: Path, count: int, pipeline: str = "github"
) -> tuple[DeployedPipeline, Path, list[str]]:
    """`count` dead letters exported to a file; the DLQ then emptied (as after an archive)."""
    target = make_queues(aws, config, pipeline)
    ids = put(aws, target.dead_letter_url, [envelope(i) for i in range(count)])
    out = tmp_path / "dead.jsonl"
    export(aws, target.dead_letter_url, out, hold=30)
    drain(aws, target.dead_letter_url)
    return target, out, ids


def options(tmp_path: Path, **changes: Any) -> ReplayOptions:
    return ReplayOptions(journal_folder=tmp_path / "journal", **changes)


def origins(messages: list[dict[str, Any]]) -> list[str]:
    return [m["MessageAttributes"][REDRIVE_ATTRIBUTE]["StringValue"] for m in messages]


def test_replay_sends_every_exported_webhook_once(aws: Aws, config: Config, tmp_path: Path) -> None:
    target, out, ids = exported(aws, config, tmp_path, 23)
    seen: list[tuple[int, int]] = []

    result = replay(
        aws, target, out, options(tmp_path), lambda sent, total: seen.append((sent, total))
    )

    assert (result.sent, result.already, result.unreplayable) == (23, 0, 0)
    assert seen == [(10, 23), (20, 23), (23, 23)]
    copies = drain(aws, target.queue_url)
    assert sorted(origins(copies)) == sorted(ids)
    # The envelope the runtime decodes is the one that was dead-lettered, byte for byte.
    by_request = {decode_envelope(m["Body"]).request_id: decode_envelope(m["Body"]) for m in copies}
    originals = [decode_envelope(envelope(i)) for i in range(23)]
    assert by_request == {e.request_id: e for e in originals}
    assert all("nami-outcome" not in m.get("MessageAttributes", {}) for m in copies)

    again = replay(aws, target, out, options(tmp_path))
    assert (again.sent, again.already) == (0, 23)
    assert depth(aws, target.queue_url) == (0, 0)


def test_interrupted_replay_then_rerun_sends_each_exactly_once(
    aws: Aws, config: Config, tmp_path: Path
) -> None:
    target, out, ids = exported(aws, config, tmp_path, 27)

    def ctrl_c_after_ten(sent_so_far: int) -> None:
        if sent_so_far >= 10:
            raise KeyboardInterrupt  # right after a confirmed, journaled batch

    with pytest.raises(KeyboardInterrupt):
        replay(aws, target, out, options(tmp_path, after_send=ctrl_c_after_ten))
    assert depth(aws, target.queue_url) == (10, 0)

    result = replay(aws, target, out, options(tmp_path))

    assert (result.sent, result.already) == (17, 10)
    assert sorted(origins(drain(aws, target.queue_url))) == sorted(ids)  # all, none twice


def test_fifo_replay_keeps_the_group_and_deduplicates(
    aws: Aws, config: Config, tmp_path: Path
) -> None:
    target, out, ids = exported(aws, config, tmp_path, 4, pipeline="orders")
    replay(aws, target, out, options(tmp_path))
    # A second run without the journal (another machine): SQS's deduplication drops it.
    replay(aws, target, out, options(tmp_path / "elsewhere"))
    copies = drain(aws, target.queue_url)
    assert origins(copies) == ids
    assert {m["Attributes"]["MessageGroupId"] for m in copies} == {"nami"}


def test_dry_run_counts_and_sends_nothing(aws: Aws, config: Config, tmp_path: Path) -> None:
    target, out, _ = exported(aws, config, tmp_path, 3)
    result = replay(aws, target, out, options(tmp_path, dry_run=True))
    assert (result.sent, result.dry_run) == (3, True)
    assert depth(aws, target.queue_url) == (0, 0)
    assert replay(aws, target, out, options(tmp_path)).sent == 3  # the dry run journaled nothing


def test_a_bad_line_is_one_error_with_its_line_and_nothing_is_sent(
    aws: Aws, config: Config, tmp_path: Path
) -> None:
    target, out, _ = exported(aws, config, tmp_path, 3)
    lines = out.read_text().splitlines()
    out.write_text("\n".join([lines[0], '{"messageId": "x", "envelope": {"method": "POST"}}']))
    with pytest.raises(NamiError, match=r"dead\.jsonl:2: .*expected a line of `nami dlq export`"):
        replay(aws, target, out, options(tmp_path))
    assert depth(aws, target.queue_url) == (0, 0)


def test_malformed_exports_are_skipped_and_counted(
    aws: Aws, config: Config, tmp_path: Path
) -> None:
    target, out, _ = exported(aws, config, tmp_path, 2)
    malformed = {"messageId": "m-1", "malformed": "not JSON", "rawBody": "garbage"}
    out.write_text(out.read_text() + json.dumps(malformed) + "\n")
    result = replay(aws, target, out, options(tmp_path))
    assert (result.sent, result.unreplayable) == (2, 1)


def test_replay_command(aws: Aws, config_path: Path, tmp_path: Path) -> None:
    deploy_pipelines(aws, config_path, ("github",))
    pause_consumers(aws)  # the queue then holds exactly what is replayed (see support.py)
    target = locate(aws, load_config(config_path).pipelines["github"])
    put(aws, target.dead_letter_url, [envelope(i) for i in range(12)])
    out = tmp_path / "dead.jsonl"
    export(aws, target.dead_letter_url, out, hold=30)

    def nami(*extra: str) -> Result:
        args = ["replay", "github", "--from", str(out), "--config", str(config_path), *extra]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        return result

    assert "dry run: would replay 12 webhook(s)" in nami("--dry-run").stdout
    result = nami()
    assert "replayed 12 webhook(s)" in result.stdout
    assert "replayed 10 of 12" in result.stderr and "replayed 12 of 12" in result.stderr
    assert (config_path.parent / ".nami" / "redrive").is_dir()  # the journal, beside nami.yaml
    again = nami()
    assert "replayed 0 webhook(s)" in again.stdout and "12 already replayed" in again.stdout
    assert depth(aws, target.queue_url) == (12, 0)
