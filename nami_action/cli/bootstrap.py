"""`nami bootstrap`: the artifact bucket stack, once per account and region."""

from __future__ import annotations

from typing import Any

import click

from nami_action.aws.artifacts import deploy_bootstrap
from nami_action.cli.aws_options import aws_options, connect
from nami_action.cli.common import handle_errors
from nami_action.compile.bootstrap import DEFAULT_STACK_NAME, bootstrap_template_json


@click.command()
@click.option("--stack-name", default=DEFAULT_STACK_NAME, show_default=True)
@click.option("--print-template", is_flag=True, help="Print the template; deploy nothing.")
@aws_options
@handle_errors
def bootstrap(stack_name: str, print_template: bool, **aws: Any) -> None:
    """Deploy the encrypted, versioned, private S3 bucket for consumer code."""
    if print_template:
        click.echo(bootstrap_template_json(), nl=False)
        return
    bucket = deploy_bootstrap(connect(None, aws), stack_name, bootstrap_template_json())
    click.echo(f"artifact bucket: {bucket}")
