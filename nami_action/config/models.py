"""The nami.yaml language, version 1, as pydantic models.

These models are the single source of truth: `schemas/nami.schema.json` is generated from
them, and `nami validate` checks documents with them. Rules that span several sections, or
that depend on values inherited from `defaults`, live in `rules.py` and run after the merge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    PlainValidator,
    Tag,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError, core_schema

from nami_action.config.units import (
    DURATION_PATTERN,
    SIZE_PATTERN,
    format_duration,
    format_size,
    parse_duration,
    parse_size,
)

MINUTE = 60
HOUR = 3600
DAY = 86400
KIB = 1024
MIB = 1024 * 1024

# Patterns are `^...$` for the JSON Schema (ECMA-262: `$` is the end of the text); Python's
# `$` also matches before a final newline, so the models use them with `re.fullmatch` and
# pydantic's (Rust) engine, where `$` is the end of the text too.
SECRET_REF_PATTERN = r"^(ssm:/[A-Za-z0-9_.\-/]+|secretsmanager:[A-Za-z0-9/_+=.@\-]+)$"
_SECRET_REF = re.compile(SECRET_REF_PATTERN)
NAME_PATTERN = r"^[a-z][a-z0-9-]*$"
_NAME = re.compile(NAME_PATTERN)


@dataclass(frozen=True)
class _Bounded:
    """An int written in units (`4d`, `1MiB`) and bounded; pydantic metadata for Annotated."""

    low: int
    high: int
    description: str
    pattern: ClassVar[str]
    spelling: ClassVar[str]

    def show(self, value: int) -> str:
        raise NotImplementedError

    def parse(self, value: object) -> object:
        raise NotImplementedError

    def within(self, value: int) -> int:
        if not self.low <= value <= self.high:
            raise ValueError(
                f"must be between {self.show(self.low)} and {self.show(self.high)}"
                f" (got {self.show(value)})"
            )
        return value

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        bounded = core_schema.no_info_after_validator_function(self.within, handler(source))
        return core_schema.no_info_before_validator_function(self.parse, bounded)

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        return {
            "description": f"{self.description} Write {self.spelling} "
            f"({self.show(self.low)}..{self.show(self.high)}).",
            "anyOf": [
                {"type": "integer", "minimum": self.low, "maximum": self.high},
                {"type": "string", "pattern": self.pattern},
            ],
        }


@dataclass(frozen=True)
class Seconds(_Bounded):
    pattern = DURATION_PATTERN
    spelling = "30s, 15m, 12h, 4d or a number of seconds"

    def show(self, value: int) -> str:
        return format_duration(value)

    def parse(self, value: object) -> object:
        return parse_duration(value)


@dataclass(frozen=True)
class Bytes(_Bounded):
    pattern = SIZE_PATTERN
    spelling = "256KiB, 1MiB or a number of bytes"

    def show(self, value: int) -> str:
        return format_size(value) if value % 1024 == 0 else f"{value} bytes"

    def parse(self, value: object) -> object:
        return parse_size(value)


def _secret_reference(value: str) -> str:
    if not _SECRET_REF.fullmatch(value):
        raise ValueError(_secret_reference_problem(value))
    return value


def _secret_reference_problem(value: str) -> str:
    """What is wrong with a reference that does not match; a value that is no reference at
    all may be the secret itself. (The value is never repeated: it may be a secret.)"""
    if value.startswith("ssm:") and not value.startswith("ssm:/"):
        return (
            "an SSM reference names the parameter by its full path, which starts with `/`: "
            "write `ssm:/` then the path (e.g. `ssm:/shop/github-secret`)"
        )
    if value.startswith("ssm:/"):
        return (
            "an SSM parameter path holds only letters, digits and `_ . - /` "
            "(e.g. `ssm:/shop/github-secret`)"
        )
    if value.startswith("secretsmanager:"):
        return (
            "a Secrets Manager name holds only letters, digits and `/ _ + = . @ -` "
            "(e.g. `secretsmanager:shop/stripe-signing`)"
        )
    return (
        "must be a reference to where the secret is stored (`ssm:/path/to/parameter` or "
        "`secretsmanager:secret-name`), never the secret itself"
    )


SecretRef = Annotated[
    str,
    AfterValidator(_secret_reference),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": SECRET_REF_PATTERN,
            "description": "Where the secret is stored: `ssm:/path` (SecureString) or "
            "`secretsmanager:name`. Never the secret itself.",
        }
    ),
]


def is_secret_reference(value: str) -> bool:
    return bool(_SECRET_REF.fullmatch(value))


def _value_or_reference(value: str) -> str:
    """A plain value, or one the runtime reads as a reference (by its prefix), which must
    then be a valid one: `ssm:x` would otherwise reach Lambda as a secret to read (forward
    headers) or as the literal text `ssm:x` (environment), the secret never read."""
    if value.startswith(("ssm:", "secretsmanager:")) and not is_secret_reference(value):
        raise ValueError(_secret_reference_problem(value))
    return value


ValueOrReference = Annotated[str, AfterValidator(_value_or_reference)]


def _name(value: str) -> str:
    if not _NAME.fullmatch(value):
        raise ValueError("use lowercase letters, digits and hyphens, starting with a letter")
    return value


# Queue names are `<project>-<pipeline>-dlq.fifo` and may be 80 characters: 30 + 1 + 40 + 9.
ProjectName = Annotated[
    str,
    Field(min_length=1, max_length=30),
    AfterValidator(_name),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": NAME_PATTERN,
            "maxLength": 30,
            "description": "Project name, the prefix of every stack name: lowercase letters, "
            "digits and hyphens.",
        }
    ),
]
PipelineName = Annotated[
    str,
    Field(min_length=1, max_length=40),
    AfterValidator(_name),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": NAME_PATTERN,
            "maxLength": 40,
            "description": "Pipeline name: lowercase letters, digits and hyphens.",
        }
    ),
]


class Strict(BaseModel):
    """No unknown keys, no silent type coercion: what you write is what you get."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# --- verify: one model per scheme, chosen by `scheme` -------------------------------------

