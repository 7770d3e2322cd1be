"""The fake GitHub REST API (tests/github) serves the drift issue tests too."""

from tests.github.conftest import github_api

__all__ = ["github_api"]
