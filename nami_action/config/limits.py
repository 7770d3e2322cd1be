"""AWS limits that CloudFormation would only hit at deploy time, checked at validate time.

Each check points at the key a user would change. Where nami itself adds to a limited
quantity (tags, Lambda environment variables, resources), the count comes from what the
compiler writes, so the check cannot drift from what is deployed: the tags from the naming
both share (`naming`), the environment and the resources from a `Measure` the caller hands in
(compile/limits.py), asked only when a cheap upper bound could pass the limit. The language
does not import the compiler; a caller that passes no Measure skips those two exact checks.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Protocol

from nami_action.config.loader import PathKey
from nami_action.config.models import is_secret_reference
from nami_action.config.naming import resource_tags
from nami_action.config.routes import route_pipelines, route_tests
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
# Resources every pipeline has whatever its settings; a test keeps this an upper bound of the
# compiled count. Only alarm e-mails and path segments add resources one each, so a template
# is compiled to count exactly only when this bound could pass MAX_RESOURCES.
FIXED_RESOURCES_AT_MOST = 60
# What each route of a `routes:` pipeline adds at most (queue, DLQ, function, its role, logs,
# event source mapping, alarms, a forward's signing secret, a dedupe table); a test keeps it so.
ROUTE_RESOURCES_AT_MOST = 15
# Likewise for tags and the environment: the compiler is asked for the exact figure only when
# a cheap upper bound (tests keep it one) could pass the limit, so a usual config does not pay
# for compiling at validate time.
NAMI_TAGS_AT_MOST = 10
NAMI_ENVIRONMENT_OVERHEAD_AT_MOST = 1024  # variable names, JSON structure, resolved references
JSON_BYTES_PER_CHARACTER_AT_MOST = 12  # a character outside the BMP becomes two \uXXXX escapes


class Measure(Protocol):
    """Exact figures of a compiled pipeline (compile/limits.py)."""

    def environment_bytes(self, config: Config, pipeline: PipelineConfig) -> int:
        """The size Lambda counts for the consumer's environment."""

    def resource_count(self, config: Config, pipeline: PipelineConfig) -> int | None:
        """Resources in the template; None when over MAX_RESOURCES."""


def limit_problems(config: Config, names: list[str], measure: Measure | None) -> list[Problem]:
    """The limits of the named pipelines (those free of other problems)."""
    problems: list[Problem] = []
    for pipeline in (config.pipelines[name] for name in names):
        problems.extend(_tag_count(config, pipeline))
        if measure is not None:
            problems.extend(_environment_size(config, pipeline, measure))
            for route in route_pipelines(pipeline).values():  # each route's own function
                problems.extend(_environment_size(config, route, measure))
            problems.extend(_resource_count(config, pipeline, measure))
    return problems


def tags_at_most(config: Config, pipeline: PipelineConfig) -> int:
    return len({**config.tags, **pipeline.spec.tags}) + NAMI_TAGS_AT_MOST


def _tag_count(config: Config, pipeline: PipelineConfig) -> list[Problem]:
    if tags_at_most(config, pipeline) <= MAX_TAGS:
        return []
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
    # The router's matches, each with its name (`routes:`).
    settings.extend(json.dumps(test.to_json()) for test in route_tests(spec))
    reference += sum(len(text) for text in settings)
    return (
        literal + JSON_BYTES_PER_CHARACTER_AT_MOST * reference + NAMI_ENVIRONMENT_OVERHEAD_AT_MOST
    )


def _environment_size(config: Config, pipeline: PipelineConfig, measure: Measure) -> list[Problem]:
    if environment_bytes_at_most(pipeline) <= MAX_ENVIRONMENT_BYTES:
        return []
    size = measure.environment_bytes(config, pipeline)
    if size <= MAX_ENVIRONMENT_BYTES:
        return []
    doc = config.document
    candidates: list[PathKey] = [
        ("pipelines", pipeline.name, "consumer", "environment"),
        ("defaults", "consumer", "environment"),
    ]
    who = f"pipeline `{pipeline.name}`"
    if pipeline.route is not None:
        route = ("pipelines", pipeline.name, "routes", pipeline.route, "consumer", "environment")
        candidates.insert(0, route)
        who += f" route `{pipeline.route}`"
    where = next((c for c in candidates if c in doc.positions), candidates[0])
    holds = "the handler, verify and dedupe settings and the secret references"
    remedy = "move large values to SSM or Secrets Manager references"
    if pipeline.spec.routes and pipeline.route is None:
        # The router's environment is mostly its route table: no reference makes that smaller.
        where = ("pipelines", pipeline.name, "routes")
        holds = "the verify settings, the routes and the secret references"
        remedy = (
            f"its {len(pipeline.spec.routes)} routes' names and matches are most of it: split "
            "the routes over two pipelines, or shorten their names and match values"
        )
    return [
        doc.problem(
            where,
            f"{who}: the consumer's environment would be {size:,} bytes "
            f"(names and values, with what nami adds: NAMI_CONFIG holds {holds}); Lambda "
            f"allows {MAX_ENVIRONMENT_BYTES:,}: {remedy}",
            at_key=True,
        )
    ]


def resources_at_most(pipeline: PipelineConfig) -> int:
    segments = [segment for segment in pipeline.path.split("/") if segment]
    routes = len(pipeline.spec.routes or {})
    return (
        FIXED_RESOURCES_AT_MOST
        + len(pipeline.spec.alarms.email)
        + len(segments)
        + ROUTE_RESOURCES_AT_MOST * routes
    )


def _resource_count(config: Config, pipeline: PipelineConfig, measure: Measure) -> list[Problem]:
    if resources_at_most(pipeline) <= MAX_RESOURCES:
        return []
    if measure.resource_count(config, pipeline) is not None:
        return []
    doc = config.document
    candidates: list[PathKey] = [
        ("pipelines", pipeline.name, "alarms", "email"),
        ("defaults", "alarms", "email"),
        ("pipelines", pipeline.name, "path"),
    ]
    why = "one resource per alarm e-mail and per path segment"
    advice = "send alarms to a mailing list instead of many addresses"
    if pipeline.spec.routes:
        candidates.insert(0, ("pipelines", pipeline.name, "routes"))
        why += f", up to {ROUTE_RESOURCES_AT_MOST} per route"
        advice += ", or split the routes over two pipelines"
    where = next((c for c in candidates if c in doc.positions), ("pipelines", pipeline.name))
    return [
        doc.problem(
            where,
            f"pipeline `{pipeline.name}`: its stack would hold more than {MAX_RESOURCES} "
            f"resources, the most CloudFormation allows ({why}): {advice}",
            at_key=True,
        )
    ]