Tolerance = Annotated[
    int, Seconds(1, HOUR, "How far a signed timestamp may be from now, either way.")
]


def _signing_secrets(value: object) -> str | list[str]:
    # Checked by hand, not as a pydantic union: a wrong type must give one problem at the
    # value ("must be a string"), not one per union branch.
    if isinstance(value, str):
        return _secret_reference(value)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise PydanticCustomError("string_type", "Input should be a valid string")
    if not 1 <= len(value) <= 2:
        raise ValueError("list one or two references: the current secret, then the previous one")
    for reference in value:
        _secret_reference(reference)
    if len(value) == 2 and value[0] == value[1]:
        raise ValueError(
            "the current and the previous secret are the same reference: while rotating, list "
            "the new one first and the old one second; otherwise write one reference"
        )
    return value


# One validator for both shapes, so an error points at the value (not at a union branch).
SigningSecrets = Annotated[
    str | list[str],
    PlainValidator(_signing_secrets),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": SECRET_REF_PATTERN},
                {
                    "type": "array",
                    "items": {"type": "string", "pattern": SECRET_REF_PATTERN},
                    "minItems": 1,
                    "maxItems": 2,
                },
            ],
            "description": "Where the signing secret is stored (`ssm:/path` or "
            "`secretsmanager:name`, never the secret itself); or a list of two while rotating "
            "it: the current one first, then the previous one (both are accepted).",
        }
    ),
]


class _SignedBy(Strict):
    secret: SigningSecrets = Field(description="Reference(s) to the signing secret.")


class GithubVerify(_SignedBy):
    """GitHub: `X-Hub-Signature-256: sha256=<hex HMAC of the body>`."""

    scheme: Literal["github"]


class ShopifyVerify(_SignedBy):
    """Shopify: `X-Shopify-Hmac-Sha256: <base64 HMAC of the body>`."""

    scheme: Literal["shopify"]


class StripeVerify(_SignedBy):
    """Stripe: `Stripe-Signature: t=<ts>,v1=<hex>` over `<ts>.<body>`."""

    scheme: Literal["stripe"]
    tolerance: Tolerance = 300


class SlackVerify(_SignedBy):
    """Slack v0: `X-Slack-Signature` over `v0:<X-Slack-Request-Timestamp>:<body>`."""

    scheme: Literal["slack"]
    tolerance: Tolerance = 300


class StandardWebhooksVerify(_SignedBy):
    """Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature` (v1)."""

    scheme: Literal["standard-webhooks"]
    tolerance: Tolerance = 300


class SvixVerify(_SignedBy):
    """Svix (Clerk, Resend, ...): Standard Webhooks' signature under Svix's header names,
    `svix-id`, `svix-timestamp`, `svix-signature`. Either scheme verifies either header set
    (as svix's own library); they differ in what `ingress: http` maps: this one maps exactly
    the svix-* headers, so no verification rests on a header the sender leaves out."""

    scheme: Literal["svix"]
    tolerance: Tolerance = 300


class HmacVerify(_SignedBy):
    """Any sender that signs the raw body with HMAC-SHA256 into one header."""

    scheme: Literal["hmac-sha256"]
    header: str = Field(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9-]+$",
        description="Header holding the signature.",
    )
    encoding: Literal["hex", "base64"] = Field(
        default="hex", description="How the signature is written."
    )
    prefix: str = Field(
        default="", max_length=32, description="Text before the signature, e.g. `sha256=`."
    )


SNS_TOPIC_PATTERN = (
    r"^arn:aws(-cn|-us-gov)?:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$"
)


class SnsVerify(Strict):
    """Amazon SNS: the message's RSA signature (SignatureVersion 1 or 2, the certificate from
    SNS's own host) and its TopicArn; subscriptions are confirmed for these topics only."""

    scheme: Literal["sns"]
    topics: list[Annotated[str, Field(pattern=SNS_TOPIC_PATTERN)]] = Field(
        min_length=1,
        max_length=100,
        description="The TopicArns accepted; any other topic's message is rejected and its "
        "subscription is not confirmed.",
    )


class NoVerify(Strict):
    """Accept every request unsigned. Only for senders that cannot sign."""

    scheme: Literal["none"]


Verify = Annotated[
    GithubVerify
    | ShopifyVerify
    | StripeVerify
    | SlackVerify
    | StandardWebhooksVerify
    | SvixVerify
    | HmacVerify
    | SnsVerify
    | NoVerify,
    Field(discriminator="scheme"),
]
SCHEMES = (
    "github",
    "stripe",
    "shopify",
    "slack",
    "standard-webhooks",
    "svix",
    "hmac-sha256",
    "sns",
    "none",
)


# --- the other sections --------------------------------------------------------------------


class Dedupe(Strict):
    """Drop repeated deliveries of the same event within `window`."""

    header: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9-]+$",
        description="Header holding the event id, e.g. `X-GitHub-Delivery`.",
    )
    json_path: str | None = Field(
        default=None,
        pattern=r"^\$(\.[A-Za-z0-9_-]+|\[[0-9]+\])+$",
        description="Path to the event id in a JSON body, e.g. `$.id` or `$.data.object.id`.",
    )
    window: Annotated[int, Seconds(MINUTE, 30 * DAY, "How long an event id is remembered.")] = DAY


