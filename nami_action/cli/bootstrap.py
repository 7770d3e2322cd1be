"""`nami bootstrap`: the artifact bucket stack, once per account and region."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from nami_action.aws.apigateway import ensure_logging_role, stack_role_arn
from nami_action.aws.artifacts import deploy_bootstrap
from nami_action.cli.aws_options import aws_options, connect
from nami_action.cli.common import config_argument, handle_errors, read_config
from nami_action.compile.bootstrap import (
    API_GATEWAY_LOGS_ROLE,
    DEFAULT_STACK_NAME,
    bootstrap_template_json,
)
from nami_action.config import Config


def config_for_region(path: Path, *, named: bool) -> Config | None:
    """nami.yaml names the region the pipelines deploy to, so bootstrap goes there too. Without
    a CONFIG argument a missing ./nami.yaml is fine (region from --region or the environment);
    a CONFIG that was named must exist."""
    if not named and not path.exists():
        return None
    return read_config(path)


@click.command()
@config_argument
@click.option("--stack-name", default=DEFAULT_STACK_NAME, show_default=True)
@click.option("--print-template", is_flag=True, help="Print the template; deploy nothing.")
@aws_options
@handle_errors
def bootstrap(config: Path, stack_name: str, print_template: bool, **aws: Any) -> None:
    """Deploy the encrypted, versioned, private S3 bucket for consumer code, and API Gateway's
    CloudWatch logging role, in the region of CONFIG (default ./nami.yaml, if present)."""
    if print_template:
        click.echo(bootstrap_template_json(), nl=False)
        return
    source = click.get_current_context().get_parameter_source("config")
    named = source is not click.core.ParameterSource.DEFAULT
    session = connect(config_for_region(config, named=named), aws)
    bucket = deploy_bootstrap(session, stack_name, bootstrap_template_json())
    click.echo(f"artifact bucket: {bucket} ({session.region})")
    role = ensure_logging_role(session, stack_role_arn(session, stack_name, API_GATEWAY_LOGS_ROLE))
    kept = "" if role.changed else " (already set for this account and region: kept)"
    click.echo(f"API Gateway logging role: {role.arn}{kept}")
