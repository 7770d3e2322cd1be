"""consumer.retry as nami.yaml gives it: the horizon people read, and what validate refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from nami_action.config import load_config
from nami_action.config.rules import retry_horizon, retry_schedule
from nami_action.config.units import format_about
from nami_action.errors import ConfigError
from nami_action.plan.model import PipelinePlan, Plan
from nami_action.render.markdown import plan_markdown
from nami_action.render.text import plan_text
from nami_action.runtime.retry import RetrySchedule

PIPELINE = """version: 1
project: acme
pipelines:
  billing:
    verify: {{scheme: none}}
    queue: {{{queue}}}
    consumer: {{code: src{consumer}}}
"""


def horizon_of(tmp_path: Path, queue: str = "", consumer: str = "") -> str:
    path = tmp_path / "nami.yaml"
    path.write_text(PIPELINE.format(queue=queue, consumer=consumer))
    return retry_horizon(load_config(path).pipelines["billing"].spec)


def test_about_rounds_to_two_units() -> None:
    assert [format_about(s) for s in (59, 90, 3600, 10920, 15300, 192000)] == [
        "59 s",
        "1 m 30 s",
        "1 h",
        "3 h 2 m",
        "4 h 15 m",
        "2 d 5 h",
    ]


def test_horizon_with_and_without_a_schedule(tmp_path: Path) -> None:
    # Defaults: 5 attempts, each retry after the visibility timeout 6 x 30 s = 3 m.
    assert horizon_of(tmp_path) == "5 attempts over about 12 m"
    assert (
        horizon_of(tmp_path, "max_receive_count: 8", ", retry: {initial: 2m, max: 1h}")
        == "8 attempts over about 3 h 2 m"
    )
    fixed = ", retry: {backoff: fixed, initial: 90s}"
    assert horizon_of(tmp_path, "max_receive_count: 3", fixed) == "3 attempts over about 3 m"
    assert horizon_of(tmp_path, "max_receive_count: 1") == "1 attempt, no retry"


def test_retry_defaults_and_inheritance(tmp_path: Path) -> None:
    path = tmp_path / "nami.yaml"
    path.write_text(
        PIPELINE.format(queue="", consumer=", retry: {max: 10m}").replace(
            "pipelines:",
            "defaults:\n  consumer: {retry: {backoff: fixed, initial: 30s}}\npipelines:",
        )
    )
    spec = load_config(path).pipelines["billing"].spec
    assert retry_schedule(spec) == RetrySchedule("fixed", 30, 600)


def test_a_schedule_that_outlives_the_retention_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "nami.yaml"
    path.write_text(
        PIPELINE.format(
            queue="retention: 1d, max_receive_count: 30", consumer=", retry: {initial: 1h}"
        )
    )
    with pytest.raises(ConfigError, match="it would expire and be lost"):
        load_config(path)
    # 30 waits of 1 h (the last attempt waits too) do not fit in 1 day; 20 do.
    path.write_text(path.read_text().replace("max_receive_count: 30", "max_receive_count: 20"))
    assert load_config(path).pipelines["billing"].spec.queue.max_receive_count == 20


def test_the_plan_states_the_horizon_and_a_paused_pipeline() -> None:
    changed = PipelinePlan(
        "billing", "acme-billing", "update", retries="8 attempts over about 3 h 2 m", paused=True
    )
    quiet = PipelinePlan("github", "acme-github", "none", paused=True)
    plan = Plan("acme", "nami.yaml", "eu-west-1", [changed, quiet])

    text = plan_text(plan)
    assert "~ update acme-billing [paused: stays paused after deploy]" in text
    assert "    retries: 8 attempts over about 3 h 2 m" in text
    assert "unchanged: github (paused)" in text
    markdown = plan_markdown(plan)
    assert "retries: 8 attempts over about 3 h 2 m" in markdown
    assert "⏸️ paused" in markdown and "`github` (paused)" in markdown
    assert Plan.from_dict(plan.to_dict()) == plan
