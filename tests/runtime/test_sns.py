"""`verify.scheme: sns`: SNS's RSA signatures (SignatureVersion 1 and 2) checked by the stdlib
runtime against a key and certificate made here with `cryptography`, the certificate served by
a real HTTP server on 127.0.0.1 (the host check is the one seam replaced), and the TopicArn
allow-list deciding what is stored and which subscriptions are confirmed."""

from __future__ import annotations

import base64
import datetime
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from nami_action.runtime.ingest import Ingest, sqs_sender
from nami_action.runtime.sns import Certificates, rsa_key, sns_certificate_url
from nami_action.runtime.verify import VerifySettings, verify
from nami_action.runtime.webhook import decode_envelope

from .test_ingest import event, queue, stored  # noqa: F401  (queue is a fixture)

TOPIC = "arn:aws:sns:eu-west-1:123456789012:orders"
OTHER_TOPIC = "arn:aws:sns:eu-west-1:123456789012:someone-else"
NOW = 1_700_000_000


@pytest.fixture(scope="module")
def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def certificate(private_key: rsa.RSAPrivateKey) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(7)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=365))
        .sign(private_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


class CertServer:
    """Serves the certificate at /cert.pem on 127.0.0.1 and counts the fetches."""

    def __init__(self, pem: bytes) -> None:
        self.hits = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.hits += 1
                found = self.path == "/cert.pem"
                self.send_response(200 if found else 404)
                self.end_headers()
                self.wfile.write(pem if found else b"")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/cert.pem"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def cert_server(certificate: bytes) -> Iterator[CertServer]:
    server = CertServer(certificate)
    yield server
    server.close()


def store_for(server: CertServer) -> Certificates:
    # The one seam: SNS's own host is replaced by this server (the fetch is real).
    return Certificates(allowed=lambda url: url == server.url)


def signed(key: rsa.RSAPrivateKey, message: dict[str, str], version: str) -> dict[str, str]:
    """Signed as SNS documents it, written out here independently of nami's code."""
    if message["Type"] == "Notification":
        names = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
    else:
        names = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    text = "".join(f"{n}\n{message[n]}\n" for n in names if n in message)
    digest = hashes.SHA1() if version == "1" else hashes.SHA256()  # SNS's version 1 is SHA1
    signature = key.sign(text.encode(), padding.PKCS1v15(), digest)
    return {
        **message,
        "SignatureVersion": version,
        "Signature": base64.b64encode(signature).decode(),
    }


def notification(server: CertServer, topic: str = TOPIC, **extra: str) -> dict[str, str]:
    return {
        "Type": "Notification",
        "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        "TopicArn": topic,
        "Message": '{"order":"o-1","note":"caf\u00e9"}',
        "Timestamp": "2026-03-01T12:00:00.000Z",
        "SigningCertURL": server.url,
        **extra,
    }


def confirmation(server: CertServer, topic: str = TOPIC) -> dict[str, str]:
    return {
        "Type": "SubscriptionConfirmation",
        "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
        "Token": "2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92768dd60a7",
        "TopicArn": topic,
        "Message": f"You have chosen to subscribe to the topic {topic}.",
        "SubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription"
        "&TopicArn=" + topic + "&Token=2336412f37fb",
        "Timestamp": "2026-03-01T12:00:00.000Z",
        "SigningCertURL": server.url,
    }


def settings(server: CertServer, topics: tuple[str, ...] = (TOPIC,)) -> VerifySettings:
    return VerifySettings("sns", topics=topics, certificates=store_for(server))


def check(server: CertServer, message: dict[str, str], **kw: Any) -> tuple[bool, str]:
    result = verify(settings(server, **kw), {}, json.dumps(message).encode(), NOW)
    return result.ok, result.reason


@pytest.mark.parametrize("version", ["1", "2"])
@pytest.mark.parametrize("subject", [None, "Order o-1"])
def test_a_signed_notification_verifies(
    cert_server: CertServer, private_key: rsa.RSAPrivateKey, version: str, subject: str | None
) -> None:
    extra = {"Subject": subject} if subject else {}
    assert check(cert_server, signed(private_key, notification(cert_server, **extra), version)) == (
        True,
        "",
    )


@pytest.mark.parametrize("version", ["1", "2"])
def test_a_changed_message_does_not(
    cert_server: CertServer, private_key: rsa.RSAPrivateKey, version: str
) -> None:
    message = signed(private_key, notification(cert_server), version)
    for field, value in [("Message", '{"order":"o-2"}'), ("Timestamp", "2026-03-02T00:00:00Z")]:
        assert check(cert_server, {**message, field: value}) == (False, "signature mismatch")
    other = "1" if version == "2" else "2"  # a v1 signature is no v2 signature
    assert check(cert_server, {**message, "SignatureVersion": other}) == (
        False,
        "signature mismatch",
    )
    assert check(cert_server, {**message, "Signature": base64.b64encode(b"\0" * 256).decode()})[
        1
    ] == ("signature mismatch")


def test_another_key_does_not(cert_server: CertServer) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert check(cert_server, signed(stranger, notification(cert_server), "2")) == (
        False,
        "signature mismatch",
    )


def test_a_topic_not_listed_is_refused_before_anything_is_fetched(
    cert_server: CertServer, private_key: rsa.RSAPrivateKey
) -> None:
    message = signed(private_key, notification(cert_server, topic=OTHER_TOPIC), "2")
    assert check(cert_server, message) == (False, "TopicArn is not in verify.topics")
    assert cert_server.hits == 0
    assert check(cert_server, message, topics=(TOPIC, OTHER_TOPIC))[0]
    assert cert_server.hits == 1


def test_the_certificate_is_fetched_once_per_container(
    cert_server: CertServer, private_key: rsa.RSAPrivateKey
) -> None:
    store = settings(cert_server)
    for _ in range(3):
        body = json.dumps(signed(private_key, notification(cert_server), "2")).encode()
        assert verify(store, {}, body, NOW).ok
    assert cert_server.hits == 1


@pytest.mark.parametrize(
    "change",
    [
        {"SignatureVersion": "3"},
        {"Type": "Something"},
        {"Signature": "not base64!"},
        {"SigningCertURL": "https://evil.example/cert.pem"},
    ],
)
def test_malformed_messages_are_refused(
    cert_server: CertServer, private_key: rsa.RSAPrivateKey, change: dict[str, str]
) -> None:
    message = {**signed(private_key, notification(cert_server), "2"), **change}
    assert not check(cert_server, message)[0]
    for body in (b"not json", b"[1]"):
        assert not verify(settings(cert_server), {}, body, NOW).ok


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-6209c161c6.pem", True),
        ("https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-1.pem", True),
        ("http://sns.eu-west-1.amazonaws.com/SimpleNotificationService-1.pem", False),
        ("https://sns.eu-west-1.amazonaws.com.evil.example/SimpleNotificationService-1.pem", False),
        ("https://sns.eu-west-1.amazonaws.com:8443/SimpleNotificationService-1.pem", False),
        ("https://sns.eu-west-1.amazonaws.com/?Action=GetCert", False),
        ("https://s3.amazonaws.com/sns.eu-west-1.amazonaws.com/cert.pem", False),
        ("https://127.0.0.1/cert.pem", False),
    ],
)
def test_only_sns_hosts_serve_certificates(url: str, allowed: bool) -> None:
    assert sns_certificate_url(url) is allowed


