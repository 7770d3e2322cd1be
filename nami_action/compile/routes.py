"""`routes:` in the template: the pipeline's own queue and function become the router, and each
route gets what a pipeline has downstream of its queue: a queue, a dead-letter queue, a
consumer or delivery function, its event source mapping, role and alarms.

Each route is compiled by the same functions as a pipeline (on the route as a pipeline,
config/routes.py), into a template of its own, and its resources are moved into the
pipeline's template under the route's logical-id prefix (`RouteBilling...`), with every
reference between them renamed. So a route is a pipeline downstream of the router in every
respect the compiler knows, without a second copy of the compiler.

The router may SendMessage to its routes' queues and its own queue (the copies it puts back,
runtime/router.py), and nothing else beyond a consumer's rights.
"""

from __future__ import annotations

import re
from typing import Any

from troposphere import AWSHelperFn, BaseAWSObject, GetAtt, Output, Ref, Template

from nami_action.compile import iam, names
from nami_action.compile.alarms import TOPIC, add_consumer_alarms
from nami_action.compile.queues import add_queues
from nami_action.config import Config, PipelineConfig
from nami_action.config.routes import (
    logical_prefix,
    route_code_folder,
    route_pipelines,
    route_tests,
)
from nami_action.runtime.router import QUEUE_URL_ENV

_SUB_NAME = re.compile(r"\$\{([A-Za-z0-9]+)((?:\.[A-Za-z0-9.]+)?)\}")


def router_settings(pipeline: PipelineConfig) -> dict[str, Any]:
    """NAMI_CONFIG's keys for the router (empty for a pipeline without routes)."""
    if not pipeline.spec.routes:
        return {}
    return {
        "routes": [test.to_json() for test in route_tests(pipeline.spec)],
        "unrouted": pipeline.spec.unrouted,
    }


def route_settings(pipeline: PipelineConfig) -> dict[str, Any]:
    """NAMI_CONFIG's keys that make a route's consumer one (empty for a pipeline)."""
    if pipeline.route is None:
        return {}
    settings: dict[str, Any] = {"pipeline": f"{pipeline.name}/{pipeline.route}"}
    if pipeline.spec.consumer.code is not None:
        settings["code"] = route_code_folder(pipeline.route)
    return settings


def router_variables(pipeline: PipelineConfig) -> dict[str, Any]:
    """The router's environment: its own queue's URL (its routes' are named after it)."""
    if not pipeline.spec.routes:
        return {}
    return {QUEUE_URL_ENV: Ref(names.QUEUE)}


def router_statements(pipeline: PipelineConfig) -> list[dict[str, Any]]:
    """SendMessage to the routes' queues and its own (put-back copies), nothing else."""
    if not pipeline.spec.routes:
        return []
    queues = [names.QUEUE] + [logical_prefix(r) + names.QUEUE for r in pipeline.spec.routes]
    return [iam.statement(["sqs:SendMessage"], [GetAtt(q, "Arn") for q in queues])]


def add_routes(template: Template, config: Config, pipeline: PipelineConfig, code: Any) -> None:
    """Each route's resources, under its prefix, alarming to the pipeline's topic."""
    from nami_action.compile.consumer import add_consumer  # consumer imports this module

    targets: list[Any] = [Ref(TOPIC)]
    if pipeline.spec.alarms.topic:
        targets.append(pipeline.spec.alarms.topic)
    for name, route in route_pipelines(pipeline).items():
        part = Template()
        add_queues(part, config, route)
        add_consumer(part, config, route, code)
        add_consumer_alarms(part, route, targets)
        prefix = logical_prefix(name)
        part.add_output(Output("QueueUrl", Value=Ref(names.QUEUE)))
        part.add_output(Output("DeadLetterQueueUrl", Value=Ref(names.DEAD_LETTER_QUEUE)))
        move(part, template, prefix)


def move(part: Template, template: Template, prefix: str) -> None:
    """Add `part`'s resources and outputs to `template`, each id prefixed, references too.
    Parameters and conditions (the code's bucket and version) are shared, not prefixed: the
    deploy sets them once per stack, and the router's consumer usually added them already."""
    for name, parameter in part.parameters.items():
        template.parameters.setdefault(name, parameter)
    for name, condition in part.conditions.items():
        template.conditions.setdefault(name, condition)
    ids = {title: prefix + title for title in part.resources}
    for title, resource in part.resources.items():
        resource.title = ids[title]
        _rename(resource, ids)
        template.add_resource(resource)
    for title, output in part.outputs.items():
        output.title = prefix + title
        _rename(output, ids)
        template.add_output(output)


def _rename(node: Any, ids: dict[str, str]) -> None:
    """Rename the logical ids `node` refers to (Ref, Fn::GetAtt, Fn::Sub, DependsOn), in place."""
    if isinstance(node, AWSHelperFn):
        _rename(getattr(node, "data", None), ids)  # Tags hold no data, and no reference
    elif isinstance(node, BaseAWSObject):
        _rename(node.resource, ids)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                node[key] = ids.get(value, value)
            elif key == "Fn::GetAtt" and isinstance(value, list):
                value[0] = ids.get(value[0], value[0])
            elif key == "Fn::Sub":
                node[key] = _renamed_sub(value, ids)
            elif key == "DependsOn" and isinstance(value, str):
                node[key] = ids.get(value, value)
            elif key == "DependsOn":
                node[key] = [ids.get(v, v) for v in value]
            else:
                _rename(value, ids)
    elif isinstance(node, list):
        for item in node:
            _rename(item, ids)


def _renamed_sub(value: Any, ids: dict[str, str]) -> Any:
    def swap(text: str) -> str:
        return _SUB_NAME.sub(lambda m: "${" + ids.get(m[1], m[1]) + m[2] + "}", text)

    if isinstance(value, str):
        return swap(value)
    if isinstance(value, list) and value and isinstance(value[0], str):
        _rename(value[1:], ids)
        return [swap(value[0]), *value[1:]]
    return value
