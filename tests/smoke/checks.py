"""The AWS smoke check's verdicts: what the sender got and what the handler saw, per probe.

Pure: the run collects Answers (HTTP) and Seen records (CloudWatch Logs lines written by
smoke_probe.py); these functions say what is wrong, in sentences, or nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .corpus import Probe
from .smoke_probe import MARKER, PROBE_HEADER


@dataclass(frozen=True)
class Answer:
    """What the endpoint answered to one probe."""

    probe: str
    status: int
    body: bytes


@dataclass(frozen=True)
class Seen:
    """What the handler saw of one delivery (a webhook may be delivered more than once)."""

    probe: str
    id: str
    sha256: str
    length: int
    content_type: str | None


def parse_seen(messages: Iterable[str]) -> list[Seen]:
    """Seen records from CloudWatch Logs messages; other lines (the runtime's) are skipped."""
    found = []
    for message in messages:
        try:
            line = json.loads(message)
        except ValueError:
            continue
        record = line.get(MARKER) if isinstance(line, dict) else None
        if isinstance(record, dict) and isinstance(record.get("probe"), str):
            found.append(
                Seen(
                    probe=record["probe"],
                    id=str(record.get("id")),
                    sha256=str(record.get("sha256")),
                    length=int(record.get("length") or 0),
                    content_type=record.get("contentType"),
                )
            )
    return found


@dataclass(frozen=True)
class DeadLetter:
    """A webhook found in a dead-letter queue, with the outcome the runtime gave it."""

    probe: str | None
    outcome: str | None


OUTCOME_ATTRIBUTE = "nami-outcome"


def parse_dead_letters(messages: Iterable[dict[str, Any]]) -> list[DeadLetter]:
    """DeadLetters from SQS ReceiveMessage results (MessageAttributeNames=["All"]): the probe
    from the envelope's headers, the outcome from the runtime's message attribute."""
    found = []
    for message in messages:
        try:
            headers = json.loads(message["Body"]).get("headers") or {}
        except (KeyError, ValueError, AttributeError):
            headers = {}
        probe = next((v for k, v in headers.items() if k.lower() == PROBE_HEADER.lower()), None)
        attribute = (message.get("MessageAttributes") or {}).get(OUTCOME_ATTRIBUTE) or {}
        found.append(DeadLetter(probe, attribute.get("StringValue")))
    return found


def check_dead_letters(corpus: list[Probe], dead: list[DeadLetter]) -> list[str]:
    problems = []
    for probe in corpus:
        if probe.dead_letter is None:
            continue
        mine = [d for d in dead if d.probe == probe.name]
        if not mine:
            problems.append(f"{probe.name}: not in the dead-letter queue")
        elif any(d.outcome != probe.dead_letter for d in mine):
            problems.append(
                f"{probe.name}: in the dead-letter queue as {mine[0].outcome!r}, "
                f"expected {probe.dead_letter!r}"
            )
    return problems


def waiting_for(corpus: list[Probe], seen: list[Seen]) -> set[str]:
    """Probes the handler must see and has not seen yet."""
    got = {s.probe for s in seen}
    return {p.name for p in corpus if p.handled and p.name not in got}


def _json_body(answer: Answer) -> dict[str, Any] | None:
    try:
        body = json.loads(answer.body)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def refused(probe: Probe, answer: Answer | None) -> bool:
    """An `either` probe the endpoint refused: then it must never be handled."""
    return probe.either and answer is not None and not 200 <= answer.status < 300


def leaks(probe: Probe, answer: Answer, hidden: dict[str, str]) -> list[str]:
    """What a refusal shows the sender that it must not (the account id, the queue's name)."""
    if 200 <= answer.status < 300:
        return []
    text = answer.body.decode("utf-8", "replace")
    return [
        f"{probe.name}: the {answer.status} answer shows {what}"
        for what, word in hidden.items()
        if word and word in text
    ]


def check_answer(probe: Probe, answer: Answer | None) -> list[str]:
    if answer is None:
        return [f"{probe.name}: no answer"]
    if refused(probe, answer) and answer.status != 0:
        return []
    if answer.status != probe.status:
        return [f"{probe.name}: the sender got {answer.status}, expected {probe.status}"]
    body = _json_body(answer)
    if probe.status == 415 or probe.ingress == "http":
        return []  # API Gateway's own answer (an HTTP API passes SQS's answer on), not ours
    if body is None:
        return [f"{probe.name}: the answer is not a JSON object: {answer.body[:80]!r}"]
    problems = []
    if not isinstance(body.get("id"), str) or not body["id"]:
        problems.append(f"{probe.name}: the answer carries no id")
    if probe.status == 413 and body.get("error") != "too_large":
        problems.append(f"{probe.name}: a 413 without error too_large: {body}")
    if probe.status == 202 and set(body) != {"id"}:
        problems.append(f"{probe.name}: the 202 answer is not the static {{id}}: {body}")
    return problems


def check_seen(probe: Probe, answer: Answer | None, seen: list[Seen]) -> list[str]:
    mine = [s for s in seen if s.probe == probe.name]
    if not probe.handled or refused(probe, answer):
        return [f"{probe.name}: the handler saw it, but it must not"] if mine else []
    if not mine:
        return [f"{probe.name}: the handler never saw it"]
    problems = []
    digest = hashlib.sha256(probe.body).hexdigest()
    if any(s.sha256 != digest or s.length != len(probe.body) for s in mine):
        problems.append(f"{probe.name}: the handler saw other bytes than were sent")
    # `ingress: http` carries no Content-Type (compile/ingress_http.py): the handler sees none.
    sent_type = None if probe.ingress == "http" else probe.content_type
    if any(s.content_type != sent_type for s in mine):
        problems.append(
            f"{probe.name}: the handler saw Content-Type {mine[0].content_type!r}, "
            f"expected {sent_type!r}"
        )
    body = _json_body(answer) if answer and probe.ingress != "http" else None
    if body and any(s.id != body.get("id") for s in mine):
        problems.append(f"{probe.name}: the envelope id is not the id the sender was given")
    return problems


def check(
    corpus: list[Probe],
    answers: dict[str, Answer],
    seen: list[Seen],
    dead: list[DeadLetter] | None = None,
    hidden: dict[str, str] | None = None,
) -> list[str]:
    """Every problem found; an empty list means the release check passed. `dead`: what the
    dead-letter queues held (None: not looked at); `hidden`: what no refusal may show the
    sender (what it is -> the text, e.g. {"the account id": "123456789012"})."""
    problems: list[str] = [] if dead is None else check_dead_letters(corpus, dead)
    for probe in corpus:
        answer = answers.get(probe.name)
        problems += check_answer(probe, answer)
        problems += check_seen(probe, answer, seen)
        problems += leaks(probe, answer, hidden or {}) if answer else []
    ids = Counter(
        str(body["id"])
        for answer in answers.values()
        if answer.status == 202 and (body := _json_body(answer)) and "id" in body
    )
    problems += [f"two webhooks were given the same id {i}" for i, n in ids.items() if n > 1]
    return problems


# --------------------------------------------------------------------------- access denied

DENIED_STEP = "http-denied"
# Words of SQS's own refusal (its error code and message), as the HTTP API passes it on:
# `<Code>AccessDenied</Code>` / "... is not authorized to perform: sqs:sendmessage ...".
SQS_DENIED_WORDS = ("AccessDenied", "not authorized to perform")
REFUSED_STATUS = 500  # compile/ingress_http.py maps SQS's 403 to it: the sender retries


@dataclass(frozen=True)
class DeniedSend:
    """What an `ingress: http` endpoint answered while its integration role was denied
    sqs:SendMessage, and once the deny was removed."""

    pipeline: str
    role: str = ""  # the HttpApiRole's name, which a refusal must not show either
    refused: Answer | None = None  # the first non-2xx answer; None: none within the bound
    refused_after: float = 0.0  # seconds from attaching the deny
    recovered: Answer | None = None  # the first 2xx once the deny was removed
    recovered_after: float = 0.0  # seconds from removing the deny
    bound: float = 0.0  # how long each wait was allowed
    error: str = ""  # why it was not measured

    @property
    def shows_sqs_text(self) -> bool:
        """The open question: does SQS's access-denied text reach the sender?"""
        text = self.refused.body.decode("utf-8", "replace") if self.refused else ""
        return any(word in text for word in SQS_DENIED_WORDS)


def check_denied(denied: DeniedSend) -> list[str]:
    """Every problem of the access-denied step: not measured, a refusal the sender would not
    retry, no recovery. What the refusal shows is measured, not a problem (`denied_shows`):
    the manual and every plan of an `http` pipeline say SQS's text reaches the sender, and a
    step that fails on a documented limitation would keep the whole run red."""
    where = f"{DENIED_STEP} {denied.pipeline}"
    if denied.error:
        return [f"{where}: not measured: {denied.error}"]
    problems = []
    refused = denied.refused
    if refused is None:
        problems.append(
            f"{where}: no probe was refused within {denied.bound:.0f} s of denying "
            "sqs:SendMessage to its role (IAM did not propagate the deny?)"
        )
    else:
        if refused.status != REFUSED_STATUS:
            problems.append(
                f"{where}: the sender got {refused.status} while SQS refused, expected "
                f"{REFUSED_STATUS} (a status the sender retries)"
            )
    if denied.recovered is None:
        problems.append(
            f"{where}: no probe was accepted within {denied.bound:.0f} s of removing the deny"
        )
    return problems


def denied_shows(denied: DeniedSend, hidden: dict[str, str]) -> list[str]:
    """What of the account id, the queue and the role the refused answer shows its sender."""
    if denied.refused is None:
        return []
    shown = {**hidden, "the role": denied.role}
    body = denied.refused.body.decode("utf-8", "replace")
    return [what for what, word in shown.items() if word and word in body]


def denied_report(denied: DeniedSend, problems: list[str], shows: list[str]) -> str:
    """The step's one line: PASS or FAIL, with what was measured."""
    verdict = "FAIL" if problems else "PASS"
    if denied.error or denied.refused is None:
        return f"{verdict} {'; '.join(problems)}"
    measured = (
        f"with sqs:SendMessage denied to its role the sender got {denied.refused.status} after "
        f"{denied.refused_after:.0f} s ({len(denied.refused.body)} bytes); SQS's "
        f"access-denied text reaches the sender: {'yes' if denied.shows_sqs_text else 'no'}"
    )
    if denied.recovered is not None:
        measured += (
            f"; accepted again ({denied.recovered.status}) {denied.recovered_after:.0f} s "
            "after the deny was removed"
        )
    measured += (
        f"; the body shows {', '.join(shows)} (documented for ingress: http)"
        if shows
        else "; the body shows none of the account id, the queue, the role"
    )
    if not problems:
        return f"PASS {DENIED_STEP} {denied.pipeline}: {measured}"
    return f"FAIL {'; '.join(problems)} ({measured})"
