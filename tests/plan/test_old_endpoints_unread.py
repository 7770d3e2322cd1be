"""An old endpoint whose request count CloudWatch did not answer in full is kept, and the plan
says why (plan/endpoints.py). GetMetricData answers 200 and reports such a metric by its
StatusCode; the emulator always says Complete, so this is the pure decision from the answer."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from nami_action.aws.metrics import Unread, points_of
from nami_action.aws.traffic import count_of
from nami_action.config import load_config
from nami_action.plan.endpoints import endpoint_warnings, judged

HOUR = datetime(2026, 12, 6, 12, tzinfo=UTC)


def result(status: str | None, values: list[float]) -> dict[str, Any]:
    found: dict[str, Any] = {"Id": "q0", "Timestamps": [HOUR] * len(values), "Values": values}
    if status is not None:
        found["StatusCode"] = status
    return found


def decided(pages: list[list[dict[str, Any]]], tmp_path: Path) -> list[str]:
    """The plan's words for one old `rest` endpoint whose count these answers gave."""
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "nami.yaml").write_text(
        "version: 1\nproject: shop\npipelines:\n  github:\n    ingress: http\n"
        "    verify: {scheme: none}\n    consumer: {code: src}\n"
    )
    pipeline = load_config(tmp_path / "nami.yaml").pipelines["github"]
    (count,) = points_of([{"MetricDataResults": page} for page in pages], 1)
    endpoint = judged("rest", "https://old.example/github", count_of(count))
    (warning,) = endpoint_warnings(pipeline, [endpoint])
    assert endpoint.keep == (warning.kind == "endpoint-live")
    return [warning.kind, warning.message]


@pytest.mark.parametrize("status", ["InternalError", "Forbidden", "PartialData"])
def test_a_metric_not_answered_in_full_keeps_the_endpoint_and_says_why(
    status: str, tmp_path: Path
) -> None:
    kind, message = decided([[result(status, [])]], tmp_path)
    assert kind == "endpoint-live"
    assert "is kept, still writing into the queue: its traffic cannot be read" in message
    assert f"CloudWatch answered {status} for its metric" in message


def test_partial_data_completed_on_the_next_page_is_a_count(tmp_path: Path) -> None:
    kind, message = decided([[result("PartialData", [3.0])], [result("Complete", [4.0])]], tmp_path)
    assert kind == "endpoint-live" and "still live: 7 requests" in message
    kind, message = decided([[result("Complete", [])]], tmp_path)
    assert kind == "endpoint-retired" and "this deploy removes it" in message


def test_a_result_without_status_is_complete() -> None:
    """moto 5.2 may leave StatusCode out; AWS always sends it."""
    assert points_of([{"MetricDataResults": [result(None, [2.0])]}], 1) == [[(HOUR, 2.0)]]
    assert points_of([{"MetricDataResults": [result("Forbidden", [2.0])]}], 1) == [
        Unread("CloudWatch answered Forbidden for its metric")
    ]
