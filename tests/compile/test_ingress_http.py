"""`ingress: http`: the HTTP API template (cfn-lint clean, least privilege, throttled, 5xx on
refusal) and its parameter mapping, filled in the way API Gateway fills it, decoded by the
runtime and verified by the runtime's own verify() for every scheme."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import svix

from nami_action.compile import CodeLocation, compile_config
from nami_action.compile.ingress_http import (
    INTEGRATION,
    ROLE,
    SCHEME_HEADERS,
    STAGE,
    message_body,
)
from nami_action.config import load_config
from nami_action.config.rules import throttle_limits
from nami_action.runtime import Headers, VerifySettings, verify
from nami_action.runtime.webhook import MalformedEnvelope, decode_envelope
from tests.cfn_lint import assert_templates_lint_clean

CODE = CodeLocation("artifacts-bucket", "nami/artifacts/" + "0" * 64 + ".zip")
SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()  # valid for every scheme
NOW = 1_700_000_000
CONFIG = """\
version: 1
project: acme
region: eu-west-1
artifacts: {bucket: acme-artifacts}
defaults:
  ingress: http
pipelines:
  github:
    verify: {scheme: github, secret: ssm:/acme/github}
    dedupe: {header: X-GitHub-Delivery}
    consumer: {code: consumer}
  stripe:
    verify: {scheme: stripe, secret: ssm:/acme/stripe}
    queue: {fifo: true}
    throttle: {rate: 20, burst: 40}
    consumer: {code: consumer, batch_size: 10}
  slack:
    verify: {scheme: slack, secret: ssm:/acme/slack}
    consumer: {code: consumer}
  shopify:
    verify: {scheme: shopify, secret: ssm:/acme/shopify}
    consumer: {code: consumer}
  std:
    verify: {scheme: standard-webhooks, secret: ssm:/acme/std}
    consumer: {code: consumer}
  clerk:
    verify: {scheme: svix, secret: ssm:/acme/clerk}
    consumer: {code: consumer}
  open:
    verify: {scheme: none}
    consumer: {code: consumer}
    ingress: rest
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("http")
    (folder / "consumer").mkdir()
    (folder / "consumer" / "handler.py").write_text("def handle(webhook):\n    pass\n")
    (folder / "nami.yaml").write_text(CONFIG)
    return folder / "nami.yaml"


