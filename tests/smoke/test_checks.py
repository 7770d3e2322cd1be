"""The smoke check's verdicts, on answers and handler logs built the way a run builds them:
the probe handler runs on real envelopes and its printed lines are parsed back."""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import replace

import pytest

from nami_action.envelope import IncomingRequest, encode_envelope
from nami_action.runtime.verify import VerifySettings
from nami_action.runtime.webhook import decode_envelope

from . import smoke_probe
from .checks import (
    Answer,
    DeadLetter,
    DeniedSend,
    Seen,
    check,
    check_denied,
    denied_report,
    parse_dead_letters,
    parse_seen,
    waiting_for,
)
from .corpus import Probe, Target, build_corpus

RUN = "nami-smoke-0f0f0f"
TARGETS = [
    Target("github", VerifySettings("github", secret="s3cret")),
    Target("orders", VerifySettings("hmac-sha256", secret="k", header="X-Signature"), fifo=True),
    Target("github-http", VerifySettings("github", secret="s3cret"), ingress="http"),
]
CORPUS = build_corpus(TARGETS, RUN, 1_760_000_000.0)


def extended_id(probe: Probe) -> str:
    return "ext-" + probe.name  # API Gateway's own id: distinct per request


def answer_of(probe: Probe) -> Answer:
    body: dict[str, str] = {"id": extended_id(probe)}
    if probe.status == 413:
        body["error"] = "too_large"
    return Answer(probe.name, probe.status, json.dumps(body).encode())


def handler_output(probe: Probe) -> str:
    """What smoke_probe.handle prints for the webhook the runtime decodes from the envelope."""
    envelope = encode_envelope(
        IncomingRequest(
            method="POST",
            path="/live/x",
            headers=probe.headers,
            body=probe.body,
            request_id=extended_id(probe),
            received_at_ms=1,
        )
    )
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        smoke_probe.handle(decode_envelope(envelope))
    return out.getvalue().strip()


def a_good_run() -> tuple[dict[str, Answer], list[Seen]]:
    answers = {p.name: answer_of(p) for p in CORPUS}
    lines = [handler_output(p) for p in CORPUS if p.handled]
    lines += ['{"pipeline":"github","outcome":"handled"}', "START RequestId: 1", "not json {"]
    return answers, parse_seen(lines)


def test_a_good_run_passes() -> None:
    answers, seen = a_good_run()
    assert len(seen) == sum(p.handled for p in CORPUS)
    assert waiting_for(CORPUS, seen) == set()
    assert check(CORPUS, answers, seen) == []


def test_a_redelivery_that_saw_the_same_bytes_is_fine() -> None:
    answers, seen = a_good_run()
    assert check(CORPUS, answers, seen + seen[:3]) == []


def named(suffix: str) -> Probe:
    return next(p for p in CORPUS if p.name == f"{RUN}-{suffix}")


@pytest.mark.parametrize(
    ("suffix", "change", "problem"),
    [
        ("800KiB", lambda a: replace(a, status=500), "got 500, expected 413"),
        ("800KiB", lambda a: replace(a, body=b'{"id":"x","error":"not_stored"}'), "too_large"),
        ("json-charset", lambda a: replace(a, status=503), "got 503, expected 202"),
        ("binary", lambda a: replace(a, body=b'{"id":"x","messageId":"m"}'), "static"),
        ("binary", lambda a: replace(a, body=b"eyJpZCI6IngifQ=="), "not a JSON object"),
        (
            "dup-2",
            lambda a: replace(a, body=json.dumps({"id": "ext-" + a.probe[:-1] + "1"}).encode()),
            "same id",
        ),
    ],
)
def test_a_wrong_answer_is_a_problem(suffix: str, change: object, problem: str) -> None:
    answers, seen = a_good_run()
    name = named(suffix).name
    answers[name] = change(answers[name])  # type: ignore[operator]
    problems = check(CORPUS, answers, seen)
    assert any(problem in p for p in problems), problems


def test_what_the_handler_saw_is_checked() -> None:
    answers, seen = a_good_run()
    dropped = [s for s in seen if s.probe != named("no-group").name]
    assert waiting_for(CORPUS, dropped) == {named("no-group").name}
    assert any("never saw it" in p for p in check(CORPUS, answers, dropped))

    forged = named("bad-signature")
    leaked = [*seen, Seen(forged.name, "ext", "0", 0, "application/json")]
    assert any("must not" in p for p in check(CORPUS, answers, leaked))

    multipart = named("multipart").name
    altered = [replace(s, sha256="0" * 64) if s.probe == multipart else s for s in seen]
    assert any("other bytes" in p for p in check(CORPUS, answers, altered))

    retyped = [
        replace(s, content_type="multipart/form-data") if s.probe == multipart else s for s in seen
    ]
    assert any("Content-Type" in p for p in check(CORPUS, answers, retyped))

    renamed = [replace(s, id="client-chosen") if s.probe == multipart else s for s in seen]
    assert any("envelope id" in p for p in check(CORPUS, answers, renamed))