IngressKind = Literal["rest", "http", "function-url"]
INGRESS_DESCRIPTION = (
    "How webhooks arrive: `rest`, an API Gateway REST API writing to SQS (any body, all "
    "headers); `http`, an HTTP API writing to SQS (cheaper; UTF-8 text bodies and the headers "
    "verification needs); `function-url`, a small ingest function behind a Lambda function URL "
    "(no gateway fee; checks signatures before storing, answers provider handshakes). A change "
    "of kind changes the endpoint URL; the old one stays live (`ingress_retire_after`)."
)


# After a change of `ingress`, the old endpoint keeps writing into the same queue (senders still
# call its URL until someone updates them) until a deploy finds it quiet this long (plan/
# endpoints.py reads its request count from CloudWatch).
RETIRE_AFTER_DESCRIPTION = (
    "After a change of `ingress`, the old endpoint stays live, writing into the same queue, "
    "until a deploy finds it without requests for this long (CloudWatch)."
)


# The public URL invokes the function for any request, forged ones too: without a cap, a flood
# takes the account's whole concurrency (the consumers' included). 10 concurrent ingests of
# ~50 ms each are ~200 requests/s. https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html
DEFAULT_INGEST_CONCURRENCY = 10


class IngressFunction(Strict):
    """The ingest function of `ingress: function-url`."""

    memory: int = Field(
        default=128, ge=128, le=10240, description="MiB; more memory is also more CPU."
    )
    reserved_concurrency: int | None = Field(
        default=DEFAULT_INGEST_CONCURRENCY,
        ge=1,
        le=1000,
        description="Requests handled at once, at most, reserved from the account's pool "
        f"(1,000 by default); above it the URL answers 429. Default "
        f"{DEFAULT_INGEST_CONCURRENCY}, so forged requests cannot take the account's "
        "concurrency; `null`: no cap.",
    )


GROUP_BY_PATTERN = r"^(header:[A-Za-z0-9-]{1,128}|json:\$(\.[A-Za-z0-9_-]+|\[[0-9]+\])+)$"
_GROUP_BY = re.compile(GROUP_BY_PATTERN)


def _group_by(value: str) -> str:
    if not _GROUP_BY.fullmatch(value):
        raise ValueError(
            "must be `header:<Header-Name>` (e.g. `header:X-Order-Id`) or "
            "`json:<path>` (e.g. `json:$.order.id`)"
        )
    return value


GroupBy = Annotated[
    str,
    AfterValidator(_group_by),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": GROUP_BY_PATTERN,
            "description": "FIFO only: the MessageGroupId, from a header (`header:X-Order-Id`) "
            "or a JSON body path (`json:$.order.id`); webhooks of one key are delivered in "
            "order, different keys in parallel. Missing or unusable: the one default group.",
        }
    ),
]


class Queue(Strict):
    """The SQS queue that holds webhooks until the consumer takes them."""

    visibility_timeout: (
        Annotated[
            int, Seconds(0, 12 * HOUR, "Default: 6x consumer.timeout + consumer.batching_window.")
        ]
        | None
    ) = Field(
        default=None,
        description="How long a taken webhook stays hidden from other consumers; "
        "default 6x consumer.timeout (AWS's advice) plus consumer.batching_window. "
        "Duration, 0s..12h.",
    )
    retention: Annotated[
        int, Seconds(MINUTE, 14 * DAY, "How long an unconsumed webhook is kept.")
    ] = 4 * DAY
    max_receive_count: int = Field(
        default=5, ge=1, le=1000, description="Attempts before a webhook goes to the DLQ."
    )
    fifo: bool = Field(default=False, description="FIFO queue: ordered, exactly-once send.")
    group_by: GroupBy | None = None
    max_message_size: Annotated[int, Bytes(KIB, MIB, "Largest stored envelope.")] = MIB


HANDLER_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$"
# Lambda's key pattern is [a-zA-Z]([a-zA-Z0-9_])+: a letter first, two characters at least.
# https://docs.aws.amazon.com/lambda/latest/dg/API_Environment.html
ENV_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_]+$"
# Set by the Lambda runtime (and refused by the API): AWS_*, LAMBDA_*, _HANDLER, TZ...
# https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html ; NAMI_ by nami.
RESERVED_ENV = re.compile(r"^(AWS_|LAMBDA_|_HANDLER\Z|TZ\Z|NAMI_)")


class Retry(Strict):
    """When a failed webhook is tried again: each attempt waits longer (or the same)."""

    backoff: Literal["exponential", "fixed"] = Field(
        default="exponential",
        description="`exponential`: the wait doubles after each failed attempt, up to `max`; "
        "`fixed`: every wait is `initial`.",
    )
    initial: Annotated[int, Seconds(1, 12 * HOUR, "Wait after the first failed attempt.")] = 10
    max: Annotated[int, Seconds(1, 12 * HOUR, "Longest wait between two attempts.")] = HOUR


class ConsumerSettings(Strict):
    """Consumer settings; in `defaults` every key but `code`."""

    handler: str = Field(
        default="handler.handle",
        pattern=HANDLER_PATTERN,
        description="`module.function` in the code folder.",
    )
    mode: Literal["webhook", "sqs"] = Field(
        default="webhook",
        description="`webhook`: one call per verified webhook through the Nami runtime; "
        "`sqs`: your function gets the raw SQS batch.",
    )
    runtime: Literal["python3.11", "python3.12", "python3.13"] = Field(
        default="python3.12", description="Lambda runtime of the consumer."
    )
    architecture: Literal["arm64", "x86_64"] = Field(
        default="arm64", description="Lambda architecture; wheels are fetched for it."
    )
    memory: int = Field(default=256, ge=128, le=10240, description="MiB.")
    timeout: Annotated[int, Seconds(1, 900, "Lambda timeout for one batch.")] = 30
    environment: dict[Annotated[str, Field(pattern=ENV_NAME_PATTERN)], ValueOrReference] = Field(
        default_factory=dict,
        description="Environment variables; a value `ssm:/...` or `secretsmanager:...` is "
        "resolved at cold start and never stored in the template (a value starting `ssm:` or "
        "`secretsmanager:` must be such a reference).",
    )
    batch_size: int = Field(default=10, ge=1, le=10000, description="Records per invocation.")
    batching_window: Annotated[int, Seconds(0, 300, "Wait to fill a batch (needed above 10).")] = 0
    max_concurrency: int = Field(
        default=10,
        ge=2,
        le=1000,
        description="Most consumer invocations at once: protects what the consumer calls.",
    )
    retry: Retry | None = Field(
        default=None,
        description="Retry schedule of failed webhooks; default: each retry after "
        "queue.visibility_timeout.",
    )


