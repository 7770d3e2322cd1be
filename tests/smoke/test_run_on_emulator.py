"""The smoke run's own plumbing, on the moto server: it creates the secrets, bootstraps,
deploys the rewritten example, sends every probe to its pipeline's endpoint, and then leaves
nothing behind. moto runs no Lambda and API Gateway forwards nothing, so the answers come
from a recorder and the handler checks fail: the run must say so (exit 1), not pass."""

from __future__ import annotations

import json

import pytest

from nami_action.aws.session import Aws, AwsTarget

from . import aws_smoke
from .checks import Answer
from .corpus import Probe

pytestmark = pytest.mark.emulator
REGION = "eu-west-1"


def test_a_run_sends_everything_and_cleans_up(emulator: str) -> None:
    sent: list[tuple[str, Probe]] = []

    def recorder(url: str, probe: Probe) -> Answer:
        sent.append((url, probe))
        return Answer(probe.name, probe.status, json.dumps({"id": f"x-{len(sent)}"}).encode())

    options = aws_smoke.Options(region=REGION, timeout=0, settle=0)
    assert aws_smoke.run(options, recorder) == 1  # no handler ran: the check must fail

    pipelines = {probe.pipeline for _, probe in sent}
    assert pipelines == {"github", "orders"}
    assert len(sent) == len({probe.name for _, probe in sent}) > 10
    for url, probe in sent:
        path = "/live/partners/warehouse" if probe.pipeline == "orders" else "/live/github"
        assert url.startswith("https://") and url.endswith(
            f".execute-api.{REGION}.amazonaws.com{path}"
        )

    aws = Aws(AwsTarget(region=REGION, endpoint_url=emulator))
    assert aws.client("ssm").describe_parameters()["Parameters"] == []
    assert aws.client("secretsmanager").list_secrets()["SecretList"] == []
    assert aws.client("sqs").list_queues(QueueNamePrefix="nami-smoke-").get("QueueUrls", []) == []
    stacks = aws.client("cloudformation").list_stacks()["StackSummaries"]
    left = {s["StackName"] for s in stacks if s["StackStatus"] != "DELETE_COMPLETE"}
    assert left == {"nami-bootstrap"}
    # The run's permissions boundary was made for its roles, and deleted with them.
    policies = aws.client("iam").list_policies(Scope="Local")["Policies"]
    assert [p["PolicyName"] for p in policies if p["PolicyName"].startswith("nami-smoke-")] == []


def test_the_boundary_document_is_rewritten_for_the_run() -> None:
    template = (aws_smoke.ROOT / "docs" / "iam" / "permissions-boundary-policy.json").read_text()
    document = json.loads(
        aws_smoke.boundary_document(template, "210987654321", "nami-smoke-ab12cd")
    )
    resources = [r for s in document["Statement"] for r in [s["Resource"]]]
    assert "arn:aws:sqs:*:210987654321:nami-smoke-ab12cd-*" in resources
    assert "arn:aws:ssm:*:210987654321:parameter/nami-smoke-ab12cd/*" in resources
    assert "arn:aws:secretsmanager:*:210987654321:secret:nami-smoke-ab12cd/*" in resources
    assert "acme" not in json.dumps(document) and "123456789012" not in json.dumps(document)
