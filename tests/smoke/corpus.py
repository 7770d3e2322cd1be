"""What the AWS smoke check deploys and sends: pure, so it is unit-tested without AWS.

- smoke_config(): examples/nami.yaml made safe to deploy into any account: its own project
  name, its own secret references (created and deleted by the run), no alarm e-mails, the probe
  handler (smoke_probe.py) in every pipeline, and `queue.group_by` on the FIFO pipeline.
- build_corpus(): adversarial signed webhooks and the answer each must get, each marked with
  the X-Smoke-Probe header so what the handler saw can be matched to what was sent (and with
  X-GitHub-Delivery, the one header an `ingress: http` pipeline carries for GitHub).
- An `ingress: http` copy of the github pipeline (HTTP_PIPELINE) takes the cases AWS does not
  document for an HTTP API's parameter mapping: a mapped header the request lacks, the
  multi-line MessageBody mapping with a body full of line breaks, a binary body, and a 2 MiB
  body (over SQS's 1 MiB, under the HTTP API's 10 MB).
"""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ruamel.yaml import YAML

from nami_action.operate.signing import sign
from nami_action.runtime.verify import VerifySettings

from .smoke_probe import PROBE_HEADER

PROBE_MODULE = "smoke_probe"
PROBE_HANDLER = f"{PROBE_MODULE}.handle"
GROUP_HEADER = "X-Order-Id"
MIB = 1024 * 1024
# Room for the envelope's other fields (headers, ids, path) inside the queue's 1 MiB.
ENVELOPE_HEADROOM = 64 * 1024
# The `ingress: http` copy of the example's github pipeline that smoke_config adds.
HTTP_PIPELINE = "github-http"
HTTP_SOURCE = "github"


def base64_size(length: int) -> int:
    return 4 * ((length + 2) // 3)


def largest_storable_body(max_message_size: int = MIB) -> int:
    """A body whose base64 still leaves the envelope's headroom inside the message limit."""
    return (max_message_size - ENVELOPE_HEADROOM) // 4 * 3


# --------------------------------------------------------------------------- config


def _yaml() -> YAML:
    yaml = YAML()  # round-trip: comments and order stay as in the example
    yaml.width = 4096
    return yaml


def _references(node: Any) -> Iterator[tuple[Any, Any, str]]:
    """(container, key, value) for every secret reference in the document."""
    items = (
        node.items()
        if isinstance(node, Mapping)
        else enumerate(node)
        if isinstance(node, list)
        else []
    )
    for key, value in items:
        if isinstance(value, str) and value.startswith(("ssm:/", "secretsmanager:")):
            yield node, key, value
        else:
            yield from _references(value)


def smoke_reference(reference: str, project: str) -> str:
    kind, _, where = reference.partition(":")
    return f"ssm:/{project}{where}" if kind == "ssm" else f"secretsmanager:{project}/{where}"


def smoke_config(
    text: str, project: str, new_secret: Callable[[str], str]
) -> tuple[str, dict[str, str]]:
    """The example rewritten for the run `project`, and the secrets to create (reference ->
    value, from `new_secret(reference)`)."""
    yaml = _yaml()
    doc = yaml.load(text)
    doc["project"] = project
    doc.setdefault("defaults", {}).setdefault("alarms", {})["email"] = []
    secrets: dict[str, str] = {}
    for container, key, reference in list(_references(doc)):
        renamed = smoke_reference(reference, project)
        container[key] = renamed
        if renamed not in secrets:
            secrets[renamed] = new_secret(renamed)
    for pipeline in doc["pipelines"].values():
        pipeline.get("alarms", {}).pop("email", None)
        pipeline["consumer"]["handler"] = PROBE_HANDLER
        queue = pipeline.get("queue") or {}
        if queue.get("fifo"):
            queue["group_by"] = f"header:{GROUP_HEADER}"
    if HTTP_SOURCE in doc["pipelines"]:
        http = copy.deepcopy(doc["pipelines"][HTTP_SOURCE])
        http["ingress"] = "http"
        http["path"] = f"/{HTTP_PIPELINE}"
        doc["pipelines"][HTTP_PIPELINE] = http
    out = io.StringIO()
    yaml.dump(doc, out)
    return out.getvalue(), secrets


# --------------------------------------------------------------------------- corpus


@dataclass(frozen=True)
class Probe:
    """One request to send, and what must follow from it."""

    name: str
    pipeline: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 202  # what the sender must get
    handled: bool = True  # whether the handler must see it (byte-exact)
    dead_letter: str | None = None  # the nami-outcome it must carry in the DLQ, if it goes there
    ingress: str = "rest"  # the kind it is sent to: `http` answers with SQS's body, no {"id"}
    # Where AWS does not document the outcome: 202 with the exact bytes handled, or any
    # non-2xx and never handled; what must not happen is a 2xx for bytes that were changed.
    either: bool = False

    @property
    def content_type(self) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == "content-type"), None)


@dataclass(frozen=True)
class Target:
    """A deployed pipeline the corpus is sent to."""

    pipeline: str
    verify: VerifySettings
    fifo: bool = False
    ingress: str = "rest"


