"""API Gateway -> SQS ingest: the VTL mapping templates and the integration facts around them.

Pure data and strings: the compiler wires these into AWS::ApiGateway::RestApi / ::Method.
The request template turns one HTTP request into the envelope (see nami_action.envelope)
and sends it with SQS SendMessage; the response templates answer 202 only when SQS stored it.

Sources relied on (AWS docs and AWS-validated emulator tests, via the search tool):
- API Gateway "Content type conversions": with binaryMediaTypes matching the request and the
  integration contentHandling CONVERT_TO_TEXT, "API Gateway always applies a Base64 encoding on
  the binary data ... [the template] can only access the Base64-encoded string ... through
  $input.body" (docs: api-gateway-payload-encodings-workflow). binaryMediaTypes ["*/*"] makes
  every request binary, so $input.body is base64 of the exact bytes for JSON, forms, text, ...
- Same page, response table: Accept matching a binary type + IntegrationResponse contentHandling
  undefined means "Base64-decoded blob" for text; CONVERT_TO_TEXT keeps our JSON as UTF-8 text.
  (Also the AWS forum advice quoted in squidfunk/terraform-aws-api-gateway-enable-cors#11.)
- "Method request behavior for payloads without mapping templates": NEVER rejects content types
  without a template with 415; a request without Content-Type is treated as application/json.
- Mapping template reference: $util.escapeJavaScript turns ' into \\' which is not valid JSON,
  so it has to be turned back into '.
- IntegrationResponse.selectionPattern: "For all other HTTP and AWS back ends, the HTTP status
  code is matched."
- localstack tests/aws/services/apigateway/test_apigateway_sqs.py (marked aws.validated): Uri
  arn:aws:apigateway:<region>:sqs:path/<account>/<queue>, the Content-Type request parameter,
  PassthroughBehavior NEVER, and the JSON answer {"SendMessageResponse":{"SendMessageResult":
  {"MessageId":...}}} (API Gateway sends Accept: application/json to the integration).
- localstack next_gen template_mapping.py: escapeJavaScript("") and a whitespace-only string
  give "{}", and an empty $input.body reads as "{}". Both are defended against below.
"""

from __future__ import annotations

from typing import Any

SQS_API_VERSION = "2012-11-05"
FIFO_MESSAGE_GROUP_ID = "nami"
BINARY_MEDIA_TYPES = ["*/*"]
CONTENT_HANDLING = "CONVERT_TO_TEXT"
PASSTHROUGH_BEHAVIOR = "NEVER"
INTEGRATION_TYPE = "AWS"
INTEGRATION_HTTP_METHOD = "POST"
# For Fn::Sub, with QueueName = the queue's QueueName attribute.
INTEGRATION_URI_SUB = "arn:aws:apigateway:${AWS::Region}:sqs:path/${AWS::AccountId}/${QueueName}"
# SQS reads the template output as a Query-API form only with this header.
INTEGRATION_REQUEST_PARAMETERS = {
    "integration.request.header.Content-Type": "'application/x-www-form-urlencoded'",
}
# PassthroughBehavior NEVER needs one template per accepted Content-Type (parameters such as
# "; charset=utf-8" are not part of the key). Anything else answers 415: the sender sees a
# refusal, never a false 202.
REQUEST_CONTENT_TYPES = (
    "application/json",
    "application/x-www-form-urlencoded",
    "text/plain",
    "application/xml",
    "text/xml",
    "application/octet-stream",
    "multipart/form-data",
    "application/cloudevents+json",
    "application/vnd.api+json",
)

ACCEPTED_STATUS = "202"
MISCONFIGURED_STATUS = "500"  # SQS said 4xx: our role, queue or template is wrong.
UNAVAILABLE_STATUS = "503"  # SQS said 5xx, or anything unexpected: retry later.

# Never the first character of a JSON escape, never whitespace, never valid JSON on its own:
# escaping "x" + value and dropping the "x" keeps "" and "  " from becoming "{}" and keeps
# "true" or "12" from being treated as non-strings by an over-clever escapeJavaScript.
_SENTINEL = "x"
# Characters java.net.URLEncoder (what $util.urlEncode uses) leaves alone.
_URL_SAFE = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-*_")


def form_encode(text: str) -> str:
    """URL-encode like java.net.URLEncoder(UTF-8): the static parts of the SQS form."""
    out: list[str] = []
    for byte in text.encode("utf-8"):
        if byte in _URL_SAFE:
            out.append(chr(byte))
        elif byte == 0x20:
            out.append("+")
        else:
            out.append(f"%{byte:02X}")
    return "".join(out)


def _json_string(vtl_value: str) -> str:
    """VTL emitting `vtl_value` JSON-escaped and form-encoded (without the surrounding quotes).

    vtl_value is a reference body such as `context.path` or `v`, used as ${...} inside a string
    literal: the result is always a String, even when the variable is null.
    """
    escaped = f'$util.escapeJavaScript("{_SENTINEL}${{{vtl_value}}}").substring(1)'
    return f'$util.urlEncode({escaped}.replaceAll($qpat,"\'"))'


