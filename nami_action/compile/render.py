"""Render many pipelines' templates: in worker processes when there are enough of them.

Rendering is CPU-bound Python (troposphere objects, then JSON with indentation, which the
standard library encodes in pure Python): one core renders about 250 pipelines a second, so
a config of 1,000 takes 4 s on one core. Each template is independent and deterministic, so
forked workers render them in parallel and the result is byte-identical to a serial render.
Forking is used only where the platform offers it (not on Windows; on macOS Python defaults to
spawn, and fork is still available) and only for enough pipelines to pay for the workers.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

from nami_action.compile.consumer import CodeLocation
from nami_action.compile.pipeline import render_template
from nami_action.config import Config

PARALLEL_FROM = 200  # pipelines; below this the workers' start-up costs more than it saves
MAX_WORKERS = 8

# The job the forked workers inherit (set just before the pool forks; never pickled).
_JOB: tuple[Config, dict[str, CodeLocation]] | None = None


def render_pipelines(
    config: Config, code: dict[str, CodeLocation], names: list[str]
) -> dict[str, str]:
    """Pipeline name -> its template text, for `names`."""
    workers = _workers(len(names))
    if workers < 2:
        return {name: render_template(config, config.pipelines[name], code[name]) for name in names}
    global _JOB
    _JOB = (config, code)
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            chunk = max(1, len(names) // (workers * 4))
            texts = list(pool.map(_render_named, names, chunksize=chunk))
    finally:
        _JOB = None
    return dict(zip(names, texts, strict=True))


def _workers(count: int) -> int:
    if count < PARALLEL_FROM or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return min(MAX_WORKERS, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


def _render_named(name: str) -> str:
    assert _JOB is not None, "render workers are forked after the job is set"
    config, code = _JOB
    return render_template(config, config.pipelines[name], code[name])