@pytest.fixture(scope="module")
def templates(project: Path) -> dict[str, dict[str, Any]]:
    config = load_config(project)
    code = dict.fromkeys(config.pipelines, CODE)
    compiled = compile_config(config, code).items()
    return {name.removeprefix("acme-"): json.loads(text) for name, text in compiled}


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def test_http_templates_pass_cfn_lint(templates: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    assert_templates_lint_clean(templates, tmp_path)


def test_defaults_choose_the_kind_and_a_pipeline_overrides_it(
    templates: dict[str, dict[str, Any]],
) -> None:
    assert resources(templates["open"], "AWS::ApiGatewayV2::Api") == {}
    assert resources(templates["open"], "AWS::ApiGateway::RestApi")
    for name in ("github", "stripe", "slack", "shopify", "std", "clerk"):
        assert resources(templates[name], "AWS::ApiGateway::RestApi") == {}
        (api,) = resources(templates[name], "AWS::ApiGatewayV2::Api").values()
        assert api["Properties"]["ProtocolType"] == "HTTP"
        url = templates[name]["Outputs"]["EndpointUrl"]["Value"]["Fn::Sub"]
        assert url.startswith("https://${HttpApi}.execute-api.")


def test_integration_is_sqs_send_message_with_a_role_for_this_queue_only(
    templates: dict[str, dict[str, Any]],
) -> None:
    template = templates["stripe"]
    integration = template["Resources"][INTEGRATION]["Properties"]
    assert integration["IntegrationType"] == "AWS_PROXY"
    assert integration["IntegrationSubtype"] == "SQS-SendMessage"
    params = integration["RequestParameters"]
    assert params["QueueUrl"] == {"Ref": "Queue"}
    assert params["MessageBody"].startswith("nami-envelope 2\n")
    # FIFO: one group, and API Gateway's extended request id deduplicates: no client header
    # sets it (REST's requestId takes x-amzn-RequestId; the HTTP API's page does not say).
    assert params["MessageGroupId"] == "nami"
    assert params["MessageDeduplicationId"] == "${context.extendedRequestId}"
    assert "context.requestId" not in json.dumps(integration)
    assert (
        "MessageGroupId"
        not in templates["github"]["Resources"][INTEGRATION]["Properties"]["RequestParameters"]
    )
    policy = template["Resources"][ROLE]["Properties"]["Policies"][0]["PolicyDocument"]
    assert policy["Statement"] == [
        {
            "Action": ["sqs:SendMessage"],
            "Effect": "Allow",
            "Resource": [{"Fn::GetAtt": ["Queue", "Arn"]}],
        }
    ]


def test_sqs_refusals_answer_5xx_and_stored_answers_202(
    templates: dict[str, dict[str, Any]],
) -> None:
    answers = templates["github"]["Resources"][INTEGRATION]["Properties"]["ResponseParameters"]
    status = {
        code: {p["Destination"]: p["Source"] for p in value["ResponseParameters"]}
        for code, value in answers.items()
    }
    assert status["200"] == {"overwrite:statuscode": "202"}
    for code in ("400", "403", "404"):
        assert status[code] == {"overwrite:statuscode": "500"}


def test_an_sqs_refusal_has_no_key_to_name(templates: dict[str, dict[str, Any]]) -> None:
    """An HTTP API passes SQS's error text to the sender (response mapping cannot replace a
    body): both queues are SSE-SQS without a KMS key, so no KMS error (which names the key's
    ARN, the account with it) can be among them; the role may only send to this queue."""
    for template in templates.values():
        queues = resources(template, "AWS::SQS::Queue").values()
        assert len(queues) == 2
        for queue in queues:
            properties = queue["Properties"]
            assert properties["SqsManagedSseEnabled"] is True
            assert "KmsMasterKeyId" not in properties


def test_stage_throttles_from_the_throttle_settings(
    project: Path, templates: dict[str, dict[str, Any]]
) -> None:
    config = load_config(project)
    for name in ("github", "stripe"):
        stage = templates[name]["Resources"][STAGE]["Properties"]
        rate, burst = throttle_limits(config.pipelines[name].spec)
        assert stage["DefaultRouteSettings"]["ThrottlingRateLimit"] == rate
        assert stage["DefaultRouteSettings"]["ThrottlingBurstLimit"] == burst
        assert stage["AutoDeploy"] is True
    assert (
        templates["stripe"]["Resources"][STAGE]["Properties"]["DefaultRouteSettings"][
            "ThrottlingRateLimit"
        ]
        == 20.0
    )


# --- the parameter mapping, filled as API Gateway fills it -----------------------------------

REFERENCE = re.compile(r"\$\{(request\.header\.[A-Za-z0-9-]+|request\.body|context\.[A-Za-z.]+)\}")


def fill(mapping: str, headers: dict[str, str], body: str, context: dict[str, str]) -> str:
    """API Gateway's substitution: header names case-insensitive, several values of one header
    joined by commas, a missing header an empty value, $request.body verbatim."""
    lower = {name.lower(): value for name, value in headers.items()}

    def value(match: re.Match[str]) -> str:
        ref = match.group(1)
        if ref == "request.body":
            return body
        if ref.startswith("request.header."):
            return lower.get(ref.removeprefix("request.header.").lower(), "")
        return context[ref.removeprefix("context.")]

    return REFERENCE.sub(value, mapping)


CONTEXT = {
    "extendedRequestId": "Zp8vNhw3iAMEVfQ=",
    "requestTimeEpoch": str(NOW * 1000 + 123),
    "identity.sourceIp": "203.0.113.9",
    "httpMethod": "POST",
    "path": "/live/hooks/github",
}


def spec_of(project: Path, name: str) -> Any:
    return load_config(project).pipelines[name].spec


@pytest.mark.parametrize(
    "body",
    [
        '{"id":"evt_1","text":"caf\u00e9 \u2603 \U0001f600"}',
        "a=1&b=%20x&c=",
        'line one\n\nline "three" \\ after an empty line\r\n',
        "",
    ],
    ids=["json-non-ascii", "form", "text-with-blank-lines", "empty"],
)
def test_mapping_carries_a_text_body_byte_exact(project: Path, body: str) -> None:
    text = fill(
        message_body(spec_of(project, "github")),
        {"Content-Type": "application/json", "X-GitHub-Delivery": "d-1"},
        body,
        CONTEXT,
    )
    webhook = decode_envelope(text)
    assert webhook.body == body.encode("utf-8")
    assert webhook.id == CONTEXT["extendedRequestId"]
    assert webhook.received_at.timestamp() == NOW + 0.123
    assert webhook.raw["receivedAt"] == NOW * 1000 + 123
    assert (webhook.method, webhook.path, webhook.source_ip) == (
        "POST",
        "/live/hooks/github",
        "203.0.113.9",
    )
    assert webhook.headers["x-github-delivery"] == "d-1"
    assert webhook.query == {}


def test_headers_not_sent_are_absent_and_others_are_not_carried(project: Path) -> None:
    text = fill(
        message_body(spec_of(project, "github")),
        {
            "X-Hub-Signature-256": "sha256=ab",
            "Cookie": "not for the queue",
            "Content-Type": "application/json",
            "User-Agent": "GitHub-Hookshot/1",
        },
        "{}",
        CONTEXT,
    )
    headers = decode_envelope(text).headers
    assert dict(headers.items()) == {"x-hub-signature-256": "sha256=ab"}


@pytest.mark.parametrize(
    ("pipeline", "mapped"),
    [
        ("github", {"x-hub-signature-256", "x-github-event", "x-github-delivery"}),
        ("stripe", {"stripe-signature"}),
        ("slack", {"x-slack-signature", "x-slack-request-timestamp"}),
        ("std", {"webhook-id", "webhook-timestamp", "webhook-signature"}),
        ("clerk", {"svix-id", "svix-timestamp", "svix-signature"}),
    ],
)
def test_only_the_headers_the_scheme_needs_are_mapped(
    project: Path, pipeline: str, mapped: set[str]
) -> None:
    """What API Gateway does with a mapped header the request lacks is undocumented: map
    nothing a sender may leave out (no Content-Type, no User-Agent), only what its scheme's
    provider always sends (and the dedupe header the user chose)."""
    referenced = set(
        re.findall(r"\$\{request\.header\.([a-z0-9-]+)\}", message_body(spec_of(project, pipeline)))
    )
    assert referenced == mapped


def sign(scheme: str, body: bytes) -> dict[str, str]:
    """Each provider's documented headers, computed with hmac here (not nami's code)."""
    key = SECRET.encode()
    if scheme == "github":
        digest = hmac.new(key, body, hashlib.sha256).hexdigest()
        return {"X-Hub-Signature-256": f"sha256={digest}", "X-GitHub-Event": "push"}
    if scheme == "shopify":
        raw = hmac.new(key, body, hashlib.sha256).digest()
        return {"X-Shopify-Hmac-Sha256": base64.b64encode(raw).decode()}
    if scheme == "stripe":
        digest = hmac.new(key, f"{NOW}.".encode() + body, hashlib.sha256).hexdigest()
        return {"Stripe-Signature": f"t={NOW},v1={digest}"}
    if scheme == "slack":
        digest = hmac.new(key, f"v0:{NOW}:".encode() + body, hashlib.sha256).hexdigest()
        return {"X-Slack-Request-Timestamp": str(NOW), "X-Slack-Signature": f"v0={digest}"}
    std_key = base64.b64decode(SECRET.removeprefix("whsec_"))
    raw = hmac.new(std_key, f"msg_1.{NOW}.".encode() + body, hashlib.sha256).digest()
    return {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(NOW),
        "webhook-signature": "v1," + base64.b64encode(raw).decode(),
    }


@pytest.mark.parametrize(
    ("pipeline", "scheme"),
    [
        ("github", "github"),
        ("stripe", "stripe"),
        ("slack", "slack"),
        ("shopify", "shopify"),
        ("std", "standard-webhooks"),
    ],
)
def test_every_scheme_verifies_from_what_the_mapping_carries(
    project: Path, pipeline: str, scheme: str
) -> None:
    body = '{"id":"evt_1","name":"Zo\u00eb"}'
    headers = {**sign(scheme, body.encode()), "X-Noise": "dropped", "Content-Type": "text/plain"}
    webhook = decode_envelope(
        fill(message_body(spec_of(project, pipeline)), headers, body, CONTEXT)
    )
    result = verify(
        VerifySettings(scheme, SECRET),
        webhook.headers,
        webhook.body,
        webhook.received_at.timestamp(),
    )
    assert result.ok, result.reason
    tampered = verify(
        VerifySettings(scheme, SECRET),
        Headers(dict(webhook.headers.items())),
        webhook.body + b" ",
        webhook.received_at.timestamp(),
    )
    assert not tampered.ok


def test_a_svix_signed_request_verifies_through_the_svix_mapping(project: Path) -> None:
    """Clerk, Resend, ... sign with the svix library and send only svix-* headers: `scheme:
    svix` maps exactly those (no mapped header is ever missing), and the runtime verifies
    them. The standard-webhooks mapping would carry none of them."""
    body = '{"type":"user.created","data":{"id":"user_1","name":"Zo\u00eb"}}'
    signature = svix.Webhook(SECRET).sign("msg_2", datetime.fromtimestamp(NOW, tz=UTC), body)
    sent = {"svix-id": "msg_2", "svix-timestamp": str(NOW), "svix-signature": signature}
    headers = {**sent, "Content-Type": "application/json", "User-Agent": "Svix-Webhooks/1"}

    def carried(pipeline: str, scheme: str) -> tuple[dict[str, str], bool]:
        webhook = decode_envelope(
            fill(message_body(spec_of(project, pipeline)), headers, body, CONTEXT)
        )
        settings = VerifySettings(scheme, SECRET)
        result = verify(settings, webhook.headers, webhook.body, webhook.received_at.timestamp())
        return dict(webhook.headers.items()), result.ok

    assert carried("clerk", "svix") == (sent, True)
    assert carried("std", "standard-webhooks") == ({}, False)


def test_every_scheme_has_its_headers_listed() -> None:
    from nami_action.runtime.verify import SCHEMES

    # hmac-sha256 is refused with `http` (config/rules.py): its header is the user's choice
    # and its sender may sign binary bodies.
    assert set(SCHEMES) - {"hmac-sha256"} == set(SCHEME_HEADERS)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("nami-envelope 2\nid: x\n", "no empty line"),
        ("nami-envelope 2\nid: x\nreceivedAt: 1\n\n{}", "missing sourceIp"),
        (
            "nami-envelope 2\nid: x\nreceivedAt: soon\nsourceIp: a\nmethod: POST\npath: /\n\n",
            "integer epoch",
        ),
        ("nami-envelope 2\nid: x\nwho: me\n\n", "unknown field"),
    ],
)
def test_broken_v2_envelopes_are_malformed(text: str, reason: str) -> None:
    with pytest.raises(MalformedEnvelope, match=reason):
        decode_envelope(text)


