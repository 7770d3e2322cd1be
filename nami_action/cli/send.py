"""`nami send`: POST a (signed) test webhook to a pipeline's endpoint."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from nami_action.aws.secrets import read_secret
from nami_action.cli.aws_options import aws_options, connect
from nami_action.cli.common import config_option, handle_errors, read_config
from nami_action.errors import NamiError
from nami_action.operate.dlq import printable
from nami_action.operate.pipelines import locate, select_pipeline
from nami_action.operate.send import (
    SECRET_ENV,
    check_signable,
    choose_secret,
    default_content_type,
    parse_headers,
    post,
    read_body,
    signed_headers,
    target_url,
)


@click.command()
@click.argument("pipeline")
@click.option(
    "--body",
    "body_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="File holding the exact request body.",
)
@click.option("--header", "headers", multiple=True, metavar="NAME:VALUE", help="Extra header.")
@click.option("--sign", is_flag=True, help="Sign with the pipeline's verify scheme.")
@click.option(
    "--secret",
    default=None,
    help=f"Signing secret (else env {SECRET_ENV}; with --url, else NAMI_DEV_SECRET_<PIPELINE> "
    "as `nami dev` reads it; else the pipeline's reference, read from AWS).",
)
@click.option(
    "--url",
    default=None,
    help="POST here instead, e.g. the URL `nami dev` prints (without a path, the pipeline's "
    "path is added).",
)
@config_option
@aws_options
@handle_errors
def send(
    pipeline: str,
    body_file: Path,
    headers: tuple[str, ...],
    sign: bool,
    secret: str | None,
    url: str | None,
    config: Path,
    **aws_kwargs: Any,
) -> None:
    """POST the webhook in --body to PIPELINE's deployed endpoint (or --url); print the status
    and response. Exit 1 unless the answer is 2xx."""
    loaded = read_config(config)
    chosen = select_pipeline(loaded, pipeline)
    body = read_body(body_file)
    extra = parse_headers(headers)
    aws = None
    local = url is not None
    if url is not None:
        url = target_url(url, chosen)
    else:
        aws = connect(loaded, aws_kwargs)
        url = locate(aws, chosen).endpoint
        if url is None:
            raise NamiError(f"pipeline `{pipeline}` has no endpoint in its stack yet")
    request_headers: dict[str, str] = {}
    if not any(name.lower() == "content-type" for name in extra):
        request_headers["Content-Type"] = default_content_type(body)
    request_headers.update(extra)
    if sign:
        check_signable(chosen)

        def resolve(reference: str) -> str:
            return read_secret(aws or connect(loaded, aws_kwargs), reference)

        signature = signed_headers(
            chosen, choose_secret(chosen, secret, resolve, local=local), body
        )
        request_headers.update(signature)
        click.echo(f"signed with {chosen.spec.verify.scheme}: {', '.join(signature)}", err=True)
    answer = post(url, body, request_headers)
    click.echo(f"HTTP {answer.status} {answer.reason}".rstrip())
    if answer.body:
        click.echo("\n".join(printable(line, len(line)) for line in answer.body.splitlines()))
    if not answer.ok:
        sys.exit(1)
