"""AWS limits that CloudFormation would only hit at deploy time, checked at validate time.

Each check points at the key a user would change. Where nami itself adds to a limited
quantity (tags, Lambda environment variables, resources), the count comes from the same
functions the compiler uses, so the check cannot drift from what is deployed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nami_action.config.loader import PathKey
from nami_action.config.models import is_secret_reference
from nami_action.errors import Problem

if TYPE_CHECKING:
    from nami_action.config.validate import Config, PipelineConfig

# "Maximum number of tags per resource – 50"; tags starting `aws:` do not count (and nami
# refuses them as keys). The same rule on every tagged resource type, e.g.
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-eks-accessentry-tag.html
MAX_TAGS = 50
# "The total size of all environment variables doesn't exceed 4 KB" (keys and values).
# https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html
MAX_ENVIRONMENT_BYTES = 4 * 1024
# "Maximum number of resources that you can declare in your CloudFormation template: 500".
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html
MAX_RESOURCES = 500
# A variable whose value CloudFormation fills at deploy time (a table name, a queue URL) is
# counted at its longest: an SQS URL is https://sqs.<region>.amazonaws.com[.cn]/<12 digits>/
# <name of at most 80>, under 150 bytes; a generated table name is <stack>-<id>-<13>.
RESOLVED_REFERENCE_BYTES = 160
# Resources every pipeline has whatever its settings; a test keeps this an upper bound of the
# compiled count. Only alarm e-mails and path segments add resources one each, so a template
# is compiled to count exactly only when this bound could pass MAX_RESOURCES.
FIXED_RESOURCES_AT_MOST = 60
# Likewise for tags and the environment: the compiler is asked for the exact figure only when
# a cheap upper bound (tests keep it one) could pass the limit, so a usual config does not pay
# for compiling at validate time.
NAMI_TAGS_AT_MOST = 10
NAMI_ENVIRONMENT_OVERHEAD_AT_MOST = 1024  # variable names, JSON structure, resolved references
JSON_BYTES_PER_CHARACTER_AT_MOST = 12  # a character outside the BMP becomes two \uXXXX escapes


def limit_problems(config: Config, names: list[str]) -> list[Problem]:
    """The limits of the named pipelines (those free of other problems)."""
    problems: list[Problem] = []
    for pipeline in (config.pipelines[name] for name in names):
        problems.extend(_tag_count(config, pipeline))
        problems.extend(_environment_size(config, pipeline))
        problems.extend(_resource_count(config, pipeline))
    return problems


def tags_at_most(config: Config, pipeline: PipelineConfig) -> int:
    return len({**config.tags, **pipeline.spec.tags}) + NAMI_TAGS_AT_MOST


def _tag_count(config: Config, pipeline: PipelineConfig) -> list[Problem]:
    if tags_at_most(config, pipeline) <= MAX_TAGS:
        return []
    from nami_action.compile.names import resource_tags  # compile imports config: import late

    tags = resource_tags(config, pipeline)
    if len(tags) <= MAX_TAGS:
        return []
    added = len(tags) - len({**config.tags, **pipeline.spec.tags})
    doc = config.document
    own: PathKey = ("pipelines", pipeline.name, "tags")
    environment: PathKey = ("environments", config.environment or "", "tags")
    candidates = [own] if pipeline.spec.tags else []
    candidates += [environment] if config.environment else []
    where = next((c for c in candidates if c in doc.positions), ("tags",))
    return [
        doc.problem(
            where,
            f"pipeline `{pipeline.name}`: its resources would carry {len(tags)} tags "
            f"({added} set by nami, the rest from `tags` and `pipelines.{pipeline.name}.tags`); "
            f"AWS allows at most {MAX_TAGS} per resource",
            at_key=True,
        )
    ]


def environment_bytes(config: Config, pipeline: PipelineConfig) -> int:
    """The size Lambda counts for the function's environment, as the compiler writes it."""
    from nami_action.compile import consumer, names  # compile imports config: import late

    function = consumer._function(
        pipeline, consumer.CodeLocation(None, "artifact"), names.cfn_tags(config, pipeline)
    )
    variables: dict[str, Any] = function.Environment.Variables
    return sum(len(key.encode()) + _value_bytes(value) for key, value in variables.items())


