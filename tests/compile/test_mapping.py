"""The API Gateway -> SQS mapping templates, rendered by a real Velocity engine (airspeed-ext).

airspeed is the engine LocalStack uses to mimic API Gateway, but it ships no $util, $input or
$context: those are API Gateway's Java objects, emulated below. Where the emulation or airspeed
may differ from real API Gateway, and how the template copes:
- $util.escapeJavaScript: AWS documents only that ' becomes \\' (invalid JSON). Its exact
  rules are unknown, so every corpus test runs under three plausible escapers: Apache
  commons-lang 2 escapeJavaScript (\\/, \\uXXXX for non-ASCII, UTF-16 surrogates), an ECMAScript
  escaper leaving non-ASCII raw, and LocalStack's (JSON escaping, "" and "  " become "{}").
  The template must give the same envelope under all three: it escapes "x" + value and drops
  the "x", and turns \\' back into '.
- $util.urlEncode is emulated as java.net.URLEncoder (UTF-8); the template only needs some
  correct form encoding, and the test decodes with Python's parser.
- String.replaceAll: airspeed uses Python's re.sub; the pattern "\\'" means the same in Java
  and Python regex, and the replacement "'" has no $ or \\ for their dialects to differ on.
- Velocity whitespace rules differ between engines; every template line ends in ##, and the
  tests assert the output is a single line of form characters.
- airspeed looks names up as dict keys before methods; Java maps are emulated without item
  access so a header called "get" or "keySet" behaves as in Java Velocity.
- Real API Gateway facts no engine reproduces (binary mode making $input.body base64, header and
  query decoding, multi-value parameters) are assumptions documented in mapping.py.
- Java String methods airspeed lacks (equalsIgnoreCase, trim, endsWith, toLowerCase) are
  added with their Java meaning; $util.parseJson gives Java maps and lists whose get()
  answers null for a key of the wrong kind, as Velocity's failed method lookup does.
"""

from __future__ import annotations

import base64
import json
import random
import re
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

import airspeed
import airspeed.operators
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nami_action.compile import mapping
from nami_action.envelope import IncomingRequest, build_envelope, decode_envelope

Escaper = Callable[[str], str]

# --------------------------------------------------------------------------- Java emulation


def _utf16_units(text: str) -> Iterator[int]:
    data = text.encode("utf-16-be", "surrogatepass")
    for i in range(0, len(data), 2):
        yield int.from_bytes(data[i : i + 2], "big")


