"""Fixtures for the `nami dev` tests (defined in helpers.py, with the helpers they use)."""

from .helpers import dev_process, make_project, start_app

__all__ = ["dev_process", "make_project", "start_app"]
