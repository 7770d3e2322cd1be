"""The `nami` command line: each command is a thin function in its own module.

Commands are imported only when used (click's lazy-group pattern): `nami validate` does not
pay for importing boto3 and troposphere.
"""

from __future__ import annotations

import importlib
import os
import sys
import warnings
from typing import Any

import click

from nami_action import __version__

COMMANDS = {
    "validate": "nami_action.cli.validate:validate",
    "schema": "nami_action.cli.schema:schema",
    "compile": "nami_action.cli.compile:compile_command",
    "package": "nami_action.cli.package:package_command",
    "bootstrap": "nami_action.cli.bootstrap:bootstrap",
    "plan": "nami_action.cli.plan:plan",
    "deploy": "nami_action.cli.deploy:deploy_command",
    "destroy": "nami_action.cli.destroy:destroy",
    "dev": "nami_action.cli.dev:dev",
    "status": "nami_action.cli.status:status",
    "dlq": "nami_action.cli.dlq:dlq",
    "events": "nami_action.cli.events:events",
    "send": "nami_action.cli.send:send",
    "github": "nami_action.cli.github:github",
    "drift": "nami_action.cli.drift:drift",
    "pause": "nami_action.cli.pause:pause",
    "resume": "nami_action.cli.pause:resume",
    "replay": "nami_action.cli.replay:replay_command",
    "redeliver": "nami_action.cli.redeliver:redeliver_command",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attribute = target.split(":")
        command: Any = getattr(importlib.import_module(module), attribute)
        return command if isinstance(command, click.Command) else None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nami")
def cli() -> None:
    """Webhook pipelines as code: API Gateway -> SQS -> Lambda, deployed with change sets."""


def main() -> None:
    if not sys.warnoptions and not os.environ.get("NAMI_DEBUG"):
        # A library's warning (its file path, no location in nami.yaml) is not a message for
        # the person running nami; NAMI_DEBUG=1 or `python -W` shows them.
        warnings.simplefilter("ignore")
    cli(prog_name="nami")
