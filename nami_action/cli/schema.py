"""`nami schema`: print the JSON Schema of nami.yaml, or its Markdown reference."""

from __future__ import annotations

import click

from nami_action.config.reference import reference_markdown
from nami_action.config.schema import schema_text


@click.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "markdown"]),
    default="json",
    help="json: the JSON Schema (Draft 2020-12); markdown: the table of docs/reference.md.",
)
def schema(fmt: str) -> None:
    """Print the JSON Schema of nami.yaml (for editors and other tools)."""
    click.echo(schema_text() if fmt == "json" else reference_markdown(), nl=False)