_CONTROL_ESCAPES = {0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r"}
_QUOTE_ESCAPES = {"'": "\\'", '"': '\\"', "\\": "\\\\"}


def escape_commons_lang2(text: str) -> str:
    """org.apache.commons.lang.StringEscapeUtils.escapeJavaScript (2.6)."""
    out: list[str] = []
    for unit in _utf16_units(text):
        if unit > 0x7F:
            out.append(f"\\u{unit:04X}")
        elif unit < 0x20:
            out.append(_CONTROL_ESCAPES.get(unit, f"\\u{unit:04X}"))
        else:
            ch = chr(unit)
            out.append("\\/" if ch == "/" else _QUOTE_ESCAPES.get(ch, ch))
    return "".join(out)


def escape_ecmascript_raw_unicode(text: str) -> str:
    """A minimal JavaScript escaper: quotes, backslash and control characters only."""
    out: list[str] = []
    for ch in text:
        if ord(ch) < 0x20:
            out.append(_CONTROL_ESCAPES.get(ord(ch), f"\\u{ord(ch):04x}"))
        else:
            out.append(_QUOTE_ESCAPES.get(ch, ch))
    return "".join(out)


def escape_localstack(text: str) -> str:
    """LocalStack next_gen VelocityUtilApiGateway.escapeJavaScript, quirks included."""
    if not text.strip():
        return "{}"
    return json.dumps(text)[1:-1]


ESCAPERS: dict[str, Escaper] = {
    "commons-lang2": escape_commons_lang2,
    "ecmascript-raw-unicode": escape_ecmascript_raw_unicode,
    "localstack": escape_localstack,
}


def java_url_encode(text: str) -> str:
    """java.net.URLEncoder.encode(text, "UTF-8"); Python keeps "~", Java does not."""
    return urllib.parse.quote_plus(text, safe="*").replace("~", "%7E")


class JavaMap:
    """A java.util.Map as Velocity sees it: methods only, no attribute-style item access."""

    def __init__(self, items: dict[str, str]) -> None:
        self._items = dict(items)

    def get(self, key: str) -> str | None:
        return self._items.get(key)

    def keySet(self) -> list[str]:
        return list(self._items)


_JAVA_STRING_METHODS = {
    "equalsIgnoreCase": lambda self, other: (
        isinstance(other, str) and self.casefold() == other.casefold()
    ),
    "trim": lambda self: self.strip("".join(chr(c) for c in range(0x21))),
    "endsWith": lambda self, suffix: self.endswith(suffix),
    "toLowerCase": lambda self: self.lower(),
}
airspeed.operators.__additional_methods__[str].update(_JAVA_STRING_METHODS)


class JavaList:
    """A parsed JSON array: get(int) only; a get by name finds no method, so null."""

    def __init__(self, items: list[Any]) -> None:
        self._items = items

    def get(self, index: object) -> Any:
        if isinstance(index, int) and 0 <= index < len(self._items):
            return self._items[index]
        return None

    def __str__(self) -> str:
        return "[" + ", ".join(str(item) for item in self._items) + "]"


class JsonMap(JavaMap):
    def __str__(self) -> str:
        return "{" + ", ".join(f"{k}={v}" for k, v in self._items.items()) + "}"


def _java_json(value: Any) -> Any:
    if isinstance(value, dict):
        return JsonMap({k: _java_json(v) for k, v in value.items()})
    if isinstance(value, list):
        return JavaList([_java_json(v) for v in value])
    return value


class ParseFailed(Exception):
    """What API Gateway's $util.parseJson does with text that is not JSON: the request fails."""


class Util:
    def __init__(self, escape: Escaper) -> None:
        self._escape = escape
        self.parsed: list[str] = []

    def escapeJavaScript(self, text: str) -> str:
        return self._escape(text)

    def urlEncode(self, text: str) -> str:
        return java_url_encode(text)

    def base64Decode(self, text: str) -> str:
        return base64.b64decode(text).decode("utf-8", "replace")

    def parseJson(self, text: str) -> Any:
        self.parsed.append(text)
        try:
            return _java_json(json.loads(text))
        except ValueError as exc:
            raise ParseFailed(text[:40]) from exc


class Input:
    def __init__(self, body: str, query: dict[str, str], headers: dict[str, str]) -> None:
        self.body = body
        self._params = {
            "path": JavaMap({}),
            "querystring": JavaMap(query),
            "header": JavaMap(headers),
        }

    def params(self) -> dict[str, JavaMap]:
        return self._params

    def path(self, expr: str) -> Any:
        """The `$.a.b` subset of JSONPath; None (rendered as "" by $!) when absent."""
        try:
            value: Any = json.loads(self.body)
        except ValueError:
            return None
        for key in expr.removeprefix("$").strip(".").split("."):
            if not isinstance(value, dict) or key not in value:
                return None
            value = value[key]
        return value


_TEMPLATES: dict[str, airspeed.Template] = {}


def render(template: str, namespace: dict[str, Any]) -> str:
    if template not in _TEMPLATES:
        _TEMPLATES[template] = airspeed.Template(template)
    return str(_TEMPLATES[template].merge(namespace))


# What any client can put in $context.requestId with the header x-amzn-RequestId.
CLIENT_CHOSEN_ID = "chosen-by-the-client"


def context_of(req: IncomingRequest) -> dict[str, Any]:
    return {
        "requestId": CLIENT_CHOSEN_ID,
        "extendedRequestId": req.request_id,
        "requestTimeEpoch": req.received_at_ms,
        "identity": {"sourceIp": req.source_ip},
        "httpMethod": req.method,
        "path": req.path,
    }


def render_request(
    req: IncomingRequest,
    *,
    escape: Escaper = escape_commons_lang2,
    fifo: bool = False,
    group_by: str | None = None,
    empty_body_reads_as: str = "",
) -> str:
    """What API Gateway would send SQS for `req` (binary mode: $input.body is base64)."""
    body = base64.b64encode(req.body).decode("ascii") if req.body else empty_body_reads_as
    namespace = {
        "context": context_of(req),
        "input": Input(body, req.query, req.headers),
        "util": Util(escape),
    }
    return render(mapping.request_template(fifo=fifo, group_by=group_by), namespace)


def parse_form(rendered: str) -> dict[str, str]:
    # One line of form characters: nothing for SQS to misread, whatever the whitespace rules.
    assert re.fullmatch(r"[A-Za-z0-9%+.*_\-=&]+", rendered), rendered[:200]
    pairs = urllib.parse.parse_qsl(rendered, keep_blank_values=True, strict_parsing=True)
    form = dict(pairs)
    assert len(form) == len(pairs), "a form field appears twice"
    return form


def envelope_of(rendered: str) -> dict[str, Any]:
    envelope: dict[str, Any] = json.loads(parse_form(rendered)["MessageBody"])
    return envelope


# --------------------------------------------------------------------------- corpus

NASTY = [
    "",
    " ",
    "  \t ",
    "plain",
    "it's",
    'say "hi"',
    "back\\slash",
    "\\'",
    "\\\\'",
    "'\\",
    "\\",
    "\\u0041",
    "line\nbreak\r\nand\ttab",
    "".join(chr(c) for c in range(0x20)) + "\x7f",
    "caf\u00e9 \u65e5\u672c \U0001f600\U0001f3f3\ufe0f\u200d\U0001f308",
    "\u2028\u2029\ufeff\ufffd",
    "</script><b>&amp;",
    "$util.escapeJavaScript('x') #set($a = 1) ${context.requestId} ## #* *#",
    "100% a+b=c&d=e;f,g/h?i#j",
    "true",
    "12",
    "null",
    "{}",
    '{"a":[1,"b"]}',
    "~*-._",
]


def _corpus() -> list[tuple[str, IncomingRequest]]:
    headers = {f"X-Nasty-{i}": value for i, value in enumerate(NASTY)}
    headers.update({"Content-Type": "application/json", "get": "g", "keySet": "k", "x-it's": "n"})
    query = {f"q{i}": value for i, value in enumerate(NASTY)}
    query.update({"": "empty name", "a b&c=d": "odd name", "\u00fc\U0001f600": "unicode name"})
    rng = random.Random(20240601)
    bodies = {
        "json": json.dumps({"event": "push", "who": "J\u00f6rg \U0001f600", "n": 1}).encode(),
        "form": b"a=1&b=%20x+y&c=&d=%F0%9F%98%80&e=it%27s",
        "text": "plain text\n\u00e9\r\n".encode(),
        "empty": b"",
        "all-bytes": bytes(range(256)),
        "invalid-utf8": b"\xff\xfe\x00\xc3(\xe2\x82",
        "large": rng.randbytes(200 * 1024),
    }
    cases: list[tuple[str, IncomingRequest]] = []
    for name, body in bodies.items():
        cases.append(
            (
                name,
                IncomingRequest(
                    method="POST",
                    path="/prod/hooks/git hub/'\u00e9\"",
                    query=query,
                    headers=headers,
                    body=body,
                    source_ip="2001:db8::1",
                    request_id="c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
                    received_at_ms=1_717_171_717_123,
                ),
            )
        )
    cases.append(
        ("bare", IncomingRequest(method="GET", path="/", request_id="r", received_at_ms=0))
    )
    return cases


CORPUS = _corpus()


@pytest.mark.parametrize("escaper", sorted(ESCAPERS))
@pytest.mark.parametrize(("name", "req"), CORPUS, ids=[name for name, _ in CORPUS])
def test_request_template_envelope_is_exact(name: str, req: IncomingRequest, escaper: str) -> None:
    envelope = envelope_of(render_request(req, escape=ESCAPERS[escaper]))

    assert base64.b64decode(envelope["body"], validate=True) == req.body
    assert envelope["headers"] == req.headers
    assert envelope["query"] == req.query
    assert (envelope["id"], envelope["receivedAt"], envelope["sourceIp"]) == (
        req.request_id,
        req.received_at_ms,
        req.source_ip,
    )
    assert (envelope["method"], envelope["path"], envelope["v"]) == (req.method, req.path, 1)


@pytest.mark.parametrize(("name", "req"), CORPUS, ids=[name for name, _ in CORPUS])
def test_python_twin_equals_vtl(name: str, req: IncomingRequest) -> None:
    envelope = envelope_of(render_request(req))

    assert envelope == build_envelope(req)
    assert list(envelope) == list(build_envelope(req))  # same key order too
    assert decode_envelope(parse_form(render_request(req))["MessageBody"]) == req


def test_empty_body_read_as_braces_still_means_empty() -> None:
    req = IncomingRequest(method="POST", path="/h", request_id="r", received_at_ms=1)
    envelope = envelope_of(render_request(req, empty_body_reads_as="{}"))
    assert envelope["body"] == ""


def test_form_fields_standard_queue() -> None:
    form = parse_form(render_request(CORPUS[0][1]))
    assert form["Action"] == "SendMessage"
    assert form["Version"] == mapping.SQS_API_VERSION
    assert set(form) == {"Action", "Version", "MessageBody"}


def test_form_fields_fifo_queue() -> None:
    req = CORPUS[0][1]
    form = parse_form(render_request(req, fifo=True))
    assert form["MessageGroupId"] == mapping.FIFO_MESSAGE_GROUP_ID
    assert form["MessageDeduplicationId"] == req.request_id
    assert json.loads(form["MessageBody"]) == build_envelope(req)


def test_ids_come_from_extended_request_id_never_the_client() -> None:
    """Two webhooks sent with one x-amzn-RequestId are two messages: neither the envelope id
    nor the FIFO deduplication id is the id the client can choose."""
    first, second = (
        IncomingRequest(method="POST", path="/h", body=b, request_id=rid, received_at_ms=1)
        for b, rid in ((b"one", "Zx1aGEaboAMF0aQ="), (b"two", "Zx1aGFs7oAMFb9w="))
    )
    forms = [parse_form(render_request(req, fifo=True)) for req in (first, second)]
    assert [f["MessageDeduplicationId"] for f in forms] == ["Zx1aGEaboAMF0aQ=", "Zx1aGFs7oAMFb9w="]
    assert [json.loads(f["MessageBody"])["id"] for f in forms] == [
        "Zx1aGEaboAMF0aQ=",
        "Zx1aGFs7oAMFb9w=",
    ]
    for fifo in (False, True):
        assert CLIENT_CHOSEN_ID not in render_request(first, fifo=fifo)
        assert "context.requestId" not in mapping.request_template(fifo=fifo)


def group_of(
    group_by: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    util: Util | None = None,
) -> str:
    req = IncomingRequest(
        method="POST", path="/h", headers=headers or {}, body=body, request_id="r", received_at_ms=1
    )
    namespace = {
        "context": context_of(req),
        "input": Input(base64.b64encode(body).decode(), req.query, req.headers),
        "util": util or Util(escape_commons_lang2),
    }
    rendered = render(mapping.request_template(fifo=True, group_by=group_by), namespace)
    form = parse_form(rendered)
    assert json.loads(form["MessageBody"]) == build_envelope(req)
    return form["MessageGroupId"]


DEFAULT = mapping.FIFO_MESSAGE_GROUP_ID


@pytest.mark.parametrize(
    ("headers", "group"),
    [
        ({"X-Order-Id": "order-42"}, "order-42"),
        ({"x-order-id": "order-42"}, "order-42"),  # HTTP/2 sends names in lowercase
        (
            {"X-ORDER-ID": "A!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~z"},
            "A!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~z",
        ),
        ({}, DEFAULT),
        ({"X-Other": "order-42"}, DEFAULT),
        ({"X-Order-Id": ""}, DEFAULT),
        ({"X-Order-Id": "has space"}, DEFAULT),  # SQS would refuse it: the default group
        ({"X-Order-Id": "caf\u00e9"}, DEFAULT),
        ({"X-Order-Id": "x" * 129}, DEFAULT),
        ({"X-Order-Id": "x" * 128}, "x" * 128),
    ],
)
def test_group_by_header(headers: dict[str, str], group: str) -> None:
    assert group_of("header:X-Order-Id", headers=headers) == group


@pytest.mark.parametrize(
    ("body", "group"),
    [
        (b'{"order": {"id": "o-1"}}', "o-1"),
        (b' \n{"order": {"id": 1234}}\r\n', "1234"),
        (b'{"order": {"id": "o 1"}}', DEFAULT),
        (b'{"order": {}}', DEFAULT),
        (b'{"order": "o-1"}', DEFAULT),
        (b'{"order": [{"id": "o-1"}]}', DEFAULT),
        (b"[]", DEFAULT),
        (b"order=o-1&id=2", DEFAULT),  # a form body is never parsed
        (b"", DEFAULT),
        (b"\xff\xfe{", DEFAULT),
    ],
)
def test_group_by_json_path(body: bytes, group: str) -> None:
    json_type = {"Content-Type": "application/json; charset=utf-8"}
    assert group_of("json:$.order.id", headers=json_type, body=body) == group


def test_group_by_json_path_with_an_index() -> None:
    body = b'{"items": [{"sku": "a-1"}, {"sku": "b-2"}]}'
    headers = {"content-type": "application/vnd.api+json"}
    assert group_of("json:$.items[1].sku", headers=headers, body=body) == "b-2"
    assert group_of("json:$.items[2].sku", headers=headers, body=body) == DEFAULT


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({"Content-Type": "application/json"}, b"a=1"),
        ({"Content-Type": "application/json"}, b"plain"),
        ({"Content-Type": "application/json"}, b""),
        ({"Content-Type": "application/json"}, b"[1]"),
        ({"Content-Type": "text/plain"}, b"{not json}"),
        ({"Content-Type": "application/x-www-form-urlencoded"}, b'{"id": "x"}'),
        ({}, b'{"id": "x"}'),  # no Content-Type: API Gateway calls it JSON, nami does not guess
    ],
)
def test_group_by_json_parses_only_what_its_sender_calls_a_json_object(
    headers: dict[str, str], body: bytes
) -> None:
    """What is not a JSON object by its sender's word and its shape never reaches
    $util.parseJson: the default group, never a failed request."""
    util = Util(escape_commons_lang2)
    assert group_of("json:$.id", headers=headers, body=body, util=util) == DEFAULT
    assert util.parsed == []


