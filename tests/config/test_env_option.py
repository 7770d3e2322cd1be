"""`--env` (or NAMI_ENV) reaches the config on every command that reads nami.yaml."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from nami_action.cli import COMMANDS, cli

CONFIG = """\
version: 1
project: acme
pipelines:
  github:
    verify: {scheme: github, secret: "ssm:/acme/github"}
    consumer: {code: consumers/github}
environments:
  staging:
    account: "123456789012"
  production: {}
"""


def command_paths() -> Iterator[tuple[str, ...]]:
    """Every command (and subcommand of a group) that reads nami.yaml: all but `schema` and
    `redeliver` (it talks to GitHub's API only)."""
    context = click.Context(cli)
    for name in sorted(COMMANDS):
        if name in ("schema", "redeliver"):
            continue
        command = cli.get_command(context, name)
        assert command is not None
        if isinstance(command, click.Group):
            # `github drift-issue` reads a drift report, not nami.yaml.
            subs = sorted(set(command.commands) - {"drift-issue"})
            yield from ((name, sub) for sub in subs)
        else:
            yield (name,)


def leaf(path: tuple[str, ...]) -> click.Command:
    command = cli.get_command(click.Context(cli), path[0])
    assert command is not None
    for name in path[1:]:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return command


def arguments(command: click.Command, config: Path, scratch: Path) -> list[str]:
    """The least a command needs to start: the config, a pipeline, required options."""
    args: list[str] = []
    for param in command.params:
        if isinstance(param, click.Argument):
            args.append(str(config) if param.name == "config" else "github")
        elif isinstance(param, click.Option) and param.name == "config":
            args += ["--config", str(config)]
        elif isinstance(param, click.Option) and param.required:
            args += [param.opts[0], str(scratch / "file")]
    return args


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "nami.yaml"
    path.write_text(CONFIG)
    return path


def test_every_command_is_covered() -> None:
    paths = list(command_paths())
    assert ("plan",) in paths and ("dlq", "redrive") in paths and ("github", "run") in paths


@pytest.mark.parametrize("path", list(command_paths()), ids=" ".join)
def test_env_option_reaches_the_config(path: tuple[str, ...], config: Path, tmp_path: Path) -> None:
    command = leaf(path)
    assert "--env" in {opt for param in command.params for opt in param.opts}
    (tmp_path / "file").write_text("")  # an existing file for options such as replay's --from
    args = [*path, *arguments(command, config, tmp_path)]
    runner = CliRunner()
    env = {"GITHUB_STEP_SUMMARY": "", "GITHUB_OUTPUT": "", "GITHUB_EVENT_PATH": ""}
    by_option = runner.invoke(cli, [*args, "--env", "prodction"], env=env)
    assert by_option.exit_code != 0
    assert "no environment `prodction`; did you mean `production`?" in by_option.output
    by_variable = runner.invoke(cli, args, env={**env, "NAMI_ENV": "prodction"})
    assert by_variable.exit_code != 0
    assert "no environment `prodction`" in by_variable.output


def test_validate_shows_the_environment_stacks(config: Path) -> None:
    result = CliRunner().invoke(cli, ["validate", str(config), "--env", "staging"])
    assert result.exit_code == 0, result.output
    assert (
        "acme-staging-github"
        in CliRunner()
        .invoke(cli, ["validate", str(config), "--format", "json"], env={"NAMI_ENV": "staging"})
        .output
    )


def test_no_env_names_the_environments(config: Path) -> None:
    result = CliRunner().invoke(cli, ["plan", str(config)], env={"NAMI_ENV": ""})
    assert result.exit_code == 1
    assert "defines environments (`staging`, `production`): choose one with --env" in (
        result.output
    )
