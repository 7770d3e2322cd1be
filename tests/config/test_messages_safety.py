"""What validate prints is safe to print: no secret's value, no raw control character, and
every problem at once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nami_action.config import load_config
from nami_action.errors import ConfigError, Problem, printable, terminal_safe

SECRETS = [
    "987654321",
    "31415.9265",
    "sk_live_ABCDEFGH12345678",
    "hunter2hunter2",
    "ghp_0123456789abcdefghijABCDEFGHIJ",
    "xoxb-1234567890-abcdefghij",
    "AKIAABCDEFGHIJKLMNOP",
    "pa55w0rd",
]
LEAKY = f"""version: 1
project: acme
defaults:
  consumer:
    environment:
      DEFAULT_TOKEN: {SECRETS[3]}
pipelines:
  hook:
    verify: {{scheme: github, secret: {SECRETS[0]}}}
    consumer:
      code: src
      environment:
        RATE_SECRET: {SECRETS[1]}
        STRIPE: {SECRETS[2]}
        GH: "{SECRETS[4]}"
        SLACK: {SECRETS[5]}
        KEY_ID: {SECRETS[6]}
        DB: "postgres://app:{SECRETS[7]}@db.example/app"
        WHOLE: !!int {SECRETS[2]}x
  other:
    verify: {{scheme: stripe, secret: "{SECRETS[2]}"}}
    consumer: {{code: src, environment: {{FLAG: true, SIZE: 12.5e3}}}}
