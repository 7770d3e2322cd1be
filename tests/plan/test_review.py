"""What a deploy says when its plan differs from the approved one (plan/review.py)."""

from __future__ import annotations

import json
from typing import Any

from nami_action.compile.record import RETIRING
from nami_action.cost.model import METADATA_KEY
from nami_action.plan import review
from nami_action.plan.model import ResourceChange


def entry(retiring: list[str], template: str, changes: list[list[str]]) -> dict[str, Any]:
    return {
        "stack": "shop-github",
        "action": "update",
        "template_sha256": template,
        "retiring": retiring,
        "zip_sha256": "z",
        "code_version": "v1",
        "diff_sha256": "d-" + template,
        "changes": changes,
        "error": False,
    }


def fingerprint(one: dict[str, Any]) -> dict[str, Any]:
    return {"format": review.FORMAT, "bundle": "b", "pipelines": {"github": one}}


def test_an_old_endpoint_that_went_quiet_since_the_plan_says_plan_again() -> None:
    kept = [["Modify", "Queue", "AWS::SQS::Queue", "False"]]
    retired = [*kept, ["Remove", "RestApi", "AWS::ApiGateway::RestApi", ""]]
    approved = fingerprint(entry(["rest"], "t1", kept))
    (difference,) = review.differences(approved, fingerprint(entry([], "t2", retired)))
    assert difference.startswith("github: changes, diff_sha256, retiring, template_sha256 differ")
    assert "old endpoint went quiet or live since the plan" in difference
    assert difference.endswith("plan again)")
    # And the other way round: an endpoint the plan retired got a request again.
    (difference,) = review.differences(fingerprint(entry([], "t2", retired)), approved)
    assert "old endpoint went quiet or live since the plan" in difference


def test_a_template_change_with_the_same_old_endpoints_says_nothing_of_them() -> None:
    approved = fingerprint(entry(["rest"], "t1", []))
    (difference,) = review.differences(approved, fingerprint(entry(["rest"], "t2", [])))
    assert difference == "github: diff_sha256, template_sha256 differ"


def test_the_fingerprint_reads_the_retiring_kinds_from_the_template_metadata() -> None:
    template = {"Metadata": {METADATA_KEY: {RETIRING: ["rest", "function-url"]}}}
    assert review.retiring_kinds(json.dumps(template)) == ["function-url", "rest"]
    assert review.retiring_kinds(json.dumps({"Resources": {}})) == []
    assert review.retiring_kinds(None) == []


def test_a_kept_zip_version_leaves_the_function_modify_rows_out() -> None:
    """The kept version gone, the deploy pins one with the same SHA-256: on AWS its change set
    then modifies the function where the plan's did not (moto 5.2 reports no row for a
    parameter change, so tests/deploy/test_code_versions.py cannot show it)."""
    queue = ResourceChange("Modify", "Queue", "AWS::SQS::Queue", "False")
    function = ResourceChange("Modify", "Consumer", review.LAMBDA_FUNCTION, "False")
    added = ResourceChange("Add", "Consumer", review.LAMBDA_FUNCTION, "")
    planned = review.change_rows([queue], kept_code=True)
    assert review.change_rows([queue, function], kept_code=True) == planned
    assert review.change_rows([queue, function, added], kept_code=True) != planned
    # A zip new to the stack: the function's row is what the deploy does, and is compared.
    assert review.change_rows([queue, function], kept_code=False) == [
        ["Modify", "Consumer", review.LAMBDA_FUNCTION, "False"],
        ["Modify", "Queue", "AWS::SQS::Queue", "False"],
    ]
