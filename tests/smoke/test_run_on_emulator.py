"""The smoke run's own plumbing, on the moto server: it creates the secrets, bootstraps,
deploys the rewritten example, sends every probe to its pipeline's endpoint, and then leaves
nothing behind. moto runs no Lambda and API Gateway forwards nothing, so the answers come
from a recorder and the handler checks fail: the run must say so (exit 1), not pass."""

from __future__ import annotations

import json
from typing import Any

import botocore.exceptions
import pytest

from nami_action.aws.session import Aws, AwsTarget
from nami_action.runtime.verify import VerifySettings

from . import aws_smoke
from .checks import Answer, DeniedSend, check_denied, denied_report, denied_shows
from .corpus import Probe, Target, denied_probe

pytestmark = pytest.mark.emulator
REGION = "eu-west-1"


def test_a_run_sends_everything_and_cleans_up(
    emulator: str, capsys: pytest.CaptureFixture[str]
) -> None:
    sent: list[tuple[str, Probe]] = []

    def recorder(url: str, probe: Probe) -> Answer:
        sent.append((url, probe))
        return Answer(probe.name, probe.status, json.dumps({"id": f"x-{len(sent)}"}).encode())

    options = aws_smoke.Options(region=REGION, timeout=0, settle=0)
    assert aws_smoke.run(options, recorder) == 1  # no handler ran: the check must fail

    pipelines = {probe.pipeline for _, probe in sent}
    assert pipelines == {"github", "orders"}
    # moto's CloudFormation skips ApiGatewayV2: `github-http` has no endpoint, so the
    # access-denied step cannot send, and says so instead of passing.
    out = capsys.readouterr().out
    assert "FAIL http-denied github-http: not measured: deploy gave no endpoint" in out
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


# --- the access-denied step of `ingress: http` (aws_smoke.measure_denied_send) -----------------
# moto's IAM does not enforce a Deny on what an API Gateway integration sends (its API Gateway
# sends nothing), so the sender below plays AWS: while the role holds an inline Deny of
# sqs:SendMessage (read back from moto's IAM, after `delay` probes of propagation) it answers
# as the HTTP API passes SQS's refusal on; otherwise 202. The policy attached and removed is
# real; what AWS answers is what `make aws-smoke` measures.
ACCOUNT = "123456789012"
SQS_DENIED = (
    '<?xml version="1.0"?><ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>'
    "<Message>User: arn:aws:sts::{account}:assumed-role/{role}/x is not authorized to perform:"
    " sqs:sendmessage on resource: arn:aws:sqs:eu-west-1:{account}:{queue} with an explicit "
    "deny in an identity-based policy</Message></Error></ErrorResponse>"
)


@pytest.fixture
def role(aws: Aws) -> str:
    made = aws.client("iam").create_role(
        RoleName="nami-smoke-ab12cd-github-http-HttpApiRole-X1", AssumeRolePolicyDocument="{}"
    )
    return str(made["Role"]["RoleName"])


def playing_aws(aws: Aws, role: str, body: bytes | None, delay: int = 2) -> aws_smoke.Sender:
    """A sender refusing with `body` (None: SQS's text) once the deny has been there for
    `delay` probes."""
    seen_deny = [0]

    def sender(url: str, probe: Probe) -> Answer:
        denied = (
            aws_smoke.DENY_POLICY
            in aws.client("iam").list_role_policies(RoleName=role)["PolicyNames"]
        )
        seen_deny[0] = seen_deny[0] + 1 if denied else 0
        if seen_deny[0] > delay:
            text = (
                body
                or SQS_DENIED.format(
                    account=ACCOUNT, role=role, queue="nami-smoke-ab12cd-github-http"
                ).encode()
            )
            return Answer(probe.name, 500, text)
        return Answer(probe.name, 202, b'{"MessageId":"m"}')

    return sender


