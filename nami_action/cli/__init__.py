"""The `nami` command line: each command is a thin function in its own module."""

from __future__ import annotations

import click

from nami_action import __version__
from nami_action.cli.bootstrap import bootstrap
from nami_action.cli.compile import compile_command
from nami_action.cli.deploy import deploy_command
from nami_action.cli.destroy import destroy
from nami_action.cli.dev import dev
from nami_action.cli.github import github
from nami_action.cli.plan import plan
from nami_action.cli.schema import schema
from nami_action.cli.validate import validate


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nami")
def cli() -> None:
    """Webhook pipelines as code: API Gateway -> SQS -> Lambda, deployed with change sets."""


for command in (
    validate,
    schema,
    compile_command,
    bootstrap,
    plan,
    deploy_command,
    destroy,
    dev,
    github,
):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="nami")
