"""Many pipelines are rendered in forked workers: the templates must be byte-identical to a
serial render, in the same order."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from nami_action.compile import CodeLocation, compile_config, render
from nami_action.compile.pipeline import render_template
from nami_action.config import load_config

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from configs import write_config


@pytest.mark.skipif(render._workers(render.PARALLEL_FROM) < 2, reason="one CPU or no fork")
def test_parallel_render_is_byte_identical_to_serial(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, render.PARALLEL_FROM))
    code = dict.fromkeys(config.pipelines, CodeLocation("bucket", "nami/artifacts/x.zip"))
    parallel = compile_config(config, code, use_cache=False)
    serial = {
        p.stack_name: render_template(config, p, code[name]) for name, p in config.pipelines.items()
    }
    assert list(parallel) == list(serial)
    assert parallel == serial


def test_few_pipelines_render_in_process() -> None:
    assert render._workers(render.PARALLEL_FROM - 1) == 1