def test_group_by_json_known_limit_broken_json_labelled_json() -> None:
    """The one case left: a body labelled JSON, shaped like an object, that is not JSON. API
    Gateway's parser fails the request (400, "Could not parse request body into json"): the
    sender is told, nothing is stored. Pinned here so a change of the guard is deliberate."""
    with pytest.raises(airspeed.operators.TemplateExecutionError) as failed:
        group_of("json:$.id", headers={"Content-Type": "application/json"}, body=b"{id: x}")
    assert isinstance(failed.value.__cause__ or failed.value.__context__, ParseFailed)


# --------------------------------------------------------------------------- properties

TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)


@settings(max_examples=150, deadline=None)
@given(
    headers=st.dictionaries(TEXT, TEXT, max_size=6),
    query=st.dictionaries(TEXT, TEXT, max_size=6),
    body=st.binary(max_size=2048),
    path=TEXT,
    escaper=st.sampled_from(sorted(ESCAPERS)),
    fifo=st.booleans(),
)
def test_any_text_and_bytes_survive(
    headers: dict[str, str],
    query: dict[str, str],
    body: bytes,
    path: str,
    escaper: str,
    fifo: bool,
) -> None:
    req = IncomingRequest(
        method="PUT",
        path=path,
        query=query,
        headers=headers,
        body=body,
        source_ip="203.0.113.9",
        request_id="req-1",
        received_at_ms=42,
    )
    envelope = envelope_of(render_request(req, escape=ESCAPERS[escaper], fifo=fifo))
    assert envelope == build_envelope(req)
    assert base64.b64decode(envelope["body"], validate=True) == body


