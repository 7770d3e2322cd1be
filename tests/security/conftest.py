"""Fixtures: a deployed project, and IAM enforcement on the moto server for one test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from nami_action.aws.session import Aws

from .enforced import BUCKET, set_auth


@pytest.fixture
def project_folder(tmp_path: Path, aws: Aws) -> Path:
    """A project with one consumer folder and its artifact bucket (versioned, as bootstrap's:
    deploys pin the code by S3 version and read that version back)."""
    (tmp_path / "consumer").mkdir()
    (tmp_path / "consumer" / "handler.py").write_text("def handle(webhook):\n    return None\n")
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return tmp_path


@pytest.fixture
def enforced(emulator: str) -> Iterator[str]:
    """Every request from here on is authorized; switched off again whatever happens. List it
    after the fixtures that set the scene (they use the emulator's unchecked credentials)."""
    set_auth(emulator, "0")
    try:
        yield emulator
    finally:
        set_auth(emulator, "inf")
