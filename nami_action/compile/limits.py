"""The exact figures config/limits.py checks when a cheap bound could pass an AWS limit,
measured on what the compiler writes. Callers hand them to `load_config` through
nami_action/measure.py (the language itself does not import the compiler)."""

from __future__ import annotations

from typing import Any

from troposphere import Template

from nami_action.compile import consumer, names
from nami_action.compile.pipeline import build_template
from nami_action.config import Config, PipelineConfig

# A variable whose value CloudFormation fills at deploy time (a table name, a queue URL) is
# counted at its longest: an SQS URL is https://sqs.<region>.amazonaws.com[.cn]/<12 digits>/
# <name of at most 80>, under 150 bytes; a generated table name is <stack>-<id>-<13>.
RESOLVED_REFERENCE_BYTES = 160


def environment_bytes(config: Config, pipeline: PipelineConfig) -> int:
    """The size Lambda counts for the function's environment, as the compiler writes it."""
    code = consumer.code_property(Template(), consumer.CodeLocation(None, "artifact"))
    function = consumer._function(pipeline, code, names.cfn_tags(config, pipeline))
    variables: dict[str, Any] = function.Environment.Variables
    return sum(len(key.encode()) + _value_bytes(value) for key, value in variables.items())


def _value_bytes(value: Any) -> int:
    return len(value.encode()) if isinstance(value, str) else RESOLVED_REFERENCE_BYTES


def resource_count(config: Config, pipeline: PipelineConfig) -> int | None:
    """The number of resources in the pipeline's compiled template; None when it is over
    MAX_RESOURCES (troposphere refuses to add the next one, as CloudFormation would)."""
    try:
        template = build_template(config, pipeline, consumer.CodeLocation(None, "artifact"))
    except ValueError:
        return None
    return len(template.resources)