def _value_bytes(value: Any) -> int:
    return len(value.encode()) if isinstance(value, str) else RESOLVED_REFERENCE_BYTES


def environment_bytes_at_most(pipeline: PipelineConfig) -> int:
    """Literal variables as written, plus everything nami serialises into NAMI_CONFIG (the
    handler, verify and dedupe settings, secret references) at its most escaped."""
    spec = pipeline.spec
    literal = reference = 0
    for name, value in spec.consumer.environment.items():
        if is_secret_reference(value):
            reference += len(name) + len(value)
        else:
            literal += len(name.encode()) + len(value.encode())
    settings = [spec.consumer.handler, pipeline.name, pipeline.stack_name]
    for section in (spec.verify, spec.dedupe):
        if section is not None:
            settings.extend(str(v) for v in section.model_dump().values())
    reference += sum(len(text) for text in settings)
    return (
        literal + JSON_BYTES_PER_CHARACTER_AT_MOST * reference + NAMI_ENVIRONMENT_OVERHEAD_AT_MOST
    )


def _environment_size(config: Config, pipeline: PipelineConfig) -> list[Problem]:
    if environment_bytes_at_most(pipeline) <= MAX_ENVIRONMENT_BYTES:
        return []
    size = environment_bytes(config, pipeline)
    if size <= MAX_ENVIRONMENT_BYTES:
        return []
    doc = config.document
    candidates: list[PathKey] = [
        ("pipelines", pipeline.name, "consumer", "environment"),
        ("defaults", "consumer", "environment"),
    ]
    where = next((c for c in candidates if c in doc.positions), candidates[0])
    return [
        doc.problem(
            where,
            f"pipeline `{pipeline.name}`: the consumer's environment would be {size:,} bytes "
            "(names and values, with what nami adds: NAMI_CONFIG holds the handler, verify and "
            f"dedupe settings and the secret references); Lambda allows {MAX_ENVIRONMENT_BYTES:,}"
            ": move large values to SSM or Secrets Manager references",
            at_key=True,
        )
    ]


def resources_at_most(pipeline: PipelineConfig) -> int:
    segments = [segment for segment in pipeline.path.split("/") if segment]
    return FIXED_RESOURCES_AT_MOST + len(pipeline.spec.alarms.email) + len(segments)


def resource_count(config: Config, pipeline: PipelineConfig) -> int | None:
    """The number of resources in the pipeline's compiled template; None when it is over
    MAX_RESOURCES (troposphere refuses to add the next one, as CloudFormation would)."""
    from nami_action.compile.consumer import CodeLocation  # compile imports config: late
    from nami_action.compile.pipeline import build_template

    try:
        template = build_template(config, pipeline, CodeLocation(None, "artifact"))
    except ValueError:
        return None
    return len(template.resources)


def _resource_count(config: Config, pipeline: PipelineConfig) -> list[Problem]:
    if resources_at_most(pipeline) <= MAX_RESOURCES:
        return []
    if resource_count(config, pipeline) is not None:
        return []
    doc = config.document
    candidates: list[PathKey] = [
        ("pipelines", pipeline.name, "alarms", "email"),
        ("defaults", "alarms", "email"),
        ("pipelines", pipeline.name, "path"),
    ]
    where = next((c for c in candidates if c in doc.positions), ("pipelines", pipeline.name))
    return [
        doc.problem(
            where,
            f"pipeline `{pipeline.name}`: its stack would hold more than {MAX_RESOURCES} "
            "resources, the most CloudFormation allows (one resource per alarm e-mail and per "
            "path segment): send alarms to a mailing list instead of many addresses",
            at_key=True,
        )
    ]
