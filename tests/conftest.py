"""Shared fixtures: a real moto server on 127.0.0.1 (one per test worker), reset per test."""

from __future__ import annotations

import socket
import urllib.request
from collections.abc import Iterator

import pytest

from nami_action.aws.session import Aws, AwsTarget

REGION = "us-east-1"


@pytest.fixture(autouse=True)
def _not_in_github_actions(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests say themselves when they play a GitHub runner: nami keeps its caches elsewhere
    there (package/pipelines.py), which tests of the cache beside nami.yaml must not see when
    this suite itself runs in GitHub Actions."""
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """Start moto's HTTP server in this test process; every AWS call in tests goes to it."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def emulator(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A clean emulator for one test: state reset, fake credentials, no real AWS reachable."""
    request = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
    urllib.request.urlopen(request, timeout=10).close()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("NAMI_ENDPOINT_URL", moto_endpoint)
    yield moto_endpoint


@pytest.fixture
def aws(emulator: str) -> Aws:
    return Aws(AwsTarget(region=REGION, endpoint_url=emulator))