def _signed(
    target: Target, run: str, name: str, body: bytes, now: float, headers: dict[str, str]
) -> Probe:
    """A probe signed as its provider signs, with unique event ids where dedupe reads them."""
    probe = f"{run}-{name}"
    signed = {
        PROBE_HEADER: probe,
        "X-GitHub-Delivery": probe,  # the github pipeline dedupes on it
        **headers,
        **sign(target.verify, body, now, event_id=probe),
    }
    return Probe(probe, target.pipeline, body, signed)


def _json(probe: str, **extra: Any) -> bytes:
    # Stripe's pipeline dedupes on $.id: every body carries its own.
    return json.dumps({"id": probe, "object": "event", **extra}, ensure_ascii=False).encode()


def standard_probes(target: Target, run: str, now: float) -> list[Probe]:
    def make(name: str, body: bytes, **headers: str) -> Probe:
        return _signed(target, run, name, body, now, headers)

    big = largest_storable_body()
    probes = [
        make(
            "json-charset",
            _json(f"{run}-a", note="caf\u00e9"),
            **{"Content-Type": "application/json; charset=utf-8"},
        ),
        make("no-content-type", _json(f"{run}-b")),
        make(
            "multipart",
            b'------nami\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n------nami--\r\n',
            **{"Content-Type": "multipart/form-data; boundary=----nami"},
        ),
        make(
            "form-latin1",
            b"a=caf%E9&b=+x+",
            **{"Content-Type": "application/x-www-form-urlencoded; charset=ISO-8859-1"},
        ),
        make("binary", bytes(range(256)) * 64, **{"Content-Type": "application/octet-stream"}),
        make(
            "largest",
            bytes(range(256)) * (big // 256),
            **{"Content-Type": "application/octet-stream"},
        ),
    ]
    too_large = make(
        "800KiB", b"\x00" * (800 * 1024), **{"Content-Type": "application/octet-stream"}
    )
    unsupported = make("image", b"\x89PNG\r\n", **{"Content-Type": "image/png"})
    wrong_key = Target(target.pipeline, replace(target.verify, secret="not-the-secret"))
    forged = _signed(wrong_key, run, "bad-signature", _json(f"{run}-c"), now, {})
    return [
        *probes,
        replace(too_large, status=413, handled=False),
        replace(unsupported, status=415, handled=False),
        # Stored (the endpoint cannot verify), then rejected into the DLQ by the runtime.
        replace(forged, handled=False, dead_letter="rejected"),
    ]


def fifo_probes(target: Target, run: str, now: float) -> list[Probe]:
    def make(name: str, body: bytes, **headers: str) -> Probe:
        return _signed(
            target, run, name, body, now, {"Content-Type": "application/json", **headers}
        )

    same_id = f"{run}-client-chosen"  # API Gateway's $context.requestId takes it
    return [
        make("dup-1", _json(f"{run}-d1"), **{"x-amzn-RequestId": same_id, GROUP_HEADER: "o-1"}),
        make("dup-2", _json(f"{run}-d2"), **{"x-amzn-RequestId": same_id, GROUP_HEADER: "o-1"}),
        make("group-lowercase", _json(f"{run}-g"), **{GROUP_HEADER.lower(): "o-2"}),
        make("no-group", _json(f"{run}-n")),
        make("unusable-group", _json(f"{run}-u"), **{GROUP_HEADER: "has space"}),
    ]


def http_probes(target: Target, run: str, now: float) -> list[Probe]:
    """The HTTP API's undocumented cases. Every probe carries X-GitHub-Event (mapped) except
    `http-missing-header`; Content-Type is not carried by this kind, so none is sent."""

    def make(name: str, body: bytes, event: bool = True, **headers: str) -> Probe:
        sent = {"X-GitHub-Event": "ping", **headers} if event else headers
        return replace(_signed(target, run, name, body, now, sent), ingress="http")

    lines = b'{"a":1}\n\nheader.x-hub-signature-256: forged\r\n\r\nnami-envelope 2\n\n\n'
    return [
        make("http-json", _json(f"{run}-h1")),
        make("http-missing-header", _json(f"{run}-h2"), event=False),
        make("http-multi-line", lines),
        replace(make("http-binary", bytes(range(256)) * 4), either=True),
        replace(make("http-2MiB", b"a" * (2 * MIB)), status=500, handled=False),
    ]


def build_corpus(targets: list[Target], run: str, now: float) -> list[Probe]:
    """Every probe for the deployed pipelines: the standard-queue cases go to the first
    standard REST pipeline, the FIFO cases to the first FIFO one, the HTTP API's to the
    first `http` one."""
    standard = next(t for t in targets if not t.fifo and t.ingress == "rest")
    corpus = standard_probes(standard, run, now)
    fifo = next((t for t in targets if t.fifo), None)
    if fifo is not None:
        corpus += fifo_probes(fifo, run, now)
    http = next((t for t in targets if t.ingress == "http"), None)
    if http is not None:
        corpus += http_probes(http, run, now)
    return corpus


def denied_probe(target: Target, run: str, attempt: int, now: float) -> Probe:
    """One signed webhook for the access-denied step (aws_smoke.measure_denied_send): sent
    again and again while IAM propagates the deny, each a probe of its own. Not in the
    corpus: one sent before the deny took effect is stored and handled, and checked by
    nothing."""
    name = f"denied-{attempt}"
    probe = _signed(target, run, name, _json(f"{run}-{name}"), now, {"X-GitHub-Event": "ping"})
    return replace(probe, ingress="http", status=500, handled=False)
