"""Fixtures for `forward:` tests: a real destination on 127.0.0.1, a project on disk."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from nami_action.config import load_config
from nami_action.dev.app import DevApp, DevOptions

from .destination import Destination, serve

# A Standard Webhooks secret as `nami dev` or Secrets Manager would hold it.
SECRET = "whsec_" + base64.b64encode(b"forward-test-signing-key-32bytes").decode()


@pytest.fixture
def destination() -> Iterator[Destination]:
    yield from serve(Destination(SECRET))


@pytest.fixture
def forward_project(tmp_path: Path) -> Callable[..., Path]:
    """nami.yaml with one `forward` pipeline `stripe` to `url` (extra keys as YAML flow)."""

    def write(url: str, forward: str = "", pipeline: str = "") -> Path:
        path = tmp_path / "nami.yaml"
        path.write_text(
            "version: 1\nproject: fwtest\npipelines:\n  stripe:\n"
            "    verify: {scheme: none}\n"
            f"    forward: {{url: '{url}'{', ' + forward if forward else ''}}}\n"
            + "".join(f"    {line}\n" for line in pipeline.splitlines() if line.strip())
        )
        return path

    return write


@pytest.fixture
def start_dev(tmp_path: Path) -> Iterator[Callable[..., DevApp]]:
    apps: list[DevApp] = []

    def start(config: Path, **options: Any) -> DevApp:
        env = options.pop("env", {"NAMI_DEV_FORWARD_SECRET_STRIPE": SECRET})
        app = DevApp(
            load_config(config),
            DevOptions(port=0, data_dir=tmp_path / "data", env=env, **options),
            out=open(os.devnull, "w"),  # noqa: SIM115 - closed with the process
        )
        app.start()
        apps.append(app)
        return app

    yield start
    for app in apps:
        app.stop()