@given(TEXT)
def test_form_encode_matches_java_url_encoder(text: str) -> None:
    assert mapping.form_encode(text) == java_url_encode(text)


# --------------------------------------------------------------------------- responses

SQS_OK = json.dumps(
    {
        "SendMessageResponse": {
            "ResponseMetadata": {"RequestId": "0e1d9ab6-0000-5b3a-9d8c-2f3e4d5c6b7a"},
            "SendMessageResult": {
                "MD5OfMessageBody": "51b0a325b7a8d6e9f5a9c5b1e7c2d3f4",
                "MessageId": "d1e8e4a0-3c4b-4a2e-9f1e-6c1b2a3d4e5f",
                "SequenceNumber": None,
            },
        }
    }
)
SQS_ERROR = json.dumps(
    {
        "Error": {
            "Code": "AccessDenied",
            "Message": "arn:aws:sqs:us-east-1:123456789012:q",
            "Type": "Sender",
        },
        "RequestId": "x",
    }
)


def render_response(template: str, sqs_body: str) -> tuple[dict[str, Any], int | None]:
    """The answer's body and the status the template set through responseOverride, if any."""
    context: dict[str, Any] = {"requestId": CLIENT_CHOSEN_ID, "extendedRequestId": "req-7"}
    context["responseOverride"] = {}
    namespace = {
        "context": context,
        "input": Input(sqs_body, {}, {}),
        "util": Util(escape_commons_lang2),
    }
    result: dict[str, Any] = json.loads(render(template, namespace))
    return result, context["responseOverride"].get("status")