class Consumer(ConsumerSettings):
    """The Lambda function that drains the queue."""

    code: str | None = Field(
        default=None,
        min_length=1,
        description="Folder with the handler code, relative to nami.yaml; required unless "
        "the pipeline has `forward`.",
    )


class DeadLetter(Strict):
    """Where webhooks go after `queue.max_receive_count` failed attempts."""

    retention: Annotated[int, Seconds(MINUTE, 14 * DAY, "How long a dead letter is kept.")] = (
        14 * DAY
    )
    alarm_threshold: int = Field(
        default=1, ge=1, le=1_000_000, description="Alarm when this many are waiting."
    )


# An SNS standard topic in any partition; CloudWatch alarms cannot publish to FIFO topics.
TOPIC_ARN_PATTERN = r"^arn:aws[a-z-]*:sns:[a-z]{2}(-[a-z]+)+-[0-9]:[0-9]{12}:[A-Za-z0-9_-]{1,256}$"
_TOPIC_ARN = re.compile(TOPIC_ARN_PATTERN)
# A host of dot-separated labels (no trailing dot: `events.pagerduty.com.` is the same host and
# would pass the checks below), a port of 1-65535, then visible ASCII only (no space, no
# control character such as ESC).
_PORT = r"([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
HTTPS_URL_PATTERN = rf"^https://[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:{_PORT})?(/[!-~]*)?$"
_HTTPS_URL = re.compile(HTTPS_URL_PATTERN)
SECRETS_MANAGER_REF_PATTERN = r"^secretsmanager:[A-Za-z0-9/_+=.@\-]+$"
_SECRETS_MANAGER_REF = re.compile(SECRETS_MANAGER_REF_PATTERN)
# No `@`, space or control character in either part (an ESC would reach SNS and the mail).
EMAIL_PATTERN = r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$"
# Integration URLs that carry their key in the URL itself: a secret, so only by reference.
KEYED_ALARM_HOSTS = ("events.pagerduty.com", "webhook.office.com", "logic.azure.com")
SLACK_WEBHOOK_HOST = "hooks.slack.com"


def _topic_arn(value: str) -> str:
    if not _TOPIC_ARN.fullmatch(value):
        raise ValueError(
            "must be the ARN of an SNS standard topic, like "
            "`arn:aws:sns:eu-west-1:123456789012:oncall` (CloudWatch cannot publish to FIFO topics)"
        )
    return value


def _alarm_endpoint(value: str) -> str:
    if _SECRETS_MANAGER_REF.fullmatch(value):
        return value
    if value.startswith("ssm:"):
        # CloudFormation resolves SecureString parameters (`ssm-secure`) only in a short list of
        # properties that excludes SNS subscriptions; a plain String parameter is not encrypted.
        raise ValueError(
            "an alarm URL is read by CloudFormation, which cannot resolve an SSM SecureString "
            "for an SNS subscription: store it in Secrets Manager and write `secretsmanager:name`"
        )
    if not _HTTPS_URL.fullmatch(value):
        raise ValueError(_https_url_problem(value))
    host = value.split("/")[2].split(":")[0].lower()

    def on(domain: str) -> bool:
        return host == domain or host.endswith("." + domain)

    if on(SLACK_WEBHOOK_HOST):
        raise ValueError(
            "a Slack incoming webhook cannot confirm an SNS subscription, so it would never "
            "receive an alarm: route alarms to Slack with AWS Chatbot on `alarms.topic`, or a "
            "relay function (docs/alarms.md)"
        )
    if any(on(domain) for domain in KEYED_ALARM_HOSTS):
        raise ValueError(
            f"this {host} URL carries its integration key: store it in Secrets Manager and "
            "write `secretsmanager:name`"
        )
    return value


def _https_url_problem(value: str) -> str:
    """Why HTTPS_URL_PATTERN refuses `value`, for the cases people write."""
    usage = "must be an `https://` URL, or `secretsmanager:name` where the URL is stored"
    if not value.startswith("https://"):
        return usage
    authority = value.removeprefix("https://").split("/")[0]
    host, _, port = authority.partition(":")
    if host.endswith("."):
        return f"{usage}: write the host without the final dot"
    if port and not (port.isdigit() and 1 <= int(port) <= 65535):
        return f"{usage}: the port must be 1-65535"
    if any(not "!" <= char <= "~" for char in value):
        return f"{usage}: no space, control or non-ASCII character (percent-encode them)"
    return usage


def _count_threshold(high: int) -> Any:
    def check(value: object) -> int | bool:
        if value is False:
            return False
        if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= high:
            return value
        raise ValueError(f"must be a whole number from 1 to {high}, or false to turn it off")

    return check


def _percent_threshold(value: object) -> float | bool:
    if value is False:
        return False
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value <= 100:
        return float(value)
    raise ValueError("must be a percentage above 0 and at most 100, or false to turn it off")


def _switchable(number: dict[str, Any]) -> WithJsonSchema:
    return WithJsonSchema({"anyOf": [number, {"const": False}]})