"""


def run_validate(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nami_action", "validate", str(path), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_no_secret_value_appears_in_any_message(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / "nami.yaml"
    path.write_text(LEAKY)
    result = run_validate(path, "--format", fmt)
    assert result.returncode == 1
    output = result.stdout + result.stderr
    for secret in SECRETS:
        assert secret not in output, (secret, output)
    assert "Traceback" not in output
    if fmt == "json":
        messages = [e["message"] for e in json.loads(result.stdout)["errors"]]
        assert len(messages) >= 9, messages


def test_each_leak_is_reported_at_its_place(tmp_path: Path) -> None:
    path = tmp_path / "nami.yaml"
    path.write_text(LEAKY)
    with pytest.raises(ConfigError) as caught:
        load_config(path, display_name="nami.yaml")
    found = {(p.line, p.column): p.message for p in caught.value.problems}
    assert "looks like a secret" in found[(6, 22)]  # in defaults, reported once
    assert "must be a string, not an integer (not shown" in found[(9, 38)]
    assert "must be a string, not a number (not shown" in found[(13, 22)]
    assert "a Stripe secret or restricted key" in found[(14, 17)]
    assert "a GitHub token" in found[(15, 13)]
    assert "a Slack token" in found[(16, 16)]
    assert "an AWS access key id" in found[(17, 17)]
    assert "a URL with a user name and password" in found[(18, 13)]
    assert found[(19, 16)] == "cannot read this value as `!!int`"
    assert "never the secret itself" in found[(21, 38)]
    assert "not true or false (not shown: it may be a secret); put it in quotes" in found[(22, 47)]


def with_variable(tmp_path: Path, name: str, value: str) -> Path:
    """A config whose one pipeline sets the environment variable `name` (at line 9)."""
    path = tmp_path / "nami.yaml"
    path.write_text(
        "version: 1\nproject: acme\npipelines:\n  hook:\n    verify: {scheme: none}\n"
        f"    consumer:\n      code: src\n      environment:\n        {name}: {json.dumps(value)}\n"
    )
    return path


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TOKEN_URL", "https://auth.example/oauth/token"),
        ("SIGNING_SECRET_ARN", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x"),
        ("API_KEY_ID", "key-0042"),
        ("PASSWORD_RESET_URL", "https://app.example/reset"),
        ("CLIENT_ID", "abc123"),
        ("SERVICE_URL", "https://user@svc.example/path"),
        ("NOTE", "ask the sk_live team"),
    ],
)
def test_not_secret_names_and_values_are_not_false_positives(
    tmp_path: Path, name: str, value: str
) -> None:
    path = with_variable(tmp_path, name, value)
    (tmp_path / "src").mkdir(exist_ok=True)
    assert load_config(path).pipelines["hook"].spec.consumer.environment == {name: value}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TOKEN_URL", "https://user:secret@auth.example/token"),
        ("BUCKET_ID", "AKIAABCDEFGHIJKLMNOP"),
        ("ANY_ARN", "Bearer abcdefgh12345678"),
        ("CERT", "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----"),
        ("GH_PAT", "github_pat_11ABCDEFG0123456789_abcdefghij"),
        ("HOOK", "whsec_abcdefgh12345678"),
    ],
)
def test_credentials_are_found_by_value_whatever_the_name(
    tmp_path: Path, name: str, value: str
) -> None:
    path = with_variable(tmp_path, name, value)
    with pytest.raises(ConfigError) as caught:
        load_config(path, display_name="nami.yaml")
    [problem] = caught.value.problems
    assert (problem.line, problem.column) == (9, 9 + len(name) + 2)
    assert f"`{name}` holds a literal that looks like" in problem.message
    assert value not in problem.message


FORGED = "\n::error file=nami.yaml,line=1::forged\n"


def test_control_characters_never_reach_the_terminal(tmp_path: Path) -> None:
    path = tmp_path / "nami.yaml"
    path.write_text(
        "version: 1\nproject: acme\n"
        f"region: {json.dumps('eu' + FORGED)}\n"
        f"{json.dumps('key' + FORGED)}: 1\n"
        f"tags: {{team: {json.dumps('a' + chr(27) + '[31mred' + chr(0x202E))}}}\n"
        "pipelines:\n  hook:\n    verify: {scheme: none}\n    consumer: {code: src}\n"
    )
    result = run_validate(path)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 4, result.stderr  # three problems and the count, one line each
    assert not any(line.lstrip().startswith("::") for line in lines)
    assert "\x1b" not in result.stderr and "\u202e" not in result.stderr
    assert "\\n::error file=nami.yaml,line=1::forged\\n" in result.stderr
    assert "\\x1b[31mred\\u202e" in result.stderr


def test_printable_and_terminal_safe() -> None:
    assert printable("a\tb\r\nc\x00\x7f\x85\u2028") == "a\\tb\\r\\nc\\x00\\x7f\\x85\\u2028"
    assert printable("plain ünïcode €") == "plain ünïcode €"
    assert terminal_safe("first\n  ::error::x\n##[error]y\nlast") == (
        "first\n>   ::error::x\n> ##[error]y\nlast"
    )
    assert str(Problem("a\nb.yaml", 1, 2, "bad\n::x")) == "a\\nb.yaml:1:2: bad\\n::x"


def test_a_path_that_looks_like_a_command_is_quoted(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "nami_action", "validate", "::error::x"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("> ::error::x:1:1: file not found")


def test_broken_defaults_do_not_hide_pipeline_errors(tmp_path: Path) -> None:
    path = tmp_path / "nami.yaml"
    path.write_text(
        "version: 1\nproject: acme\ndefaults:\n  consumer:\n    memory: lots\n"
        "    timeout: 20s\n  queue: {retention: 1d}\n"
        "pipelines:\n  hook:\n    verify: {scheme: none}\n"
        "    consumer: {code: src, batch_size: 50, environment: {AWS_REGION: x}}\n"
        "    dead_letter: {retention: 1h}\n"
        "  bad:\n    verify: {scheme: none}\n    consumer: {code: src, memori: 1}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path, display_name="nami.yaml")
    messages = [str(p) for p in caught.value.problems]
    assert any(m.startswith("nami.yaml:5:13: `defaults.consumer.memory`") for m in messages)
    assert any("unknown key `memori`" in m for m in messages)
    assert any("batch_size above 10 needs consumer.batching_window" in m for m in messages)
    assert any("`AWS_REGION` is reserved" in m for m in messages)
    # the rule sees the valid default it inherits (queue.retention 1d)
    assert any(
        m.startswith("nami.yaml:12:30: pipeline `hook`: must be longer than queue.retention (1d)")
        for m in messages
    ), messages


def test_duplicate_key_does_not_stop_schema_validation(tmp_path: Path) -> None:
    path = tmp_path / "nami.yaml"
    path.write_text(
        "version: 1\nproject: acme\nproject: again\nregoin: eu-west-1\n"
        "pipelines:\n  hook:\n    verify: {scheme: none}\n"
        "    consumer: {code: src, memory: 1, memory: 2}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path, display_name="nami.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "nami.yaml:3:1: duplicate key `project`: each key may appear once",
        "nami.yaml:4:1: unknown key `regoin`; did you mean `region`?",
        "nami.yaml:8:35: `pipelines.hook.consumer.memory`: must be at least 128 (got `1`)",
        "nami.yaml:8:38: duplicate key `memory`: each key may appear once",
    ]