def _by_status() -> dict[str, dict[str, Any]]:
    return {r["StatusCode"]: r for r in mapping.integration_responses()}


def _template(status: str) -> str:
    return str(_by_status()[status]["ResponseTemplates"]["application/json"])


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize("sqs_body", [SQS_OK, b64(SQS_OK), "", "bm90IGpzb24=", SQS_ERROR])
def test_accepted_response_is_static(sqs_body: str) -> None:
    """The 2xx answer never reads SQS's answer (it may arrive base64): the same JSON always."""
    assert "$input" not in _template("202")
    assert render_response(_template("202"), sqs_body) == ({"id": "req-7"}, None)


SQS_TOO_LARGE = json.dumps(
    {
        "Error": {
            "Code": "InvalidParameterValue",
            "Message": "One or more parameters are invalid. Reason: Message must be shorter "
            "than 1048576 bytes.",
            "Type": "Sender",
        },
        "RequestId": "x",
    }
)
SQS_TOO_LARGE_XML = (
    '<?xml version="1.0"?><ErrorResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/">'
    "<Error><Type>Sender</Type><Code>InvalidParameterValue</Code><Message>One or more "
    "parameters are invalid. Reason: Message must be shorter than 262144 bytes.</Message>"
    "<Detail/></Error><RequestId>x</RequestId></ErrorResponse>"
)
SQS_THROTTLED = json.dumps(
    {"Error": {"Code": "RequestThrottled", "Message": "Rate exceeded", "Type": "Sender"}}
)


