"""compile: one pipeline -> one CloudFormation template (troposphere), deterministically."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from troposphere import GetAtt, Output, Ref, Sub, Template

from nami_action import __version__
from nami_action.compile import names
from nami_action.compile.alarms import add_alarms
from nami_action.compile.checkov import add_skips
from nami_action.compile.consumer import CodeLocation, add_consumer
from nami_action.compile.dashboard import add_dashboard
from nami_action.compile.ingress import add_ingress
from nami_action.compile.ingress_function_url import URL, add_function_url_ingress
from nami_action.compile.ingress_http import add_http_ingress
from nami_action.compile.queues import add_queues
from nami_action.compile.record import pipeline_metadata
from nami_action.compile.routes import add_routes
from nami_action.config import Config, PipelineConfig

AddIngress = Callable[[Template, Config, PipelineConfig, CodeLocation], None]
INGRESS_KINDS: dict[str, AddIngress] = {
    "rest": lambda template, config, pipeline, code: add_ingress(template, config, pipeline),
    "http": lambda template, config, pipeline, code: add_http_ingress(template, config, pipeline),
    "function-url": add_function_url_ingress,  # runs from the consumer's zip (the runtime)
}


def api_logical_id(pipeline: PipelineConfig) -> str:
    return names.HTTP_API if pipeline.spec.ingress == "http" else names.REST_API


def build_template(
    config: Config, pipeline: PipelineConfig, code: CodeLocation, retiring: tuple[str, ...] = ()
) -> Template:
    """`retiring`: ingress kinds of earlier deploys whose endpoints stay live (senders may still
    call them; the plan decides from their traffic, plan/endpoints.py), compiled by the same
    code as a current one and writing into the same queue. The kinds' logical ids differ."""
    template = Template()
    template.set_version("2010-09-09")
    add_queues(template, config, pipeline)
    add_consumer(template, config, pipeline, code)
    INGRESS_KINDS[pipeline.spec.ingress](template, config, pipeline, code)
    for kind in retiring:
        INGRESS_KINDS[kind](template, config, as_kind(pipeline, kind), code)
    add_alarms(template, config, pipeline)
    add_routes(template, config, pipeline, code)
    add_dashboard(template, pipeline)
    _add_outputs(template, pipeline)
    add_skips(template)
    # What is deployed, in nami.yaml's terms: `nami plan` prices it and names what changed.
    template.set_metadata(pipeline_metadata(pipeline, code, retiring))
    return template


def as_kind(pipeline: PipelineConfig, kind: str) -> PipelineConfig:
    """The pipeline as if `ingress` were `kind`: how a retiring endpoint is compiled."""
    return replace(pipeline, spec=pipeline.spec.model_copy(update={"ingress": kind}))


def endpoint_url(api_id: Any, region: Any, path: str) -> str:
    return f"https://{api_id}.execute-api.{region}.amazonaws.com/{names.STAGE_NAME}{path}"


def _add_outputs(template: Template, pipeline: PipelineConfig) -> None:
    endpoint = Sub(
        f"https://${{{api_logical_id(pipeline)}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}"
        f"/{names.STAGE_NAME}{pipeline.path}"
    )
    if pipeline.spec.ingress == "function-url":  # the URL ends with "/"; any path reaches it
        endpoint = Sub(f"${{{URL}.FunctionUrl}}{pipeline.path[1:]}")
    outputs = {
        "EndpointUrl": endpoint,
        "QueueUrl": Ref(names.QUEUE),
        "QueueArn": GetAtt(names.QUEUE, "Arn"),
        "DeadLetterQueueUrl": Ref(names.DEAD_LETTER_QUEUE),
        "DeadLetterQueueArn": GetAtt(names.DEAD_LETTER_QUEUE, "Arn"),
        "FunctionName": Ref(names.FUNCTION),
    }
    for title, value in outputs.items():
        template.add_output(Output(title, Value=value))


def render_template(
    config: Config, pipeline: PipelineConfig, code: CodeLocation, retiring: tuple[str, ...] = ()
) -> str:
    """The template text, byte-identical for identical input, with its own fingerprint in the
    Description so the planner can tell from DescribeStacks alone whether a stack changed."""
    body = build_template(config, pipeline, code, retiring).to_dict()
    fingerprint = hashlib.sha256(_canonical(body).encode()).hexdigest()
    body["Description"] = (
        f"Nami {__version__} pipeline {pipeline.stack_name} "
        f"({names.FINGERPRINT_PREFIX}{fingerprint[:32]})"
    )
    return _canonical(body, indent=2)


def _canonical(body: dict[str, Any], indent: int | None = None) -> str:
    return json.dumps(body, indent=indent, sort_keys=True, ensure_ascii=False) + (
        "\n" if indent else ""
    )


def fingerprint_of(description: str | None) -> str | None:
    """The fingerprint a deployed stack's Description carries, if it was made by nami."""
    if not description or names.FINGERPRINT_PREFIX not in description:
        return None
    return description.split(names.FINGERPRINT_PREFIX, 1)[1].rstrip(")")
