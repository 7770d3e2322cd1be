"""What every command shares: the config argument, output, and turning errors into exits."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from nami_action.config import Config, load_config
from nami_action.config.models import bucket_name_problem
from nami_action.config.validate import ENV_VARIABLE
from nami_action.errors import NamiError, printable, terminal_safe
from nami_action.measure import COMPILER

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_CONFIG = "nami.yaml"

ENV_KEY = "nami.env"


def _remember_env(context: click.Context, _parameter: click.Parameter, value: str | None) -> None:
    # Kept on the context rather than passed to each command: read_config picks it up, so
    # every command that reads nami.yaml gets the environment from this one option.
    context.meta[ENV_KEY] = value or None


env_option = click.option(
    "--env",
    "env",
    default=None,
    envvar=ENV_VARIABLE,
    show_envvar=True,
    expose_value=False,
    callback=_remember_env,
    help="Environment of nami.yaml's `environments` to work on.",
)


def config_argument(command: F) -> F:
    """The CONFIG argument (default ./nami.yaml) and --env."""
    argument = click.argument(
        "config",
        required=False,
        default=DEFAULT_CONFIG,
        type=click.Path(dir_okay=True, path_type=Path),
    )
    return env_option(argument(command))


def config_option(command: F) -> F:
    """--config FILE (default ./nami.yaml), for commands whose arguments are pipelines, and
    --env."""
    option = click.option(
        "--config", type=click.Path(path_type=Path), default=Path(DEFAULT_CONFIG), show_default=True
    )
    return env_option(option(command))


def selected_env() -> str | None:
    """The --env (or NAMI_ENV) of the running command, if any."""
    context = click.get_current_context(silent=True)
    return context.meta.get(ENV_KEY) if context is not None else None


def bucket_name(
    _context: click.Context, _parameter: click.Parameter, value: str | None
) -> str | None:
    """A click callback: a bucket name given on the command line follows S3's naming rules,
    as `artifacts.bucket` in nami.yaml does."""
    problem = bucket_name_problem(value) if value is not None else None
    if problem:
        raise click.BadParameter(
            f"`{printable(value or '')}` is not a valid S3 bucket name: {problem}"
        )
    return value


def read_config(path: Path) -> Config:
    """nami.yaml as seen by the environment chosen with --env (or NAMI_ENV)."""
    return load_config(path, display_name=display_path(path), env=selected_env(), measure=COMPILER)


def display_path(path: Path) -> str:
    """Paths in messages stay as the user wrote them (relative stays relative)."""
    return os.fspath(path)


def handle_errors(command: F) -> F:
    """A user-caused failure prints one message and exits non-zero; never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except NamiError as exc:
            text = str(exc)
            click.echo(terminal_safe(f"error: {text}" if "\n" not in text else text), err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except click.exceptions.Exit:
            raise
        except (click.ClickException, click.Abort):
            raise
        except Exception as exc:  # a bug in nami, not the user's fault
            if os.environ.get("NAMI_DEBUG"):
                raise
            click.echo(
                terminal_safe(f"internal error: {type(exc).__name__}: {exc}") + "\n"
                "this is a bug in nami; rerun with NAMI_DEBUG=1 for the traceback and report it",
                err=True,
            )
            sys.exit(70)

    return wrapper  # type: ignore[return-value]
