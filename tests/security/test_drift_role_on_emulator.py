"""The drift role from docs/iam, on the moto server with IAM enforcement on (enforced.py):
`nami drift` reads a deployed pipeline with its credentials alone, every call it makes is one
the document allows, and it can change nothing.

Emulator gap (measured with moto 5.2.5): with enforcement on, every Lambda GET request fails
moto's own signature check (SignatureDoesNotMatch, even ListFunctions without parameters), so
the read of the consumer function stops the check there; the reads before it (the template,
the resources, the queues) pass, and the Lambda reads are checked by reading the document
(test_handler_permissions.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from nami_action.aws.session import Aws, AwsTarget
from nami_action.cli import cli
from tests.conftest import REGION

from .enforced import assume, not_in_policy, record_calls, set_auth
from .iam_documents import load
from .test_plan_role_on_emulator import STACK, denied, deployed

pytestmark = pytest.mark.emulator
__all__ = ["deployed"]  # the fixture, shared with the plan role's tests


def test_nami_drift_works_with_the_drift_role_alone(
    deployed: Path, aws: Aws, emulator: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqs = aws.client("sqs")
    queue = sqs.get_queue_url(QueueName=STACK)["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=queue, Attributes={"MessageRetentionPeriod": "86400"})
    assume(aws, "drift", monkeypatch)
    calls = record_calls(monkeypatch)
    set_auth(emulator, "0")
    try:
        result = CliRunner().invoke(cli, ["drift", str(deployed), "--format", "json"])
        made = set(calls)  # what nami drift called, before the probes below
        role = Aws(AwsTarget(region=REGION, endpoint_url=emulator))
        assert denied(role.client("sqs").purge_queue, QueueUrl=queue)
        assert denied(role.client("cloudformation").delete_stack, StackName=STACK)
    finally:
        set_auth(emulator, "inf")
    (pipeline,) = json.loads(result.output)["pipelines"]
    if result.exit_code == 1:  # the emulator's Lambda signature gap (module docstring)
        assert "SignatureDoesNotMatch" in pipeline["error"], result.output
        assert "reading Consumer" in pipeline["error"], result.output
    else:
        assert result.exit_code == 2, result.output  # drift found
        assert any(f["property"] == "MessageRetentionPeriod" for f in pipeline["findings"])
    assert {"cloudformation:GetTemplate", "cloudformation:ListStackResources"} <= made
    assert "lambda:GetFunctionConfiguration" in made
    assert not_in_policy(made, load("drift-role-policy.json")) == set()
