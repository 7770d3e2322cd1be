"""`nami events` against a pipeline deployed to the moto server: the runtime's per-record lines
written to the consumer's real log group are found by outcome and id, and --follow shows a
line written after it started, once. Plus the deploy output and `nami status` name the
pipeline's dashboard."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from nami_action.aws.logs import LogEvent
from nami_action.aws.session import Aws
from nami_action.cli import cli
from nami_action.compile.dashboard import dashboard_url
from nami_action.config import load_config
from nami_action.operate.events import (
    EventQuery,
    consumer_log_group,
    filter_pattern,
    follow_events,
    parse_event,
    select,
    table_row,
)
from nami_action.runtime.consumer import metrics_line

from .support import REGION, deploy_pipelines

STREAM = "2026/11/28/[$LATEST]0123456789abcdef"


def record_line(webhook_id: str, outcome: str, **extra: Any) -> str:
    """A line as runtime/consumer.py `log_line` prints it for one record."""
    line = {
        "pipeline": "github",
        "id": webhook_id,
        "messageId": f"m-{webhook_id}",
        "outcome": outcome,
        "durationMs": 12.5,
        **extra,
    }
    return json.dumps(line, separators=(",", ":"))


def write_lines(aws: Aws, group: str, lines: list[str], at_ms: int) -> None:
    logs = aws.client("logs")
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    if not any(stream["logStreamName"] == STREAM for stream in streams):
        logs.create_log_stream(logGroupName=group, logStreamName=STREAM)
    events = [{"timestamp": at_ms + i, "message": line + "\n"} for i, line in enumerate(lines)]
    logs.put_log_events(logGroupName=group, logStreamName=STREAM, logEvents=events)


def run(args: list[str]) -> Any:
    return CliRunner().invoke(cli, args)


def test_events_found_by_outcome_and_id(aws: Aws, config_path: Path) -> None:
    deploy_pipelines(aws, config_path, ("github",))
    group = consumer_log_group(aws, load_config(config_path).pipelines["github"])
    now = int(time.time() * 1000)
    write_lines(
        aws,
        group,
        [
            "START RequestId: 1 Version: $LATEST",
            record_line("w1", "handled", eventId="evt-1"),
            record_line("w2", "rejected", reason="signature does not match"),
            record_line("w3", "failed", error="RuntimeError: downstream 503"),
            metrics_line("shop-github", {"handled": 1, "rejected": 1, "failed": 1}, now),
            "REPORT RequestId: 1 Duration: 40.1 ms",
        ],
        now - 5_000,
    )
    write_lines(aws, group, [record_line("w0", "rejected", reason="too old")], now - 3 * 3600_000)
    config = str(config_path)

    table = run(["events", "github", config, "--since", "1h"])
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    assert lines[0].split() == ["TIME", "ID", "OUTCOME", "DURATION", "REASON"]
    assert [line.split()[1:3] for line in lines[1:]] == [
        ["w1", "handled"],
        ["w2", "rejected"],
        ["w3", "failed"],
    ]
    assert lines[2].endswith("signature does not match") and "12.5ms" in lines[2]
    assert lines[3].endswith("RuntimeError: downstream 503")

    rejected = run(["events", "github", config, "--outcome", "rejected", "--format", "json"])
    assert rejected.exit_code == 0, rejected.output
    found = [json.loads(line) for line in rejected.output.splitlines()]
    assert [(e["id"], e["outcome"], e["reason"]) for e in found] == [
        ("w2", "rejected", "signature does not match")
    ]
    assert found[0]["time"].endswith("Z") and found[0]["messageId"] == "m-w2"

    older = run(["events", "github", config, "--outcome", "rejected", "--since", "4h"])
    assert [line.split()[1] for line in older.output.splitlines()[1:]] == ["w0", "w2"]

    by_event_id = run(["events", "github", config, "--id", "evt-1", "--format", "json"])
    assert [json.loads(line)["id"] for line in by_event_id.output.splitlines()] == ["w1"]
    by_message_id = run(["events", "github", config, "--id", "m-w3", "--format", "json"])
    assert [json.loads(line)["id"] for line in by_message_id.output.splitlines()] == ["w3"]

    # Two polls over the same lines: each is shown once.
    followed = run(
        ["events", "github", config, "--follow", "--max-polls", "2", "--poll-seconds", "0.01"]
    )
    assert followed.exit_code == 0, followed.output
    assert [line.split()[1] for line in followed.output.splitlines()[1:]] == ["w1", "w2", "w3"]


def test_follow_shows_a_line_written_after_it_started(aws: Aws, config_path: Path) -> None:
    deploy_pipelines(aws, config_path, ("github",))
    group = consumer_log_group(aws, load_config(config_path).pipelines["github"])
    started = int(time.time() * 1000)
    write_lines(aws, group, [record_line("early", "handled")], started)
    polls: list[float] = []

    def sleep_then_log(seconds: float) -> None:
        polls.append(seconds)
        if len(polls) == 1:  # the webhook arrives while `nami events --follow` waits
            write_lines(aws, group, [record_line("late", "duplicate")], started + 1_000)

    query = EventQuery(started - 60_000)
    seen = [
        event.id
        for event in follow_events(aws, group, query, 2.0, max_polls=3, sleep=sleep_then_log)
    ]
    assert seen == ["early", "late"]
    assert polls == [2.0, 2.0]


def test_events_errors_are_one_clear_line(emulator: str, config_path: Path) -> None:
    config = str(config_path)
    not_deployed = run(["events", "billing", config])
    assert not_deployed.exit_code == 1
    assert "`billing` is not deployed" in not_deployed.output
    assert "Traceback" not in not_deployed.output
    unknown = run(["events", "githb", config])
    assert unknown.exit_code == 1 and "did you mean `github`" in unknown.output
    bad_since = run(["events", "github", config, "--since", "yesterday"])
    assert bad_since.exit_code == 2 and "not a duration" in bad_since.output


def test_only_runtime_record_lines_are_events() -> None:
    def event(message: str) -> LogEvent:
        return LogEvent("e", 1_700_000_000_000, message)

    assert parse_event(event("START RequestId: 1")) is None
    assert parse_event(event(metrics_line("s", {"handled": 2}, 1))) is None
    assert parse_event(event('{"outcome": "ok"}')) is None  # not a Nami outcome
    assert parse_event(event("[1, 2]")) is None
    parsed = parse_event(event(record_line("w", "malformed", reason="not base64")))
    assert parsed is not None
    assert (parsed.id, parsed.outcome, parsed.reason, parsed.duration_ms) == (
        "w",
        "malformed",
        "not base64",
        12.5,
    )
    since = EventQuery(1_700_000_000_001)
    assert select([event(record_line("w", "handled"))], since) == []


def test_a_routers_put_back_copy_is_shown_as_one() -> None:
    def line(**extra: object) -> LogEvent:
        fields = {"pipeline": "p", "id": "w", "messageId": "m", "outcome": "routed"}
        return LogEvent("e", 1_700_000_000_000, json.dumps(fields | extra))

    first = parse_event(line(routes=["billing", "crm"]))
    copy = parse_event(line(routes=["audit"], putBackCopy=True))
    assert first is not None and copy is not None
    assert table_row(first).endswith("to billing, crm")
    assert table_row(copy).endswith("put-back copy to audit")
    assert copy.as_dict()["putBackCopy"] is True
    assert "putBackCopy" not in first.as_dict()


def test_filter_pattern_narrows_in_cloudwatch_only_with_plain_values() -> None:
    assert filter_pattern(EventQuery(0)) is None
    assert filter_pattern(EventQuery(0, outcome="rejected")) == '{ $.outcome = "rejected" }'
    assert filter_pattern(EventQuery(0, "failed", "abc-1")) == (
        '{ $.outcome = "failed" && '
        '($.id = "abc-1" || $.messageId = "abc-1" || $.eventId = "abc-1") }'
    )
    # A quote would end the pattern's string early: such an id is matched locally only.
    assert filter_pattern(EventQuery(0, webhook_id='a"b')) is None


def test_deploy_output_and_status_name_the_dashboard(emulator: str, config_path: Path) -> None:
    from nami_action.aws.session import Aws as Session
    from nami_action.aws.session import AwsTarget

    Session(AwsTarget(region=REGION, endpoint_url=emulator)).client("s3").create_bucket(
        Bucket="nami-operate-artifacts"
    )
    url = dashboard_url("shop-github", REGION)
    deployed = run(["deploy", str(config_path), "--pipelines", "github", "--poll-seconds", "0.05"])
    assert deployed.exit_code == 0, deployed.output
    assert f"dashboard: {url}" in deployed.stdout

    status = run(["status", str(config_path), "--format", "json"])
    rows = {row["pipeline"]: row for row in json.loads(status.stdout)["pipelines"]}
    assert rows["github"]["dashboard"] == url
    assert rows["billing"]["dashboard"] is None  # not deployed
    text = run(["status", str(config_path)]).output
    assert f"github  {url}" in text


def test_deploy_summary_links_the_dashboard() -> None:
    from nami_action.plan.model import DeployResult, PipelineResult
    from nami_action.render.markdown import deploy_markdown

    url = dashboard_url("acme-github", "eu-west-1")
    result = DeployResult(
        "acme",
        "eu-west-1",
        [
            PipelineResult(
                "github", "acme-github", "create", "created", 3, "https://e/github", [], url
            )
        ],
    )
    row = next(line for line in deploy_markdown(result).splitlines() if "`github`" in line)
    assert f"`https://e/github` · [dashboard]({url})" in row
