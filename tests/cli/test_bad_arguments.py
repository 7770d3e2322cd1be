"""Bad command-line arguments: a usage error (exit 2) or one `error:` line (exit 1) that says
what is wrong, never an internal error, and never a different action than the one asked for.
None of these reaches AWS: each fails before the first call (the endpoint, a closed port on
127.0.0.1, is there so that a regression cannot reach further)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from nami_action.cli import cli
from nami_action.operate.events import since_ms

CONFIG = """\
version: 1
project: args
pipelines:
  stripe:
    verify: {scheme: none}
    routes:
      billing: {match: {json: $.type, prefix: invoice.}, consumer: {code: billing}}
      crm: {match: {header: X-Crm, exists: true}, forward: {url: 'http://127.0.0.1:9/crm'}}
      rest: {match: default, forward: {url: 'http://127.0.0.1:9/rest'}}
"""
NO_AWS = {
    "NAMI_ENDPOINT_URL": "http://127.0.0.1:9",  # closed: nothing may get this far
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    "AWS_EC2_METADATA_DISABLED": "true",
}


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "billing").mkdir()
    (tmp_path / "billing" / "handler.py").write_text("def handle(webhook):\n    pass\n")
    path = tmp_path / "nami.yaml"
    path.write_text(CONFIG)
    for name, value in NO_AWS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    return path


def nami(*args: str | Path) -> Result:
    result = CliRunner().invoke(cli, [str(arg) for arg in args])
    assert "Traceback" not in result.output and "internal error" not in result.output, result.output
    return result


def test_no_region_anywhere_is_said_plainly(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Was: internal error, NoRegionError (the client was made outside translate_errors).
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.delenv("AWS_REGION", raising=False)
    result = nami("status", config)
    assert result.exit_code == 1
    assert (
        "error: no AWS region while creating the AWS cloudformation client: set `region` in "
        in (result.output)
    )
    # AWS_REGION is not what botocore reads: the message must not send people there.
    assert "AWS_DEFAULT_REGION (the variable botocore reads)" in result.output


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("--endpoint-url=notaurl", "'notaurl' is not an http(s)://host[:port] URL"),
        ("--endpoint-url=http://[::1", "'http://[::1' is not a URL: Invalid IPv6 URL"),
        ("--endpoint-url=http://127.0.0.1:99999", "is not a URL: Port out of range"),
        # An unset variable (`--endpoint-url "$EMULATOR"`) must not mean AWS itself.
        ("--endpoint-url=", "'--endpoint-url': is empty: leave it out to use AWS's own"),
        ("--region=eu_west_1", "'eu_west_1' is not an AWS region name like eu-west-1"),
        ("--role-arn=deploy", "'deploy' is not an IAM role ARN like arn:aws:iam::"),
        # `--role-arn "$ROLE"` with the variable unset must not mean the ambient credentials.
        ("--role-arn=", "'--role-arn': is empty: leave it out to use the credentials as they"),
    ],
)
def test_aws_options_that_cannot_work_are_usage_errors(
    config: Path, option: str, message: str
) -> None:
    # Was: internal errors (ValueError from botocore), or botocore's two-line parameter
    # validation message naming the wrong call.
    result = nami("status", config, option)
    assert result.exit_code == 2
    assert message in result.output


def test_a_bad_endpoint_from_the_environment_says_where_it_came_from(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NAMI_ENDPOINT_URL", "localhost:4566")
    result = nami("status", config)
    assert result.exit_code == 2
    assert "'localhost:4566' is not an http(s)://host[:port] URL (from NAMI_ENDPOINT_URL)" in (
        result.output
    )


@pytest.mark.parametrize("command", ["plan", "deploy", "drift"])
def test_pipelines_that_names_none_is_not_all_of_them(config: Path, command: str) -> None:
    # Was: `--pipelines "$EMPTY"` planned (and deployed) every pipeline.
    result = nami(command, config, "--pipelines", " , ")
    assert result.exit_code == 2
    assert "' , ' names no pipeline: write names separated by commas" in result.output


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("--assume-duration=100", "`100` is not a duration: write 100ms, 2s or 1m"),
        ("--assume-batch-fill=half", "`half` is not a batch fill: write a fraction in (0, 1]"),
    ],
)
def test_cost_flags_say_what_they_take(config: Path, option: str, message: str) -> None:
    # Was: "write 30s, 15m, 12h, 4d or seconds" (seconds refused), and Python's float() text.
    result = nami("plan", config, option)
    assert result.exit_code == 2
    assert message in result.output


def test_events_since_says_what_it_takes(config: Path) -> None:
    # Was: "write 30s, 15m, 12h, 4d or seconds", and a number of seconds was refused.
    result = nami("events", "stripe", config, "--since", "3600")
    assert result.exit_code == 2
    assert "'3600' is not a duration: write 30s, 15m, 12h or 4d" in result.output


def test_a_window_reaching_before_1970_starts_in_1970() -> None:
    # CloudWatch Logs refuses a negative startTime; `--since 99999999999999999999d` is all.
    assert since_ms(10**20, 1_700_000_000_000) == 0
    assert since_ms(3600, 1_700_000_000_000) == 1_700_000_000_000 - 3_600_000


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["dlq", "peek", "stripe/nope", "--config"], "no route `nope` (routes: `stripe/billing`"),
        (["dlq", "peek", "stripe/crn", "--config"], "no route `crn`; did you mean `stripe/crm`?"),
        (["events", "stripe", "--route", "nope"], "no route `nope` (routes: `billing`, `crm`"),
    ],
)
def test_an_unknown_route_lists_the_routes_once(
    config: Path, args: list[str], message: str
) -> None:
    # Was: "(expected one of: billing, crm, rest) (routes: `stripe/billing`, ...)".
    result = nami(*args, config)
    assert result.exit_code == 1
    assert f"error: pipeline `stripe` has {message}" in result.output
    assert "expected one of" not in result.output


@pytest.mark.parametrize(
    ("forward_to", "code", "message"),
    [
        # Was: internal error, ValueError from urlsplit.
        (["stripe/crm=http://[::1"], 1, "--forward-to stripe/crm=http://[::1: is not a URL"),
        (["stripe/crm=http://localhost:0/"], 1, "has port 0, which no server listens on"),
        (["stripe/crm=https://example.com/"], 1, "is not on this machine"),
        # Was: the last one won, silently.
        (
            ["stripe/crm=http://localhost:3000/", "stripe/crm=http://localhost:3001/"],
            2,
            "'stripe/crm' is given twice",
        ),
        # Was: "names pipeline(s) without `forward`", for a route that does not exist.
        (
            ["stripe/nope=http://localhost:3000/"],
            1,
            "does not forward: stripe/nope (the pipelines and routes with `forward`: "
            "stripe/crm, stripe/rest)",
        ),
    ],
)
def test_dev_forward_to_is_checked_before_anything_starts(
    config: Path, tmp_path: Path, forward_to: list[str], code: int, message: str
) -> None:
    flags = [part for value in forward_to for part in ("--forward-to", value)]
    result = nami("dev", config, "--port", "0", "--data", tmp_path / "data", *flags)
    assert result.exit_code == code, result.output
    assert message in result.output
    assert not (tmp_path / "data").exists()  # refused before the local queue was made