@pytest.mark.parametrize(
    ("sqs_body", "status", "error"),
    [
        (SQS_TOO_LARGE, 413, "too_large"),
        (b64(SQS_TOO_LARGE), 413, "too_large"),
        (SQS_TOO_LARGE_XML, 413, "too_large"),
        (b64(SQS_TOO_LARGE_XML), 413, "too_large"),
        (SQS_THROTTLED, 503, "not_stored"),
        (b64(SQS_THROTTLED), 503, "not_stored"),
        (SQS_ERROR, None, "not_stored"),
        (b64(SQS_ERROR), None, "not_stored"),
        ("", None, "not_stored"),
        ("not base64 and not JSON {", None, "not_stored"),
        ("abc", None, "not_stored"),  # base64 alphabet, wrong length: never decoded
        ("abcd====", None, "not_stored"),  # too much padding: never decoded
        (b64(SQS_ERROR) * 200, None, "not_stored"),  # long: a character class, no recursion
    ],
)
def test_refused_message_gets_the_answer_the_sender_can_act_on(
    sqs_body: str, status: int | None, error: str
) -> None:
    """SQS's 4xx answer: too large is 413 (resending cannot help), throttled is 503 (retry),
    anything else 500 (the selected status). Nothing SQS said is echoed."""
    body, override = render_response(_template("500"), sqs_body)
    assert override == status
    assert body["error"] == error and body["id"] == "req-7"
    assert "123456789012" not in json.dumps(body)
    assert "1048576" not in json.dumps(body)


