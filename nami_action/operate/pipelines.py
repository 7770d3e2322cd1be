"""Find a pipeline by name in nami.yaml, and where its deployed queues and endpoint are."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from nami_action.aws import stacks as cfn
from nami_action.aws.function_urls import function_url
from nami_action.aws.session import Aws
from nami_action.compile import names
from nami_action.config import Config, PipelineConfig
from nami_action.config.messages import closest
from nami_action.config.routes import logical_prefix, route_queue_owners, route_stack
from nami_action.errors import NamiError
from nami_action.runtime.router import ROUTE_SEPARATOR


def select_pipeline(config: Config, name: str) -> PipelineConfig:
    """The pipeline called `name`, or an error naming the known ones (with a "did you mean")."""
    found = config.pipelines.get(name)
    if found is not None:
        return found
    close = closest(name, config.pipelines)
    hint = f"; did you mean `{close}`?" if close else ""
    known = ", ".join(sorted(config.pipelines))
    raise NamiError(f"no pipeline `{name}` in {config.file}{hint} (pipelines: {known})")


def select_queue(config: Config, name: str) -> PipelineConfig:
    """A pipeline, or with `PIPELINE/ROUTE` one route of a `routes:` pipeline: the owner of
    the queue and dead-letter queue a command works on."""
    parent, slash, route = name.partition("/")
    pipeline = select_pipeline(config, parent)
    if not slash:
        return pipeline
    owners = route_queue_owners(pipeline)
    if name in owners:
        return owners[name]
    raise no_route(pipeline, route, lambda r: f"{parent}/{r}")


def no_route(pipeline: PipelineConfig, route: str, shown: Callable[[str], str] = str) -> NamiError:
    """`route` is not one of the pipeline's routes: the error, with a close match and the list
    (once: did_you_mean would list them again when nothing is close)."""
    routes = list(pipeline.spec.routes or {})
    close = closest(route, routes)
    hint = f"; did you mean `{shown(close)}`?" if close else ""
    known = ", ".join(f"`{shown(r)}`" for r in routes) or "none: it has no `routes`"
    return NamiError(f"pipeline `{pipeline.name}` has no route `{route}`{hint} (routes: {known})")


def endpoint_from_api(api_id: str, region: str, path: str) -> str:
    """The invoke URL of a pipeline's REST API; the same formula as apply.endpoint_url, from
    resources already read (status reads each stack's resources once)."""
    return f"https://{api_id}.execute-api.{region}.amazonaws.com/{names.STAGE_NAME}{path}"


def endpoint_of(aws: Aws, resources: dict[str, str], path: str, kind: str | None) -> str | None:
    """The URL of the endpoint of ingress `kind` among a stack's resources (kind None:
    whichever it holds); None where it has none."""
    if kind != "function-url":
        api_id = names.api_id_of(resources, kind)
        if api_id:
            return endpoint_from_api(api_id, aws.region, path)
        if kind is not None:
            return None
    ingest = resources.get(names.INGEST_FUNCTION)  # ingress: function-url
    url = function_url(aws, ingest) if ingest else None
    return url + path.removeprefix("/") if url else None


def queue_name_of(queue_url: str) -> str:
    return queue_url.rstrip("/").rsplit("/", 1)[-1]


def queues_in(resources: dict[str, str], route: str | None) -> tuple[str | None, str | None]:
    """The URLs of the queue and dead-letter queue, among a stack's resources, of its
    pipeline (route None) or of one of its routes (under the route's logical-id prefix)."""
    prefix = "" if route is None else logical_prefix(route)
    return resources.get(prefix + names.QUEUE), resources.get(prefix + names.DEAD_LETTER_QUEUE)


def deployed_routes(resources: list[cfn.StackResource]) -> list[str]:
    """The routes a deployed stack holds, whatever nami.yaml says now (a pipeline removed from
    it, a route dropped but not yet deployed): each route's queue is an AWS::SQS::Queue under
    the route's logical-id prefix, named `<queue>_<route>` (config/routes.py), so the name
    gives the route back; the prefix (`crm-eu` -> `RouteCrmEu`) alone would not."""
    found = []
    for resource in resources:
        if resource.type != names.QUEUE_TYPE or not resource.logical_id.endswith(names.QUEUE):
            continue
        queue = queue_name_of(resource.physical_id).removesuffix(".fifo")
        _, separator, route = queue.partition(ROUTE_SEPARATOR)
        if separator and route and resource.logical_id == logical_prefix(route) + names.QUEUE:
            found.append(route)
    return sorted(found)


@dataclass(frozen=True)
class DeployedPipeline:
    pipeline: PipelineConfig
    stack_name: str
    queue_url: str
    dead_letter_url: str
    endpoint: str | None

    @property
    def fifo(self) -> bool:
        return self.queue_url.endswith(".fifo")


def locate(aws: Aws, pipeline: PipelineConfig) -> DeployedPipeline:
    """The deployed queues of a pipeline, or an error saying it is not deployed."""
    stack = route_stack(pipeline)
    resources = cfn.stack_resources(aws, stack)
    where = f"stack {stack} in {aws.region}"
    if resources is None:
        raise NamiError(
            f"pipeline `{pipeline.name}` is not deployed (no {where}): run `nami deploy` first"
        )
    queue, dead_letter = queues_in(resources, pipeline.route)
    if not queue or not dead_letter:
        raise NamiError(
            f"pipeline `{pipeline.name}` is not fully deployed ({where} has no queues yet): "
            "run `nami deploy`"
        )
    api = (
        names.api_id_of(resources, pipeline.spec.ingress) if pipeline.route is None else None
    )  # a route has no endpoint
    return DeployedPipeline(
        pipeline=pipeline,
        stack_name=stack,
        queue_url=queue,
        dead_letter_url=dead_letter,
        endpoint=endpoint_from_api(api, aws.region, pipeline.path) if api else None,
    )
