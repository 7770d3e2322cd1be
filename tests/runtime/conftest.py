"""Fixtures for the runtime tests: a cold container per test, user modules, NAMI_CONFIG."""

from __future__ import annotations

import json
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from nami_action.runtime import entry, secrets


@pytest.fixture(autouse=True)
def fresh_container() -> Iterator[None]:
    """Every test is a cold start: no cached consumer, no cached secret."""
    entry.reset()
    secrets.clear_cache()
    yield
    entry.reset()
    secrets.clear_cache()


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], str]:
    """Write a user handler module under a unique name; return that name."""
    monkeypatch.syspath_prepend(str(tmp_path))

    def write(source: str) -> str:
        name = f"user_{uuid.uuid4().hex[:10]}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        monkeypatch.delitem(sys.modules, name, raising=False)
        return name

    return write


@pytest.fixture
def nami_config(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Set NAMI_CONFIG (and the dedupe table) the way the compiled stack does."""

    def set_config(handler: str, dedupe_table: str | None = None, **fields: Any) -> None:
        config = {
            "pipeline": "github",
            "stack": "acme-github",
            "mode": "webhook",
            "handler": handler,
            **fields,
        }
        monkeypatch.setenv("NAMI_CONFIG", json.dumps(config))
        if dedupe_table:
            monkeypatch.setenv("NAMI_DEDUPE_TABLE", dedupe_table)

    return set_config


@pytest.fixture
def dead_letter_queue(emulator: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The pipeline's DLQ on the moto server, named to the runtime as the stack does."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator)
    url = str(
        boto3.client("sqs", endpoint_url=emulator).create_queue(QueueName="acme-dlq")["QueueUrl"]
    )
    monkeypatch.setenv("NAMI_DEAD_LETTER_QUEUE_URL", url)
    return url
