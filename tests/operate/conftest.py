"""Fixtures for operate tests (the moto `emulator`/`aws` fixtures come from tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from nami_action.config import Config, load_config

from .support import Recorder, write_project


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    return write_project(tmp_path)


@pytest.fixture
def config(config_path: Path) -> Config:
    return load_config(config_path)


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    found = Recorder()
    yield found
    found.close()