def measure(aws: Aws, role: str, sender: aws_smoke.Sender) -> DeniedSend:
    target = Target("github-http", VerifySettings("github", secret="s"), ingress="http")
    return aws_smoke.measure_denied_send(
        aws,
        "github-http",
        role,
        "https://abc.execute-api.eu-west-1.amazonaws.com/github-http",
        lambda attempt: denied_probe(target, "nami-smoke-ab12cd", attempt, 1.0),
        sender,
        bound=5,
        poll=0.01,
    )


HIDDEN = {
    "the account id": ACCOUNT,
    "the queue nami-smoke-ab12cd-github-http": "nami-smoke-ab12cd-github-http",
}


def policies(aws: Aws, role: str) -> list[str]:
    return list(aws.client("iam").list_role_policies(RoleName=role)["PolicyNames"])


def test_sqs_text_reaching_the_sender_is_measured_and_reported(aws: Aws, role: str) -> None:
    denied = measure(aws, role, playing_aws(aws, role, None))

    assert policies(aws, role) == []  # removed again
    assert denied.refused is not None and denied.refused.status == 500
    assert denied.refused.probe.endswith("-denied-3")  # after two probes of propagation
    assert denied.recovered is not None and denied.recovered.status == 202
    assert denied.shows_sqs_text
    # Measured and reported, not a failure: the manual and the plan say it reaches the sender.
    assert check_denied(denied) == []
    shows = denied_shows(denied, HIDDEN)
    assert shows == ["the account id", "the queue nami-smoke-ab12cd-github-http", "the role"]
    line = denied_report(denied, [], shows)
    assert line.startswith("PASS http-denied github-http: ")
    assert "SQS's access-denied text reaches the sender: yes" in line
    assert (
        "the body shows the account id, the queue nami-smoke-ab12cd-github-http, the role" in line
    )
    assert "the sender got 500 after" in line and "accepted again (202)" in line


def test_a_refusal_that_shows_nothing_passes(aws: Aws, role: str) -> None:
    denied = measure(aws, role, playing_aws(aws, role, b'{"message":"Internal Server Error"}'))

    assert policies(aws, role) == []
    assert check_denied(denied) == []
    assert denied_shows(denied, HIDDEN) == []
    line = denied_report(denied, [], [])
    assert line.startswith("PASS http-denied github-http: ")
    assert "the sender got 500" in line and "reaches the sender: no" in line


def test_a_deny_that_never_shows_fails_and_is_removed(aws: Aws, role: str) -> None:
    denied = measure(aws, role, playing_aws(aws, role, None, delay=10**6))

    assert policies(aws, role) == []
    assert denied.refused is None
    (problem,) = check_denied(denied)
    assert "no probe was refused within 5 s of denying sqs:SendMessage" in problem
    assert denied_report(denied, [problem], []).startswith("FAIL http-denied github-http: no probe")


def test_the_deny_is_removed_when_sending_fails(aws: Aws, role: str) -> None:
    def broken(url: str, probe: Probe) -> Answer:
        assert policies(aws, role) == [aws_smoke.DENY_POLICY]  # attached while probing
        raise RuntimeError("the sender broke")

    with pytest.raises(RuntimeError, match="the sender broke"):
        measure(aws, role, broken)
    assert policies(aws, role) == []


def test_the_deny_is_removed_when_the_put_times_out_after_iam_stored_it(
    aws: Aws, role: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """IAM stored the policy, then the answer was lost: the step must still remove it."""
    real_client = aws.client

    class LostAnswer:
        def __init__(self, client: Any) -> None:
            self._client = client

        def put_role_policy(self, **kwargs: Any) -> None:
            self._client.put_role_policy(**kwargs)
            raise botocore.exceptions.ReadTimeoutError(endpoint_url="https://iam.amazonaws.com")

        def __getattr__(self, name: str) -> Any:
            return getattr(self._client, name)

    def client(service: str) -> Any:
        made = real_client(service)
        return LostAnswer(made) if service == "iam" else made

    monkeypatch.setattr(aws, "client", client)
    with pytest.raises(botocore.exceptions.ReadTimeoutError):
        measure(aws, role, playing_aws(aws, role, None))
    assert policies(aws, role) == []