CountThreshold = Annotated[
    int | bool,
    PlainValidator(_count_threshold(1_000_000)),
    _switchable({"type": "integer", "minimum": 1, "maximum": 1_000_000}),
]
PercentThreshold = Annotated[
    float | bool,
    PlainValidator(_percent_threshold),
    _switchable({"type": "number", "exclusiveMinimum": 0, "maximum": 100}),
]
AlarmEndpoint = Annotated[
    str,
    AfterValidator(_alarm_endpoint),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": HTTPS_URL_PATTERN},
                {"type": "string", "pattern": SECRETS_MANAGER_REF_PATTERN},
            ]
        }
    ),
]


class Alarms(Strict):
    """CloudWatch alarms on the DLQ, the backlog, refused webhooks, the consumer and the
    endpoint, sent (alarm and back to OK) to the pipeline's SNS topic."""

    email: list[Annotated[str, Field(pattern=EMAIL_PATTERN)]] = Field(
        default_factory=list,
        description="Addresses subscribed to the pipeline's alarm topic (one stack resource "
        "each: the stack's 500-resource limit is checked at validate time).",
    )
    https: list[AlarmEndpoint] = Field(
        default_factory=list,
        max_length=5,
        description="HTTPS endpoints subscribed to the alarm topic (at most 5), e.g. PagerDuty's "
        "CloudWatch integration URL. The endpoint must confirm the SNS subscription: Slack "
        "incoming webhooks cannot. A URL that carries a key goes by reference "
        "(`secretsmanager:name`, resolved by CloudFormation).",
    )
    topic: (
        Annotated[
            str,
            AfterValidator(_topic_arn),
            WithJsonSchema({"type": "string", "pattern": TOPIC_ARN_PATTERN}),
        ]
        | None
    ) = Field(
        default=None,
        description="An existing SNS topic (ARN) that also receives every alarm and OK "
        "notification, e.g. the one AWS Chatbot watches. Its policy must let "
        "cloudwatch.amazonaws.com publish.",
    )
    backlog_age: Annotated[
        int, Seconds(MINUTE, 14 * DAY, "Alarm when the oldest webhook waits longer.")
    ] = 15 * MINUTE
    rejected: int = Field(
        default=1,
        ge=1,
        le=1_000_000,
        description="Alarm when this many webhooks a minute fail verification or cannot be "
        "decoded (moved to the DLQ as rejected or malformed).",
    )
    errors: CountThreshold = Field(
        default=1,
        description="Alarm when the consumer function fails this many invocations a minute "
        "(AWS/Lambda Errors: crashes, timeouts, a runtime that cannot start); false: no alarm.",
    )
    throttles: CountThreshold = Field(
        default=1,
        description="Alarm when Lambda throttles this many consumer invocations a minute "
        "(AWS/Lambda Throttles; throttled batches still use up receives); false: no alarm.",
    )
    ingress_5xx: PercentThreshold = Field(
        default=1.0,
        description="Alarm when this percentage of requests to the endpoint over 5 minutes got "
        "a 5xx (the webhook was not stored; AWS/ApiGateway 5XXError); needs 10 requests in "
        "the 5 minutes; false: no alarm.",
    )
    ingress_4xx: PercentThreshold = Field(
        default=10.0,
        description="Alarm when this percentage of requests to the endpoint over 5 minutes got "
        "a 4xx (throttled 429s, bodies too large, wrong path; AWS/ApiGateway 4XXError); needs "
        "10 requests in the 5 minutes; false: no alarm.",
    )


class Throttle(Strict):
    """Stage throttling at the endpoint (API Gateway answers 429 above it)."""

    # At least 0.01: a positive rate such as 5e-324 would refuse every request past the burst.
    rate: float | None = Field(
        default=None,
        ge=0.01,
        le=10000,
        description="Steady requests per second (0.01..10000); default 500, or 250 for a FIFO "
        "queue (SQS FIFO takes at most 300 SendMessage calls a second).",
    )
    burst: int | None = Field(
        default=None,
        ge=1,
        le=5000,
        description="Requests allowed in a burst; default 1000, or 50 for a FIFO queue.",
    )


def _no_tilde(path: str) -> str:
    if "~" in path:
        raise ValueError("path segments may not contain `~`: API Gateway refuses it at deploy")
    return path


PATH_PATTERN = r"^(/[A-Za-z0-9._-]+)+$"
# The model's own pattern admits `~` so that `_no_tilde` can say why it is refused.
EndpointPath = Annotated[
    str,
    Field(pattern=r"^(/[A-Za-z0-9._~-]+)+$", max_length=256),
    AfterValidator(_no_tilde),
    WithJsonSchema({"type": "string", "pattern": PATH_PATTERN, "maxLength": 256}),
]


def _not_aws_prefixed(key: str) -> str:
    if key.lower().startswith("aws:"):
        raise ValueError("tag keys starting with `aws:` are reserved by AWS")
    return key


Tags = dict[
    Annotated[
        str,
        Field(min_length=1, max_length=128, pattern=r"^[\w .:/=+@-]+$"),
        AfterValidator(_not_aws_prefixed),
    ],
    Annotated[str, Field(max_length=256, pattern=r"^[\w .:/=+@-]*$")],
]


# --- forward: deliver to an existing HTTP endpoint ------------------------------------------

RATE_PATTERN = r"^[0-9]+(\.[0-9]+)?/(s|m|h)$"
_RATE = re.compile(RATE_PATTERN)
_PER = {"s": 1.0, "m": 60.0, "h": 3600.0}
MIN_RATE, MAX_RATE = 1 / 3600, 10_000.0
FORWARD_URL_PATTERN = (
    r"^(https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^\s#]*)?"
    r"|http://(localhost|127\.0\.0\.1)(:[0-9]{1,5})?(/[^\s#]*)?)$"
)
_FORWARD_URL = re.compile(FORWARD_URL_PATTERN)
FORWARD_HEADER_PATTERN = r"^[A-Za-z0-9-]{1,128}$"
# Set by nami on every delivery (Standard Webhooks) or by HTTP itself.
RESERVED_FORWARD_HEADERS = frozenset(
    {
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
    }
)