def _quote_repair_lines() -> list[str]:
    """VTL setting $qpat, the regex that turns escapeJavaScript output into JSON.

    AWS escapes ' as \\' (invalid JSON) and always does, so replacing every \\' by ' is exact:
    an escaped backslash is always followed by another escape, never by a bare quote. An engine
    that leaves ' alone (LocalStack) would have that same replacement corrupt a value ending in
    a backslash before a quote, so it gets a pattern that never matches instead.
    Velocity passes "\\\\'" through verbatim: the regex \\\\' is a backslash then a quote.
    """
    return [
        '#set($qpat = "(?!)")',
        f'#if($util.escapeJavaScript("{_SENTINEL}\'").substring(1) != "\'")'
        '#set($qpat = "\\\\\'")#end',
    ]


def _map_entries(param_type: str) -> list[str]:
    """VTL lines writing `"name":"value"` pairs of $input.params().<param_type>."""
    quote, colon, comma = form_encode('"'), form_encode('":"'), form_encode(",")
    return [
        f"#foreach($k in $p.{param_type}.keySet())",
        f'#set($v = "$!p.{param_type}.get($k)")',
        f"{quote}{_json_string('k')}{colon}{_json_string('v')}{quote}"
        f"#if($foreach.hasNext){comma}#end",
        "#end",
    ]


def _envelope_lines() -> list[str]:
    """VTL lines writing the form-encoded envelope JSON (see nami_action.envelope)."""
    lit = form_encode
    return [
        *_quote_repair_lines(),
        "#set($p = $input.params())",
        # "$!..." always yields a String; "{}" is how an empty body can read (never base64).
        '#set($b = "$!input.body")',
        '#if($b == "{}")#set($b = "")#end',
        lit('{"v":1,"id":"')
        + _json_string("context.requestId")
        + lit('","receivedAt":')
        + "$context.requestTimeEpoch"
        + lit(',"sourceIp":"')
        + _json_string("context.identity.sourceIp")
        + lit('","method":"')
        + _json_string("context.httpMethod")
        + lit('","path":"')
        + _json_string("context.path")
        + lit('","query":{'),
        *_map_entries("querystring"),
        lit('},"headers":{'),
        *_map_entries("header"),
        lit('},"body":"') + "$util.urlEncode($b)" + lit('"}'),
    ]


def request_template(*, fifo: bool) -> str:
    """The integration request template: an SQS SendMessage form carrying the envelope.

    Every line ends in a `##` comment, which swallows the newline: the output is one line of
    form data whatever the engine's whitespace rules. FIFO queues get the constant group "nami"
    (one ordered stream per pipeline; a sender-chosen header could be missing, which SQS
    rejects, and would let the sender pick our partitioning) and the API Gateway request id as
    deduplication id (API Gateway's own retries of one request are stored once).
    """
    lines = [
        f"Action=SendMessage&Version={SQS_API_VERSION}&MessageBody=",
        *_envelope_lines(),
    ]
    if fifo:
        lines.append(
            f"&MessageGroupId={form_encode(FIFO_MESSAGE_GROUP_ID)}"
            "&MessageDeduplicationId=$util.urlEncode($context.requestId)"
        )
    return "".join(f"{line}##\n" for line in lines)


def request_templates(*, fifo: bool) -> dict[str, str]:
    """RequestTemplates for the Integration: the same template for every accepted type."""
    template = request_template(fifo=fifo)
    return {content_type: template for content_type in REQUEST_CONTENT_TYPES}


def _error_template(code: str, message: str) -> str:
    # Static text: SQS error messages can name the account and queue, so none are echoed.
    return f'{{"error":"{code}","message":"{message}","id":"$context.requestId"}}'


ACCEPTED_TEMPLATE = (
    '{"id":"$context.requestId",'
    '"messageId":"$!input.path(\'$.SendMessageResponse.SendMessageResult.MessageId\')"}'
)
MISCONFIGURED_TEMPLATE = _error_template(
    "not_stored", "The webhook was not stored (endpoint misconfigured). Retry later."
)
UNAVAILABLE_TEMPLATE = _error_template(
    "not_stored", "The webhook was not stored (queue unavailable). Retry later."
)


def integration_responses() -> list[dict[str, Any]]:
    """IntegrationResponses in CloudFormation shape, selected on SQS's HTTP status code.

    Only a 2xx from SQS becomes 202; the default (no SelectionPattern) is 503, so anything
    unforeseen makes the sender retry instead of believing an unstored webhook was taken.
    """
    return [
        _integration_response(ACCEPTED_STATUS, r"2\d{2}", ACCEPTED_TEMPLATE),
        _integration_response(MISCONFIGURED_STATUS, r"4\d{2}", MISCONFIGURED_TEMPLATE),
        _integration_response(UNAVAILABLE_STATUS, None, UNAVAILABLE_TEMPLATE),
    ]


def _integration_response(status: str, pattern: str | None, template: str) -> dict[str, Any]:
    response: dict[str, Any] = {
        "StatusCode": status,
        "ResponseTemplates": {"application/json": template},
        "ContentHandling": CONTENT_HANDLING,
    }
    if pattern is not None:
        response["SelectionPattern"] = pattern
    return response


def method_responses() -> list[dict[str, Any]]:
    """MethodResponses matching integration_responses(), in CloudFormation shape."""
    return [
        {"StatusCode": status, "ResponseModels": {"application/json": "Empty"}}
        for status in (ACCEPTED_STATUS, MISCONFIGURED_STATUS, UNAVAILABLE_STATUS)
    ]
