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
from nami_action.errors import NamiError, printable, terminal_safe

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_CONFIG = "nami.yaml"

config_argument = click.argument(
    "config", required=False, default=DEFAULT_CONFIG, type=click.Path(dir_okay=True, path_type=Path)
)


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
    return load_config(path, display_name=display_path(path))


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