def _rate(value: object) -> float:
    """`50/s`, `300/m`, `1000/h` (or a number: per second) -> requests per second."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        # Compared before float(): a YAML integer can be beyond a float's range.
        per_second = float(value) if abs(value) <= MAX_RATE else float("inf")
    elif isinstance(value, str) and _RATE.match(value.strip()):
        number, _, unit = value.strip().partition("/")
        per_second = float(number) / _PER[unit]
    else:
        raise ValueError("must be a rate like `50/s`, `300/m` or `1000/h`")
    if not MIN_RATE <= per_second <= MAX_RATE:
        raise ValueError("must be between 1/h and 10000/s")
    return per_second


Rate = Annotated[
    float,
    PlainValidator(_rate),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": RATE_PATTERN},
                {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_RATE},
            ]
        }
    ),
]


def _forward_url(value: str) -> str:
    if is_secret_reference(value):
        return value
    if not _FORWARD_URL.match(value):
        raise ValueError(
            "must be an `https://` URL, `http://localhost...` or `http://127.0.0.1...` (reachable "
            "from `nami dev` only), or a reference (`ssm:/path`, `secretsmanager:name`) to where "
            "the URL is stored"
        )
    # What the pattern lets through but no request could reach: every delivery would fail.
    host, _, port = value.split("/")[2].partition(":")
    if port and not 1 <= int(port) <= 65535:
        raise ValueError(f"the port must be 1-65535, not {port}")
    if host.endswith(".") and host.rstrip("."):
        raise ValueError(f"`{host}`: write the host without the final dot")
    if any(not label or label.startswith("-") or label.endswith("-") for label in host.split(".")):
        raise ValueError(
            f"`{host}` is not a host name: labels of letters, digits and `-` (not first or "
            "last), separated by single dots"
        )
    return value


def _forward_header(name: str) -> str:
    if name.lower() in RESERVED_FORWARD_HEADERS:
        raise ValueError("is set by nami on every delivery")
    return name


class Forward(Strict):
    """Deliver each verified webhook to an existing HTTP endpoint at a bounded rate, signed by
    nami (Standard Webhooks), instead of calling a handler."""

    url: Annotated[
        str,
        AfterValidator(_forward_url),
        WithJsonSchema(
            {"type": "string", "pattern": FORWARD_URL_PATTERN + "|" + SECRET_REF_PATTERN}
        ),
    ] = Field(
        description="The destination: an `https://` URL, or `ssm:/path` / `secretsmanager:name` "
        "where it is stored (resolved at cold start). `http://localhost` and "
        "`http://127.0.0.1` are for `nami dev` only."
    )
    rate: Rate | None = Field(
        default=None,
        description="Most requests a second to the destination, across all concurrent "
        "deliveries: `50/s`, `300/m`, `1000/h`, or a number (per second). Unset: no rate "
        "bound (only `concurrency`).",
    )
    concurrency: int = Field(
        default=10,
        ge=2,
        le=1000,
        description="Most requests in flight at once (the event source mapping's maximum "
        "concurrency, at least 2; each invocation sends one request at a time).",
    )
    timeout: Annotated[
        int, Seconds(1, 300, "How long one request may take before it is retried.")
    ] = 30
    headers: dict[
        Annotated[str, Field(pattern=FORWARD_HEADER_PATTERN), AfterValidator(_forward_header)],
        Annotated[
            str,
            Field(max_length=1024, pattern=r"^[^\r\n]*$"),
            AfterValidator(_value_or_reference),
        ],
    ] = Field(
        default_factory=dict,
        description="Headers added to every delivery (over the sender's); a value "
        "`ssm:/...` or `secretsmanager:...` is resolved at cold start, e.g. a bearer token (a "
        "value starting `ssm:` or `secretsmanager:` must be such a reference).",
    )
    path: Literal["append", "none"] = Field(
        default="append",
        description="`append`: the request path after the pipeline's path, and the query "
        "string, are appended to `url`; `none`: always `url` as written.",
    )


class ConsumerOverride(ConsumerSettings):
    """Keys of `consumer` for one environment; merged over the pipeline's."""

    code: str | None = Field(
        default=None, min_length=1, description="Folder with the handler code."
    )


# --- routes: one verified endpoint, several destinations -----------------------------------

JSON_PATH_PATTERN = r"^\$(\.[A-Za-z0-9_-]+|\[[0-9]+\])+$"
HEADER_NAME_PATTERN = r"^[A-Za-z0-9-]+$"
DEFAULT_MATCH = "default"
# A route's queue is `<project>-<pipeline>_<route>-dlq.fifo`: `_` cannot occur in pipeline
# names, so a route's queues never collide with another pipeline's. SQS allows 80 characters;
# the project and pipeline caps (30 + 40) leave room for a short route name only, which
# validate.py checks on the whole name.
ROUTE_NAME_MAX = 40


class RouteMatch(Strict):
    """Which webhooks a route takes: one source (`header` or `json`) and one test."""

    header: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        pattern=HEADER_NAME_PATTERN,
        description="Header to test (case-insensitive), e.g. `X-GitHub-Event`.",
    )
    json_path: str | None = Field(
        default=None,
        alias="json",
        pattern=JSON_PATH_PATTERN,
        description="Path into a JSON body, e.g. `$.type` or `$.data.object.status`.",
    )
    equals: str | None = Field(
        default=None,
        description="The value is exactly this. A JSON boolean reads `true`/`false`, a whole "
        "number its digits, any other number the decimal it parses to (`1e3`: `1000.0`).",
    )
    prefix: str | None = Field(
        default=None, min_length=1, description="The value starts with this, e.g. `invoice.`."
    )
    one_of: list[str] | None = Field(
        default=None,
        alias="in",
        min_length=1,
        max_length=100,
        description="The value is one of these.",
    )
    exists: bool | None = Field(
        default=None,
        description="`true`: the header or path is present (any value but JSON `null`, "
        "which counts as absent); `false`: absent.",
    )