def test_the_key_read_from_the_certificate_is_the_key(
    certificate: bytes, private_key: rsa.RSAPrivateKey
) -> None:
    numbers = private_key.public_key().public_numbers()
    assert rsa_key(certificate) == (numbers.n, numbers.e)


# --- the ingest function: stored, confirmed, or refused ----------------------------------


def ingest_for(server: CertServer, queue_url: str, fetched: list[str]) -> Ingest:
    return Ingest(settings(server), sqs_sender(queue_url, False), 1_048_576, fetched.append)


def sns_event(message: dict[str, str]) -> dict[str, Any]:
    headers = {"x-amz-sns-message-type": message["Type"], "content-type": "text/plain"}
    return event(json.dumps(message).encode(), headers)


def test_a_subscription_is_confirmed_only_for_a_listed_topic_with_a_good_signature(
    cert_server: CertServer,
    private_key: rsa.RSAPrivateKey,
    queue: str,  # noqa: F811
) -> None:
    fetched: list[str] = []
    ingest_fn = ingest_for(cert_server, queue, fetched)
    good = signed(private_key, confirmation(cert_server), "1")
    assert ingest_fn(sns_event(good)).status == 200
    assert fetched == [good["SubscribeURL"]]

    other = signed(private_key, confirmation(cert_server, topic=OTHER_TOPIC), "2")
    forged = {**signed(private_key, confirmation(cert_server), "2"), "Token": "attacker"}
    for refused in (other, forged):
        answer = ingest_fn(sns_event(refused))
        assert answer.status == 401, answer.body
    assert fetched == [good["SubscribeURL"]]
    assert stored(queue) == []


def test_notifications_are_stored_only_when_they_verify(
    cert_server: CertServer,
    private_key: rsa.RSAPrivateKey,
    queue: str,  # noqa: F811
) -> None:
    ingest_fn = ingest_for(cert_server, queue, [])
    good = signed(private_key, notification(cert_server), "2")
    assert ingest_fn(sns_event(good)).status == 202
    forged = {**good, "Message": "pay attacker"}
    assert ingest_fn(sns_event(forged)).status == 401
    (text,) = stored(queue)
    assert json.loads(decode_envelope(text).body)["Message"] == good["Message"]


def test_the_config_takes_sns_with_topics_and_the_runtime_reads_them(tmp_path: Path) -> None:
    from nami_action.compile import CodeLocation, compile_config
    from nami_action.config import load_config
    from nami_action.runtime.config import parse_config

    (tmp_path / "consumer").mkdir()
    (tmp_path / "consumer" / "handler.py").write_text("def handle(webhook):\n    pass\n")
    (tmp_path / "nami.yaml").write_text(
        "version: 1\nproject: acme\nregion: eu-west-1\n"
        "artifacts: {bucket: acme-artifacts}\npipelines:\n"
        f"  orders:\n    ingress: function-url\n    verify: {{scheme: sns, topics: [{TOPIC}]}}\n"
        "    consumer: {code: consumer}\n"
    )
    config = load_config(tmp_path / "nami.yaml")
    code = CodeLocation("acme-artifacts", "nami/artifacts/" + "0" * 64 + ".zip")
    (template,) = compile_config(config, dict.fromkeys(config.pipelines, code)).values()
    resources = json.loads(template)["Resources"]
    for function in ("Consumer", "IngestFunction"):
        variables = resources[function]["Properties"]["Environment"]["Variables"]
        runtime = parse_config(json.loads(variables["NAMI_CONFIG"]))
        assert runtime.verify is not None
        assert (runtime.verify.scheme, runtime.verify.topics) == ("sns", (TOPIC,))
