"""requirements.txt may list packages by name only; everything else is located at its line."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from nami_action.cli import cli
from nami_action.config.requirements import check_requirements_bytes, check_requirements_text

SIX_HASH = "sha256:8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254"
ALLOWED = [
    "six==1.16.0",
    "requests>=2.31,<3",
    "requests [socks,security] ~= 2.31",
    "Django (>=4.2, <5)",
    "pydantic==2.7.1 ; python_version >= '3.11' and platform_machine == \"aarch64\"",
    f"six==1.16.0 --hash={SIX_HASH}",
    f"six==1.16.0 \\\n    --hash={SIX_HASH}",
    "",
    "   ",
    "six  # pinned later",
    "zope.interface===6.0",
]


@pytest.mark.parametrize("line", ALLOWED)
def test_dependencies_by_name_are_allowed(line: str) -> None:
    assert check_requirements_text(line + "\n") == []


REFUSED = [
    ("${AWS_SESSION_TOKEN}", 1, "environment variable"),
    ("six==${VERSION}", 6, "environment variable"),
    ("# ${AWS_SESSION_TOKEN}", 3, "environment variable"),
    ("-r /proc/self/environ", 1, "`-r` reads another file"),
    ("--requirement=/etc/passwd", 1, "`--requirement` reads another file"),
    ("-c constraints.txt", 1, "`-c` reads another file"),
    ("--index-url https://example.invalid/simple", 1, "changes where packages come from"),
    ("  --extra-index-url=https://example.invalid", 3, "changes where packages come from"),
    ("-f ./wheels", 1, "changes where packages come from"),
    ("--find-links=/tmp", 1, "changes where packages come from"),
    ("--trusted-host example.invalid", 1, "is a pip option"),
    ("-e ../../outside-pkg", 1, "`-e` builds a local folder"),
    ("../tools/evil", 1, "a local path"),
    ("./vendor/pkg.whl", 1, "a local path"),
    ("/abs/path", 1, "a local path"),
    ("evil @ file:///tmp/evil", 1, "a URL or VCS requirement"),
    ("git+https://example.invalid/x.git", 1, "a URL or VCS requirement"),
    ("https://example.invalid/x-1.0.tar.gz", 1, "a URL or VCS requirement"),
    ("six==1.16.0 --install-option=--evil", 1, "not a requirement by name"),
    ("six; os.system('x')", 1, "not a requirement by name"),
]


@pytest.mark.parametrize(("line", "column", "message"), REFUSED)
def test_anything_else_is_refused_at_its_line(line: str, column: int, message: str) -> None:
    problems = check_requirements_text(f"six==1.16.0\n\n{line}\n")
    assert [(p.line, p.column) for p in problems] == [(3, column)]
    assert message in problems[0].message
    for quoted in ("/etc", "/proc", "AWS_", "example.invalid", "evil"):
        assert quoted not in problems[0].message  # the line's own text is never echoed


def test_a_joined_line_is_located_at_its_first_line() -> None:
    problems = check_requirements_text("six\n-r \\\n  other.txt\n")
    assert [(p.line, p.column) for p in problems] == [(2, 1)]


def test_not_utf8_is_located_at_the_first_bad_byte() -> None:
    problems = check_requirements_bytes(b"six\nre\xffquests\n")
    assert [(p.line, p.column, p.message) for p in problems] == [(2, 3, "is not UTF-8 text")]


def validate(root: Path, requirements: bytes) -> tuple[int, str]:
    (root / ".git").mkdir(parents=True)
    code = root / "infra" / "consumer"
    code.mkdir(parents=True)
    (code / "handler.py").write_text("def handle(w):\n    pass\n")
    (code / "requirements.txt").write_bytes(requirements)
    config = root / "infra" / "nami.yaml"
    config.write_text(
        "version: 1\nproject: acme\npipelines:\n  hooks:\n    verify: {scheme: none}\n"
        "    consumer:\n      code: consumer\n"
    )
    result = CliRunner().invoke(cli, ["validate", str(config)])
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def test_validate_locates_the_problem_in_requirements_txt(tmp_path: Path) -> None:
    status, output = validate(tmp_path, b"six==1.16.0\n--index-url https://x/\nx${AWS_KEY}\n")
    assert status == 1
    located = f"{tmp_path}/infra/consumer/requirements.txt"
    assert f"{located}:2:1: requirements.txt: `--index-url` changes where" in output
    assert f"{located}:3:2: requirements.txt: `${{...}}` is an environment variable" in output


def test_a_requirements_link_outside_the_repository_is_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "outside" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("root:x:0:0:canary-secret-line\n")
    status, output = validate(tmp_path / "repo", b"six\n")
    link = tmp_path / "repo" / "infra" / "consumer" / "requirements.txt"
    link.unlink()
    link.symlink_to(secret)
    result = CliRunner().invoke(cli, ["validate", str(tmp_path / "repo" / "infra" / "nami.yaml")])
    assert status == 0, output
    assert result.exit_code == 1
    assert "requirements.txt:1:1: is a link to a file outside the repository" in result.output
    assert "canary-secret-line" not in result.output


@pytest.mark.parametrize(
    "text",
    [
        "a" + " " * 1_000_000 + "x",
        "a==1" + " " * 1_000_000 + "x",
        "a" * 1_000_000 + "!",
        "a;" + "(" * 1_000_000,
        "a \\\n" * 250_000,
    ],
    ids=["blanks", "blanks after a version", "long name", "parentheses", "continuations"],
)
def test_a_megabyte_line_is_checked_in_linear_time(text: str) -> None:
    """The patterns must not backtrack over long runs (a pattern with adjacent `\\s*` took
    minutes on the first case)."""
    started = time.perf_counter()
    problems = check_requirements_bytes(text.encode()[: 1024 * 1024])
    assert time.perf_counter() - started < 3
    assert [(p.line, p.column) for p in problems] == [(1, 1)]


def test_more_than_a_megabyte_is_refused_unread() -> None:
    problems = check_requirements_bytes(b"six\n" * 300_000)
    assert [(p.line, p.message) for p in problems] == [(1, "is larger than 1,048,576 bytes")]


@pytest.mark.parametrize("command", ["validate", "compile", "plan", "deploy", "package"])
def test_no_command_quotes_a_file_a_requirements_line_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    """issue 22 #14: `-r /proc/self/environ` printed the environment; #10: `-e ../../x` was
    built in place. Every command that reads the config refuses them at the line, before
    pip (or AWS) is reached, and quotes nothing of the named files."""
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "canary-secret-in-environ-42")
    outside = tmp_path / "outside-pkg"
    outside.mkdir()
    (outside / "setup.py").write_text("raise SystemExit('built')\n")
    lines = b"-r /proc/self/environ\n-r /etc/passwd\n-e ../../../outside-pkg\n"
    status, _ = validate(tmp_path / "repo", lines)
    config = tmp_path / "repo" / "infra" / "nami.yaml"
    result = CliRunner().invoke(cli, [command, str(config)])
    assert status == 1 and result.exit_code == 1
    assert "canary-secret-in-environ-42" not in result.output
    assert "root:" not in result.output and "Traceback" not in result.output
    assert "requirements.txt:1:1: requirements.txt: `-r` reads another file" in result.output
    assert "requirements.txt:3:1: requirements.txt: `-e` builds" in result.output
    assert sorted(p.name for p in outside.iterdir()) == ["setup.py"]
