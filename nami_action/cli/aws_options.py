"""The AWS options every command that talks to AWS takes."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from nami_action.aws.session import ENDPOINT_ENV, Aws, AwsTarget
from nami_action.config import Config

F = TypeVar("F", bound=Callable[..., Any])


def aws_options(command: F) -> F:
    options = [
        click.option(
            "--region", default=None, help="AWS region (default: nami.yaml, then the environment)."
        ),
        click.option("--profile", default=None, help="Named AWS profile."),
        click.option("--role-arn", default=None, help="Role to assume before any call."),
        click.option(
            "--endpoint-url",
            default=None,
            envvar=ENDPOINT_ENV,
            help=f"AWS API endpoint, e.g. a local emulator (env {ENDPOINT_ENV}).",
        ),
    ]
    for option in reversed(options):
        command = option(command)

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return command(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def connect(config: Config | None, kwargs: dict[str, Any]) -> Aws:
    """An AWS session for the options; nami.yaml's region applies unless --region is given."""
    region = kwargs.pop("region", None) or (config.region if config else None)
    return Aws(
        AwsTarget(
            region=region,
            profile=kwargs.pop("profile", None),
            role_arn=kwargs.pop("role_arn", None),
            endpoint_url=kwargs.pop("endpoint_url", None),
        )
    )