def test_unavailable_response_is_static() -> None:
    assert "$input" not in _template("503")
    body, override = render_response(_template("503"), SQS_ERROR)
    assert (body["error"], body["id"], override) == ("not_stored", "req-7", None)


def _select(sqs_status: int) -> str:
    """API Gateway's choice: the pattern fully matching the status (never two), else the
    default."""
    responses = mapping.integration_responses()
    matching = [
        str(response["StatusCode"])
        for response in responses
        if "SelectionPattern" in response
        and re.fullmatch(response["SelectionPattern"], str(sqs_status))
    ]
    assert len(matching) <= 1, matching
    if matching:
        return matching[0]
    defaults = [r for r in responses if "SelectionPattern" not in r]
    assert len(defaults) == 1
    return str(defaults[0]["StatusCode"])


@pytest.mark.parametrize(
    ("sqs_status", "answer"),
    [
        (200, "202"),
        (400, "500"),
        (403, "500"),
        (404, "500"),
        (410, "500"),
        (414, "500"),
        (429, "500"),
        (413, "413"),
        (500, "503"),
        (503, "503"),
        (302, "503"),
    ],
)
def test_only_a_stored_message_is_acknowledged(sqs_status: int, answer: str) -> None:
    assert _select(sqs_status) == answer


def test_integration_facts() -> None:
    responses = mapping.integration_responses()
    assert {r["StatusCode"] for r in responses} == {
        r["StatusCode"] for r in mapping.method_responses()
    }
    assert all(r["ContentHandling"] == "CONVERT_TO_TEXT" for r in responses)
    assert mapping.BINARY_MEDIA_TYPES == ["*/*"]
    assert mapping.CONTENT_HANDLING == "CONVERT_TO_TEXT"
    assert mapping.PASSTHROUGH_BEHAVIOR == "NEVER"
    assert mapping.INTEGRATION_REQUEST_PARAMETERS == {
        "integration.request.header.Content-Type": "'application/x-www-form-urlencoded'"
    }
    templates = mapping.request_templates(fifo=False)
    assert set(templates) >= {"application/json", "application/x-www-form-urlencoded", "text/plain"}
    assert set(templates.values()) == {mapping.request_template(fifo=False)}


def test_a_413_from_sqs_itself_is_a_static_413() -> None:
    assert "$input" not in _template("413")
    body, override = render_response(_template("413"), "<html>Request Entity Too Large</html>")
    assert (body["error"], body["id"], override) == ("too_large", "req-7", None)