def test_a_missing_answer_is_a_problem() -> None:
    answers, seen = a_good_run()
    del answers[named("image").name]
    assert f"{named('image').name}: no answer" in check(CORPUS, answers, seen)


def sqs_message(probe: Probe | None, outcome: str | None) -> dict[str, object]:
    """A ReceiveMessage result as boto3 gives it: the envelope body, the runtime's attribute."""
    headers = probe.headers if probe else {}
    body = encode_envelope(IncomingRequest(method="POST", path="/x", headers=headers, body=b"{}"))
    message: dict[str, object] = {"MessageId": "m", "Body": body}
    if outcome is not None:
        message["MessageAttributes"] = {
            "nami-outcome": {"StringValue": outcome, "DataType": "String"},
            "nami-reason": {"StringValue": "signature mismatch", "DataType": "String"},
        }
    return message


def test_the_forged_webhook_must_be_in_the_dlq_as_rejected() -> None:
    answers, seen = a_good_run()
    forged = named("bad-signature")
    other = named("binary")
    good = parse_dead_letters([sqs_message(forged, "rejected"), sqs_message(other, "failed")])
    assert good == [DeadLetter(forged.name, "rejected"), DeadLetter(other.name, "failed")]
    assert check(CORPUS, answers, seen, good) == []

    missing = parse_dead_letters([sqs_message(other, "failed"), {"Body": "not json"}])
    assert f"{forged.name}: not in the dead-letter queue" in check(CORPUS, answers, seen, missing)

    unlabelled = parse_dead_letters([sqs_message(forged, None)])
    assert any("as None" in p for p in check(CORPUS, answers, seen, unlabelled))


def test_an_http_refusal_must_not_show_the_account_or_the_queue() -> None:
    """An HTTP API passes SQS's error text on: the run says so when it names the account."""
    answers, seen = a_good_run()
    hidden = {"the account id": "123456789012", "the queue's name": RUN + "-github-http"}
    assert check(CORPUS, answers, seen, hidden=hidden) == []
    big = named("http-2MiB").name
    answers[big] = replace(
        answers[big],
        body=b'{"__type":"AccessDenied","message":"User: arn:aws:sts::123456789012:assumed-role'
        + RUN.encode()
        + b'-github-http-HttpApiRole/x is not authorized to perform: sqs:sendmessage"}',
    )
    problems = check(CORPUS, answers, seen, hidden=hidden)
    assert f"{big}: the 500 answer shows the account id" in problems
    assert f"{big}: the 500 answer shows the queue's name" in problems


def test_a_binary_body_may_be_refused_but_never_acknowledged_and_changed() -> None:
    answers, seen = a_good_run()
    binary = named("http-binary").name
    refused = {**answers, binary: replace(answers[binary], status=500, body=b"no")}
    unseen = [s for s in seen if s.probe != binary]
    assert check(CORPUS, refused, unseen) == []
    assert any("must not" in p for p in check(CORPUS, refused, seen))
    altered = [replace(s, sha256="0" * 64) if s.probe == binary else s for s in seen]
    assert any("other bytes" in p for p in check(CORPUS, answers, altered))
    assert any("never saw it" in p for p in check(CORPUS, answers, unseen))


def test_the_http_cases_are_in_the_corpus() -> None:
    by_name = {p.name.removeprefix(RUN + "-"): p for p in CORPUS if p.ingress == "http"}
    assert set(by_name) == {
        "http-json",
        "http-missing-header",
        "http-multi-line",
        "http-binary",
        "http-2MiB",
    }
    assert "X-GitHub-Event" not in by_name["http-missing-header"].headers
    assert all("X-GitHub-Event" in p.headers for n, p in by_name.items() if "missing" not in n)
    assert b"\n\n" in by_name["http-multi-line"].body and b"\r\n" in by_name["http-multi-line"].body
    with pytest.raises(UnicodeDecodeError):
        by_name["http-binary"].body.decode("utf-8")
    assert len(by_name["http-2MiB"].body) == 2 * 1024 * 1024
    assert (by_name["http-2MiB"].status, by_name["http-2MiB"].handled) == (500, False)


def test_the_access_denied_step_wants_a_retried_status_and_a_recovery() -> None:
    passed_on = DeniedSend(
        "github-http",
        role="r-1",
        refused=Answer("p", 403, b"<Code>AccessDenied</Code>"),
        refused_after=9,
        bound=300,
    )
    problems = check_denied(passed_on)
    assert problems == [
        "http-denied github-http: the sender got 403 while SQS refused, expected 500 "
        "(a status the sender retries)",
        "http-denied github-http: no probe was accepted within 300 s of removing the deny",
    ]
    assert passed_on.shows_sqs_text
    assert "reaches the sender: yes" in denied_report(passed_on, problems, [])
    unmeasured = DeniedSend("github-http", error="deploy gave no endpoint for this pipeline")
    (problem,) = check_denied(unmeasured)
    assert denied_report(unmeasured, [problem], []) == (
        "FAIL http-denied github-http: not measured: deploy gave no endpoint for this pipeline"
    )
