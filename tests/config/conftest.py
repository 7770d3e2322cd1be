"""validate checks that every `consumer.code` folder exists: create, in each test's folder,
the ones the configs of these tests name (tests of a missing folder use other names)."""

from __future__ import annotations

from pathlib import Path

import pytest

CODE_FOLDERS = ("src", "c", "code", "consumers/github", "consumers/stripe")


@pytest.fixture(autouse=True)
def code_folders(tmp_path: Path) -> None:
    for folder in CODE_FOLDERS:
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
