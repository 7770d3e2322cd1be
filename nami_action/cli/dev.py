"""`nami dev`: run every pipeline locally (endpoint, durable queue, workers, the real runtime)."""

from __future__ import annotations

import threading
from pathlib import Path

import click

from nami_action.cli.common import config_argument, handle_errors, read_config
from nami_action.dev.app import DEFAULT_DATA_DIR, DEFAULT_PORT, DevApp, DevOptions, stop_on_signals


def _pairs(values: tuple[str, ...], option: str = "--secret") -> dict[str, str]:
    pairs: dict[str, str] = {}
    for value in values:
        name, found, secret = value.partition("=")
        if not found or not name or not secret:
            raise click.BadParameter(f"expected PIPELINE=VALUE, got {value!r}", param_hint=option)
        if name in pairs:  # the last one would win silently
            raise click.BadParameter(f"{name!r} is given twice", param_hint=option)
        pairs[name] = secret
    return pairs


def _secrets(values: tuple[str, ...]) -> tuple[dict[str, str], dict[str, str]]:
    """--secret PIPELINE=VALUE, once, or twice during a rotation: (current, previous)."""
    current: dict[str, str] = {}
    previous: dict[str, str] = {}
    for value in values:
        name, found, secret = value.partition("=")
        if not found or not name or not secret:
            raise click.BadParameter(
                f"expected PIPELINE=VALUE, got {value!r}", param_hint="--secret"
            )
        if name in previous:
            raise click.BadParameter(
                f"pipeline {name!r} has more than two secrets (the current one, then the "
                "previous one during a rotation)",
                param_hint="--secret",
            )
        (previous if name in current else current)[name] = secret
    return current, previous


@click.command()
@config_argument
@click.option("--port", type=int, default=DEFAULT_PORT, show_default=True, help="0: any free port.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--data",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_DATA_DIR,
    show_default=True,
    help="Folder of the local queue database and consumer log.",
)
@click.option(
    "--secret",
    "secrets",
    multiple=True,
    metavar="PIPELINE=VALUE",
    help="Signing secret of a pipeline (else env NAMI_DEV_SECRET_<PIPELINE>). Twice for one "
    "pipeline during a rotation: the current one, then the previous one (else env "
    "NAMI_DEV_PREVIOUS_SECRET_<PIPELINE>); both are accepted.",
)
@click.option(
    "--forward-to",
    "forward_to",
    multiple=True,
    metavar="PIPELINE=URL",
    help="Where a `forward` pipeline delivers locally, e.g. stripe=http://localhost:3000/hooks "
    "(a route: stripe/crm=URL; default: forward.url when it is on this machine).",
)
@handle_errors
def dev(
    config: Path,
    port: int,
    host: str,
    data: Path,
    secrets: tuple[str, ...],
    forward_to: tuple[str, ...],
) -> None:
    """Run the pipelines of CONFIG on this machine, for trying handlers before deploying.

    POST webhooks to http://HOST:PORT/<pipeline path>; they are stored in a local queue and
    handed to your handlers through the Nami runtime, with the pipeline's batch size,
    concurrency, visibility timeout, retries and dead-letter queue. Ctrl-C stops gracefully.
    """
    loaded = read_config(config)
    current, previous = _secrets(secrets)
    options = DevOptions(
        host=host,
        port=port,
        data_dir=data,
        secrets=current,
        previous_secrets=previous,
        forward_to=_pairs(forward_to, "--forward-to"),
    )
    app = DevApp(loaded, options)
    stop = threading.Event()
    stop_on_signals(stop)
    app.start()
    app.run(stop)


if __name__ == "__main__":
    dev()
