"""The `nami` command line: each command is a thin function in its own module."""

from __future__ import annotations

import click

from nami_action import __version__
from nami_action.cli.compile import compile_command
from nami_action.cli.schema import schema
from nami_action.cli.validate import validate


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nami")
def cli() -> None:
    """Webhook pipelines as code: API Gateway -> SQS -> Lambda, deployed with change sets."""


cli.add_command(validate)
cli.add_command(schema)
cli.add_command(compile_command)


def main() -> None:
    cli(prog_name="nami")
