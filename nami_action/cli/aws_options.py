"""The AWS options every command that talks to AWS takes."""

from __future__ import annotations

import functools
import re
import urllib.parse
from collections.abc import Callable
from typing import Any, TypeVar

import click

from nami_action.aws.session import ENDPOINT_ENV, Aws, AwsTarget
from nami_action.config import Config
from nami_action.config.models import REGION_PATTERN
from nami_action.errors import printable

F = TypeVar("F", bound=Callable[..., Any])
# An IAM role in any partition: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html
_ROLE_ARN = re.compile(r"arn:aws(-[a-z]+)*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}")


def _checked(
    check: Callable[[str], str | None], *, empty: str | None = None
) -> Callable[[click.Context, click.Parameter, str | None], str | None]:
    """A click callback: the value, or a usage error saying what is wrong with it (botocore
    would fail later with a ValueError, or send the wrong value to AWS). An empty value is
    the default, as if not given, unless `empty` says why it is refused."""

    def callback(context: click.Context, parameter: click.Parameter, value: str | None) -> Any:
        if value == "" and empty:
            raise click.BadParameter(empty)
        if not value:
            return None
        problem = check(value)
        if problem:
            raise click.BadParameter(
                f"{printable(repr(value))} {problem}{_from_env(context, parameter)}"
            )
        return value

    return callback


def _from_env(context: click.Context, parameter: click.Parameter) -> str:
    """Where a value came from when the user did not type the option (NAMI_ENDPOINT_URL)."""
    source = context.get_parameter_source(parameter.name or "")
    if source is click.core.ParameterSource.ENVIRONMENT and parameter.envvar:
        return f" (from {parameter.envvar})"
    return ""


def _region_problem(value: str) -> str | None:
    if re.fullmatch(REGION_PATTERN, value):
        return None
    return "is not an AWS region name like eu-west-1"


def _role_problem(value: str) -> str | None:
    if _ROLE_ARN.fullmatch(value):
        return None
    return "is not an IAM role ARN like arn:aws:iam::123456789012:role/nami-deploy"


def _endpoint_problem(value: str) -> str | None:
    try:
        parts = urllib.parse.urlsplit(value)
        parts.port  # noqa: B018 - raises for a port that is not a number in 0-65535
    except ValueError as exc:
        return f"is not a URL: {exc}"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "is not an http(s)://host[:port] URL"
    return None


def aws_options(command: F) -> F:
    options = [
        click.option(
            "--region",
            default=None,
            callback=_checked(_region_problem),
            help="AWS region (default: nami.yaml, then the environment).",
        ),
        click.option("--profile", default=None, help="Named AWS profile."),
        click.option(
            "--role-arn",
            default=None,
            # `--role-arn "$ROLE"` with the variable unset must not mean the ambient credentials.
            callback=_checked(
                _role_problem,
                empty="is empty: leave it out to use the credentials as they are",
            ),
            help="Role to assume before any call.",
        ),
        click.option(
            "--endpoint-url",
            default=None,
            envvar=ENDPOINT_ENV,
            # `--endpoint-url "$EMULATOR"` with the variable unset must not mean real AWS.
            callback=_checked(
                _endpoint_problem,
                empty="is empty: leave it out to use AWS's own endpoints",
            ),
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
