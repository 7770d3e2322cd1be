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
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    WithJsonSchema,
)
from pydantic_core import core_schema

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
    if not _SECRET_REF.match(value):
        raise ValueError(
            "must be a reference to where the secret is stored (`ssm:/path/to/parameter` or "
            "`secretsmanager:secret-name`), never the secret itself"
        )
    return value


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
    return bool(_SECRET_REF.match(value))


def _name(value: str) -> str:
    if not _NAME.match(value):
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


def _signing_secrets(value: str | list[str]) -> str | list[str]:
    if isinstance(value, str):
        return _secret_reference(value)
    if not 1 <= len(value) <= 2:
        raise ValueError("list one or two references: the current secret, then the previous one")
    for reference in value:
        _secret_reference(reference)
    return value


# One validator for both shapes, so an error points at the value (not at a union branch).
SigningSecrets = Annotated[
    str | list[str],
    AfterValidator(_signing_secrets),
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


class NoVerify(Strict):
    """Accept every request unsigned. Only for senders that cannot sign."""

    scheme: Literal["none"]


Verify = Annotated[
    GithubVerify
    | ShopifyVerify
    | StripeVerify
    | SlackVerify
    | StandardWebhooksVerify
    | HmacVerify
    | NoVerify,
    Field(discriminator="scheme"),
]
SCHEMES = ("github", "stripe", "shopify", "slack", "standard-webhooks", "hmac-sha256", "none")


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


GROUP_BY_PATTERN = r"^(header:[A-Za-z0-9-]{1,128}|json:\$(\.[A-Za-z0-9_-]+|\[[0-9]+\])+)$"
_GROUP_BY = re.compile(GROUP_BY_PATTERN)


def _group_by(value: str) -> str:
    if not _GROUP_BY.match(value):
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
ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
RESERVED_ENV = re.compile(r"^(AWS_|LAMBDA_|_HANDLER$|NAMI_)")


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
    environment: dict[Annotated[str, Field(pattern=ENV_NAME_PATTERN)], str] = Field(
        default_factory=dict,
        description="Environment variables; a value `ssm:/...` or `secretsmanager:...` is "
        "resolved at cold start and never stored in the template.",
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

    code: str = Field(
        min_length=1, description="Folder with the handler code, relative to nami.yaml."
    )


class DeadLetter(Strict):
    """Where webhooks go after `queue.max_receive_count` failed attempts."""

    retention: Annotated[int, Seconds(MINUTE, 14 * DAY, "How long a dead letter is kept.")] = (
        14 * DAY
    )
    alarm_threshold: int = Field(
        default=1, ge=1, le=1_000_000, description="Alarm when this many are waiting."
    )


class Alarms(Strict):
    """CloudWatch alarms on the DLQ and the backlog, sent to an SNS topic."""

    email: list[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]] = Field(
        default_factory=list, description="Addresses subscribed to the pipeline's alarm topic."
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


class Throttle(Strict):
    """Stage throttling at the endpoint (API Gateway answers 429 above it)."""

    rate: float | None = Field(
        default=None,
        gt=0,
        le=10000,
        description="Steady requests per second; default 500, or 250 for a FIFO queue "
        "(SQS FIFO takes at most 300 SendMessage calls a second).",
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
    consumer: Consumer
    dead_letter: DeadLetter = DeadLetter()
    alarms: Alarms = Alarms()
    throttle: Throttle = Throttle()
    tags: Tags = Field(default_factory=dict, description="Extra tags for this pipeline's stack.")


class Defaults(Strict):
    """Settings every pipeline inherits; a pipeline's own keys win (deep merge)."""

    queue: Queue = Queue()
    consumer: ConsumerSettings = ConsumerSettings()
    dead_letter: DeadLetter = DeadLetter()
    alarms: Alarms = Alarms()
    throttle: Throttle = Throttle()


class Artifacts(Strict):
    """Where packaged consumer code is uploaded."""

    bucket: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
        description="Existing S3 bucket for consumer code; default: the `nami bootstrap` one.",
    )


class NamiFile(Strict):
    """nami.yaml, version 1."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        frozen=True,
        title="nami.yaml",
        json_schema_extra={"$schema": "https://json-schema.org/draft/2020-12/schema"},
    )

    version: Literal[1] = Field(description="Version of the nami.yaml language.")
    project: ProjectName
    region: str | None = Field(
        default=None,
        pattern=r"^[a-z]{2}(-[a-z]+)+-[0-9]$",
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
