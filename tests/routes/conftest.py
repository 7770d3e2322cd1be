"""Fixtures for `routes:` tests: a project on disk with a handler route and forward routes;
`nami dev` and the destination on 127.0.0.1 are the forward tests' own."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.forward.conftest import destination, start_dev

__all__ = ["destination", "start_dev"]

# The handler of the `billing` route: it appends each webhook's JSON body to a file beside it.
HANDLER = """\
import json, pathlib

def handle(webhook):
    out = pathlib.Path(__file__).with_name("handled.jsonl")
    with out.open("a") as stream:
        stream.write(json.dumps(webhook.json()) + "\\n")
"""


@pytest.fixture
def routes_project(tmp_path: Path) -> Callable[..., Path]:
    """nami.yaml with pipeline `stripe`: `billing` (a handler, invoice.*), `crm` (forward,
    two customer events, or an `X-Crm` header) and `rest` (forward, the default) unless
    `default` is False; extra pipeline keys as YAML lines."""

    def write(url: str, pipeline: str = "", default: bool = True) -> Path:
        code = tmp_path / "consumers" / "billing"
        code.mkdir(parents=True, exist_ok=True)
        (code / "handler.py").write_text(HANDLER)
        rest = f"      rest: {{match: default, forward: {{url: '{url}/rest'}}}}\n"
        path = tmp_path / "nami.yaml"
        path.write_text(
            "version: 1\nproject: rttest\npipelines:\n  stripe:\n"
            "    verify: {scheme: none}\n"
            "    routes:\n"
            "      billing: {match: {json: $.type, prefix: invoice.}, "
            "consumer: {code: consumers/billing}}\n"
            "      crm: {match: {json: $.type, in: [customer.created, customer.updated]}, "
            f"forward: {{url: '{url}/crm', rate: 50/s}}}}\n"
            "      audit: {match: {header: X-Audit, exists: true}, "
            f"forward: {{url: '{url}/audit'}}}}\n"
            + (rest if default else "")
            + "".join(f"    {line}\n" for line in pipeline.splitlines() if line.strip())
        )
        return path

    return write


def handled(project: Path) -> list[dict[str, object]]:
    """What the `billing` handler got, in order."""
    out = project.parent / "consumers" / "billing" / "handled.jsonl"
    if not out.exists():
        return []
    return [json.loads(line) for line in out.read_text().splitlines()]
