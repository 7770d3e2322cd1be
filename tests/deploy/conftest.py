"""Fixtures for plan/deploy tests against the moto server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from nami_action.aws.session import Aws, AwsTarget

from .support import BUCKET, REGION, FaultProxy, Project


@pytest.fixture
def project(tmp_path: Path, aws: Aws) -> Project:
    (tmp_path / "consumer").mkdir()
    (tmp_path / "consumer" / "handler.py").write_text("def handle(webhook):\n    return None\n")
    aws.client("s3").create_bucket(Bucket=BUCKET)
    found = Project(tmp_path, {"github": 5, "stripe": 20, "orders": 2})
    found.write()
    return found


@pytest.fixture
def proxy(emulator: str) -> Iterator[FaultProxy]:
    found = FaultProxy(emulator)
    yield found
    found.close()


@pytest.fixture
def proxied_aws(proxy: FaultProxy) -> Aws:
    return Aws(AwsTarget(region=REGION, endpoint_url=proxy.url))