def _match(value: object) -> object:
    if not isinstance(value, dict) and value != DEFAULT_MATCH:
        raise ValueError(
            "write `default` (what no other route matched), or a mapping: `header` or `json`, "
            "and one of `equals`, `prefix`, `in`, `exists`"
        )
    return value


def _match_kind(value: object) -> str:
    # One branch per shape, so an error is reported once, at the value (not per union branch).
    return "default" if isinstance(value, str) else "test"


Match = Annotated[
    Annotated[Literal["default"], Tag("default")] | Annotated[RouteMatch, Tag("test")],
    Discriminator(_match_kind),
    BeforeValidator(_match),
    Field(
        description="`default`: every webhook no other route matched; or a test on a header or "
        'a JSON path: `{json: $.type, prefix: "invoice."}`, `{header: X-Event, in: [a, b]}`, '
        '`{json: $.livemode, equals: "true"}`, `{header: X-Test, exists: false}`.',
    ),
]


class Route(Strict):
    """One destination of a `routes:` pipeline: its own queue, dead-letter queue, consumer (or
    forward), concurrency, retry and alarms; settings not written are the pipeline's."""

    match: Match
    consumer: ConsumerOverride | None = Field(
        default=None,
        description="The route's handler (`code`) and consumer settings, over the pipeline's.",
    )
    forward: Forward | None = Field(
        default=None, description="Deliver this route's webhooks to an existing HTTP endpoint."
    )
    queue: Queue | None = Field(
        default=None, description="The route's queue settings, over the pipeline's."
    )
    dead_letter: DeadLetter | None = Field(
        default=None, description="The route's dead-letter queue settings, over the pipeline's."
    )


RouteName = Annotated[
    str,
    Field(min_length=1, max_length=ROUTE_NAME_MAX),
    AfterValidator(_name),
]


class Pipeline(Strict):
    """One webhook source: an endpoint, a queue, a consumer and its dead-letter queue."""

    path: EndpointPath | None = Field(
        default=None, description="Endpoint path; default `/<pipeline name>`."
    )
    description: str = Field(default="", max_length=256, description="Free text for people.")
    verify: Verify = Field(
        description="How webhooks are authenticated: `scheme` picks the keys below."
    )
    dedupe: Dedupe | None = None
    queue: Queue = Queue()
    consumer: Consumer = Consumer()
    forward: Forward | None = Field(
        default=None,
        description="Deliver to an existing HTTP endpoint instead of a handler in "
        "`consumer.code` (the consumer's batch, memory and retry settings still apply).",
    )
    routes: dict[RouteName, Route] | None = Field(
        default=None,
        min_length=1,
        description="Route name -> route: one verified endpoint split by event type, each "
        "route with its own queue, dead-letter queue and consumer or forward. Instead of "
        "`consumer.code` and `forward` (the pipeline's consumer settings run the router and "
        "are what routes inherit).",
        json_schema_extra={"propertyNames": {"pattern": NAME_PATTERN, "maxLength": 40}},
    )
    unrouted: Literal["keep", "drop"] = Field(
        default="keep",
        description="With `routes`, a webhook that matches no route: `keep` moves it to the "
        "dead-letter queue with reason `unrouted` (alarmed); `drop` counts and logs it only.",
    )
    dead_letter: DeadLetter = DeadLetter()
    alarms: Alarms = Alarms()
    dashboard: bool = Field(
        default=True, description="Compile a CloudWatch dashboard with the stack."
    )
    throttle: Throttle = Throttle()
    tags: Tags = Field(default_factory=dict, description="Extra tags for this pipeline's stack.")
    ingress: IngressKind = Field(default="rest", description=INGRESS_DESCRIPTION)
    ingress_function: IngressFunction | None = Field(
        default=None, description="Only with `ingress: function-url`: its ingest function."
    )
    ingress_retire_after: Annotated[int, Seconds(HOUR, 90 * DAY, RETIRE_AFTER_DESCRIPTION)] = (
        7 * DAY
    )


class Defaults(Strict):
    """Settings every pipeline inherits; a pipeline's own keys win (deep merge)."""

    queue: Queue = Queue()
    consumer: ConsumerSettings = ConsumerSettings()
    dead_letter: DeadLetter = DeadLetter()
    alarms: Alarms = Alarms()
    dashboard: bool = Field(
        default=True, description="Compile a CloudWatch dashboard with the stack."
    )
    throttle: Throttle = Throttle()
    ingress: IngressKind = Field(default="rest", description=INGRESS_DESCRIPTION)
    ingress_function: IngressFunction | None = Field(
        default=None, description="Only with `ingress: function-url`: its ingest function."
    )
    ingress_retire_after: Annotated[int, Seconds(HOUR, 90 * DAY, RETIRE_AFTER_DESCRIPTION)] = (
        7 * DAY
    )


# General purpose bucket naming rules beyond the character set and length:
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
BUCKET_PATTERN = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
_BUCKET_IP = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
BUCKET_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
BUCKET_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def bucket_name_problem(name: str) -> str | None:
    """Why S3 refuses `name` as a general purpose bucket name, or None."""
    if not re.fullmatch(BUCKET_PATTERN, name):
        return (
            "must be 3-63 lowercase letters, digits, `.` or `-`, starting and ending with a "
            "letter or digit"
        )
    if ".." in name:
        return "must not contain two adjacent periods"
    if _BUCKET_IP.fullmatch(name):
        return "must not look like an IP address"
    prefix = next((p for p in BUCKET_RESERVED_PREFIXES if name.startswith(p)), None)
    if prefix:
        return f"must not start with `{prefix}` (reserved by S3)"
    suffix = next((s for s in BUCKET_RESERVED_SUFFIXES if name.endswith(s)), None)
    if suffix:
        return f"must not end with `{suffix}` (reserved by S3)"
    return None