def test_alarms_and_dashboard_read_the_http_api_metrics(
    templates: dict[str, dict[str, Any]],
) -> None:
    alarm = templates["github"]["Resources"]["Ingress5xxAlarm"]["Properties"]
    stats = [q["MetricStat"]["Metric"] for q in alarm["Metrics"] if "MetricStat" in q]
    assert [m["MetricName"] for m in stats] == ["5xx", "Count"]
    assert stats[0]["Dimensions"] == [
        {"Name": "ApiId", "Value": {"Ref": "HttpApi"}},
        {"Name": "Stage", "Value": "live"},
    ]
    body = templates["github"]["Resources"]["Dashboard"]["Properties"]["DashboardBody"]
    text = body["Fn::Sub"][0]
    assert '"ApiId","${HttpApi}","Stage","live"' in text
    assert '"4xx"' in text and "4XXError" not in text
    rest = templates["open"]["Resources"]["Ingress5xxAlarm"]["Properties"]["Metrics"][0]
    assert rest["MetricStat"]["Metric"]["MetricName"] == "5XXError"


def test_the_cli_reads_a_v2_envelope_back_as_it_reads_v1(project: Path) -> None:
    """`nami dlq peek` and `nami dev` read envelopes through nami_action.envelope."""
    from nami_action.envelope import decode_envelope as read_back

    body = "caf\u00e9"
    text = fill(message_body(spec_of(project, "std")), {"webhook-id": "m1"}, body, CONTEXT)
    request = read_back(text)
    assert request.body == body.encode()
    assert request.headers == {"webhook-id": "m1"}
    assert request.received_at_ms == NOW * 1000 + 123
    assert request.request_id == CONTEXT["extendedRequestId"]
