"""`nami validate`: check nami.yaml and summarise its pipelines."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from nami_action.cli.common import config_argument, display_path, handle_errors, read_config
from nami_action.config import Config
from nami_action.config.forward import concurrency
from nami_action.config.routes import routes_summary
from nami_action.config.units import format_duration
from nami_action.errors import ConfigError, printable, terminal_safe


@click.command()
@config_argument
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@handle_errors
def validate(config: Path, fmt: str) -> None:
    """Check CONFIG (default ./nami.yaml) against the nami.yaml language."""
    try:
        loaded = read_config(config)
    except ConfigError as exc:
        if fmt == "json":
            report = {
                "valid": False,
                "file": display_path(config),
                "errors": [p.as_dict() for p in exc.problems],
            }
            click.echo(json.dumps(report, indent=2))
        else:
            click.echo(terminal_safe(str(exc)), err=True)
            count = len(exc.problems)
            click.echo(f"{count} problem{'s' if count != 1 else ''} found", err=True)
        sys.exit(1)
    if fmt == "json":
        click.echo(
            json.dumps(
                {
                    "valid": True,
                    "file": loaded.file,
                    "errors": [],
                    "pipelines": summary_rows(loaded),
                },
                indent=2,
            )
        )
    else:
        click.echo(summary_text(loaded))


def summary_rows(config: Config) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for pipeline in config.pipelines.values():
        spec = pipeline.spec
        rows.append(
            {
                "name": pipeline.name,
                "stack": pipeline.stack_name,
                "path": pipeline.path,
                "verify": spec.verify.scheme,
                "queue": "fifo" if spec.queue.fifo else "standard",
                "mode": "routes"
                if spec.routes
                else "forward"
                if spec.forward
                else spec.consumer.mode,
                "max_concurrency": concurrency(spec),
                "batch_size": spec.consumer.batch_size,
                "visibility_timeout": format_duration(pipeline.visibility_timeout),
                **({"routes": routes_summary(spec)} if spec.routes else {}),
            }
        )
    return rows


def summary_text(config: Config) -> str:
    count = len(config.pipelines)
    lines = [
        f"{printable(config.file)}: valid, project `{config.project}`, "
        f"{count} pipeline{'s' if count != 1 else ''}"
    ]
    for row in summary_rows(config):
        lines.append(
            f"  {row['name']:<24} POST {row['path']:<20} verify={row['verify']:<17} "
            f"queue={row['queue']:<8} mode={row['mode']:<7} "
            f"concurrency<={row['max_concurrency']} batch={row['batch_size']}"
        )
        routes = row.get("routes")
        lines += (
            [f"    {line}" for line in routes if isinstance(line, str)]
            if isinstance(routes, list)
            else []
        )
    return "\n".join(lines)