def _bucket_name(name: str) -> str:
    problem = bucket_name_problem(name)
    if problem:
        raise ValueError(f"is not a valid S3 bucket name: {problem}")
    return name


class Artifacts(Strict):
    """Where packaged consumer code is uploaded."""

    bucket: Annotated[str, Field(pattern=BUCKET_PATTERN), AfterValidator(_bucket_name)] | None = (
        Field(
            default=None,
            description="Existing S3 bucket for consumer code; default: the `nami bootstrap` one.",
        )
    )


def _integer_one(value: object) -> object:
    # `true` and `1.0` equal 1 in Python, so Literal[1] alone would take them.
    if type(value) is not int or value != 1:
        raise ValueError("must be the integer 1 (`version: 1`)")
    return value


# --- environments: one config, several deployments (staging, production...) ---------------

REGION_PATTERN = r"^[a-z]{2}(-[a-z]+)+-[0-9]$"
ACCOUNT_PATTERN = r"^[0-9]{12}$"
EnvironmentName = Annotated[
    str,
    Field(min_length=1, max_length=30),
    AfterValidator(_name),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": NAME_PATTERN,
            "maxLength": 30,
            "description": "Environment name, part of every stack name: lowercase letters, "
            "digits and hyphens.",
        }
    ),
]


class VerifyOverride(Strict):
    """Keys of `verify` for one environment (usually `secret`); merged over the pipeline's."""

    scheme: Literal[SCHEMES] | None = None  # type: ignore[valid-type]
    secret: SigningSecrets | None = None
    tolerance: Tolerance | None = None
    header: str | None = Field(
        default=None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9-]+$"
    )
    encoding: Literal["hex", "base64"] | None = None
    prefix: str | None = Field(default=None, max_length=32)
    topics: list[Annotated[str, Field(pattern=SNS_TOPIC_PATTERN)]] | None = Field(
        default=None, min_length=1, max_length=100
    )


class ForwardOverride(Forward):
    """Keys of `forward` for one environment (usually `url`); merged over the pipeline's."""

    url: (
        Annotated[
            str,
            AfterValidator(_forward_url),
            WithJsonSchema(
                {"type": "string", "pattern": FORWARD_URL_PATTERN + "|" + SECRET_REF_PATTERN}
            ),
        ]
        | None
    ) = None  # type: ignore[assignment]


class RouteOverride(Route):
    """Keys of a route for one environment; merged over the pipeline's route."""

    match: Match | None = None  # type: ignore[assignment]
    forward: ForwardOverride | None = None


class PipelineOverride(Pipeline):
    """A pipeline's keys for one environment, deep-merged over the pipeline (the same rules
    as `defaults`): write only what differs."""

    routes: dict[RouteName, RouteOverride] | None = None  # type: ignore[assignment]

    verify: VerifyOverride | None = None  # type: ignore[assignment]
    consumer: ConsumerOverride | None = None  # type: ignore[assignment]
    forward: ForwardOverride | None = None


class EnvironmentOverrides(Strict):
    """What differs in this environment, deep-merged like `defaults`."""

    defaults: Defaults = Field(
        default=Defaults(),
        description="Merged over the top-level `defaults`; the same keys.",
    )
    pipelines: dict[PipelineName, PipelineOverride] = Field(
        default_factory=dict,
        description="Pipeline name -> keys merged over that pipeline (the keys of "
        "`pipelines.<name>`, none required).",
    )


class Environment(Strict):
    """One deployment of the pipelines: stacks `<project>-<environment>-<pipeline>`."""

    region: str | None = Field(
        default=None,
        pattern=REGION_PATTERN,
        description="AWS region of this environment; default the top-level `region`.",
    )
    account: str | None = Field(
        default=None,
        pattern=ACCOUNT_PATTERN,
        description="AWS account id (12 digits, quoted): plan, deploy and destroy refuse "
        "credentials of another account.",
    )
    pipelines: list[PipelineName] | None = Field(
        default=None, min_length=1, description="The pipelines deployed here; default all."
    )
    tags: Tags = Field(default_factory=dict, description="Tags merged over the top-level `tags`.")
    overrides: EnvironmentOverrides = EnvironmentOverrides()


class NamiFile(Strict):
    """nami.yaml, version 1."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        frozen=True,
        title="nami.yaml",
        json_schema_extra={"$schema": "https://json-schema.org/draft/2020-12/schema"},
    )

    version: Annotated[Literal[1], BeforeValidator(_integer_one)] = Field(
        description="Version of the nami.yaml language."
    )
    project: ProjectName
    region: str | None = Field(
        default=None,
        pattern=REGION_PATTERN,
        description="AWS region; default from the environment.",
    )
    tags: Tags = Field(default_factory=dict, description="Tags on every stack and resource.")
    artifacts: Artifacts = Artifacts()
    defaults: Defaults = Defaults()
    pipelines: dict[PipelineName, Pipeline] = Field(
        min_length=1,
        description="Pipeline name -> pipeline. Each becomes the stack `<project>-<name>`.",
        json_schema_extra={"propertyNames": {"pattern": NAME_PATTERN, "maxLength": 40}},
    )
    environments: dict[EnvironmentName, Environment] | None = Field(
        default=None,
        description="Environment name -> environment. With environments, each pipeline "
        "becomes the stack `<project>-<environment>-<pipeline>` and every command takes "
        "`--env NAME` (or NAMI_ENV).",
        json_schema_extra={"propertyNames": {"pattern": NAME_PATTERN, "maxLength": 30}},
    )
