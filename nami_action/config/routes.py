"""`routes:`: each route as a pipeline of its own (queue, dead-letter queue, consumer or
forward), derived from the routes pipeline; the rules on routes; the router's settings.

The compiler, `nami dev` and the plan all read routes through `route_pipelines`, so a route's
inherited settings are the same everywhere. A route takes the pipeline's settings (defaults
merged in) and overrides those it writes: `consumer`, `forward`, `queue`, `dead_letter`. It does
not verify: the router verified the webhook once, and only the router may write its queue.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from nami_action.config.models import (
    DEFAULT_MATCH,
    Consumer,
    DeadLetter,
    NoVerify,
    Pipeline,
    Queue,
    Route,
    RouteMatch,
)
from nami_action.runtime.router import ROUTE_SEPARATOR
from nami_action.runtime.routing import RouteTest

if TYPE_CHECKING:
    from nami_action.config.validate import PipelineConfig

Finding = tuple[tuple[str, ...], str]
# The keys a route writes; a rule's finding elsewhere is the pipeline's own (reported once).
ROUTE_KEYS = ("consumer", "forward", "queue", "dead_letter")
ROUTES_FOLDER = "routes"  # a route's handler code in the pipeline's zip: routes/<route>/


def dedupes(spec: Pipeline) -> bool:
    """Whether this function dedupes: with `routes:`, each route does, the router does not
    (a sender's retry is routed again, and each route drops it as a duplicate)."""
    return spec.dedupe is not None and not spec.routes


def route_spec(spec: Pipeline, route: Route) -> Pipeline:
    """The pipeline a route is: the routes pipeline's settings, the route's over them."""
    from nami_action.config.validate import deep_merge  # validate reads routes

    consumer = spec.consumer.model_dump(exclude={"code"})
    if route.consumer is not None:
        # Merged as `defaults` are: mappings key by key (`environment`), the rest replaced.
        consumer = deep_merge(consumer, route.consumer.model_dump(exclude_unset=True))
    queue, dead_letter = spec.queue, spec.dead_letter
    if route.queue is not None:
        queue = Queue.model_validate(
            {**queue.model_dump(), **route.queue.model_dump(exclude_unset=True)}
        )
    if route.dead_letter is not None:
        dead_letter = DeadLetter.model_validate(
            {**dead_letter.model_dump(), **route.dead_letter.model_dump(exclude_unset=True)}
        )
    return spec.model_copy(
        update={
            "verify": NoVerify(scheme="none"),
            "consumer": Consumer.model_validate(consumer),
            "forward": route.forward,
            "queue": queue,
            "dead_letter": dead_letter,
            "routes": None,
            "dashboard": False,
        }
    )


def route_pipelines(pipeline: PipelineConfig) -> dict[str, PipelineConfig]:
    """Route name -> the route as a pipeline (empty without `routes`)."""
    from nami_action.config.rules import visibility_timeout

    routes = pipeline.spec.routes or {}
    derived = {}
    for name, route in routes.items():
        spec = route_spec(pipeline.spec, route)
        derived[name] = dataclasses.replace(
            pipeline,
            stack_name=f"{pipeline.stack_name}{ROUTE_SEPARATOR}{name}",
            visibility_timeout=visibility_timeout(spec),
            spec=spec,
            written=_route_written(pipeline.written, name),
            route=name,
        )
    return derived


def route_queue_owners(pipeline: PipelineConfig) -> dict[str, PipelineConfig]:
    """Each route as `<pipeline>/<route>` (its name too): how `nami dev` names its local
    queue, and how `nami dlq` and `nami replay` are pointed at a route's queues."""
    return {
        f"{pipeline.name}/{name}": dataclasses.replace(derived, name=f"{pipeline.name}/{name}")
        for name, derived in route_pipelines(pipeline).items()
    }


def route_stack(pipeline: PipelineConfig) -> str:
    """The stack a pipeline's resources are in: a route's are in its pipeline's stack."""
    if pipeline.route is None:
        return pipeline.stack_name
    return pipeline.stack_name.removesuffix(f"{ROUTE_SEPARATOR}{pipeline.route}")


def _route_written(written: dict[str, Any], name: str) -> dict[str, Any]:
    routes = written.get("routes")
    route = routes.get(name) if isinstance(routes, dict) else None
    return route if isinstance(route, dict) else {}


def route_tests(spec: Pipeline) -> list[RouteTest]:
    """The router's matching settings, in the order the routes are written."""
    return [route_test(name, route) for name, route in (spec.routes or {}).items()]


def route_test(name: str, route: Route) -> RouteTest:
    match = route.match
    if not isinstance(match, RouteMatch):
        return RouteTest(name, default=True)
    tests = {
        "equals": match.equals,
        "prefix": match.prefix,
        "in": tuple(match.one_of) if match.one_of is not None else None,
        "exists": match.exists,
    }
    test, value = next(((t, v) for t, v in tests.items() if v is not None), ("exists", True))
    return RouteTest(name, header=match.header, json_path=match.json_path, test=test, value=value)


def route_code_folder(route: str) -> str:
    return f"{ROUTES_FOLDER}/{route}"


def match_text(route: Route) -> str:
    """`json $.type prefix "invoice."`, `header X-Event in [a, b]`, `default`: for people."""
    test = route_test("", route)
    if test.default:
        return DEFAULT_MATCH
    source = f"header {test.header}" if test.header else f"json {test.json_path}"
    value = json.dumps(list(test.value) if test.test == "in" else test.value)
    return f"{source} {test.test} {value}"


def routes_summary(spec: Pipeline) -> list[str]:
    """For the plan: one line per route (its match, what it runs, its bound), and what
    happens to the unrouted (empty without `routes:`)."""
    from nami_action.config.forward import concurrency, forward_summary

    if not spec.routes:
        return []
    lines = []
    for name, route in spec.routes.items():
        derived = route_spec(spec, route)
        if derived.forward is not None:
            runs = f"forward to {derived.forward.url}, {forward_summary(derived)}"
        else:
            runs = f"handler in {derived.consumer.code}, at most {concurrency(derived)} at once"
        lines.append(f"route {name}: {match_text(route)} -> {runs}")
    unrouted = (
        "dropped (counted and logged)"
        if spec.unrouted == "drop"
        else "kept in the dead-letter queue (alarmed)"
    )
    lines.append(f"unrouted: {unrouted}")
    return lines


def logical_prefix(route: str) -> str:
    """`billing` -> `RouteBilling`, `crm-eu` -> `RouteCrmEu`: the route's logical ids."""
    return "Route" + "".join(part[:1].upper() + part[1:] for part in route.split("-"))


def ids_overlap(one: str, two: str) -> bool:
    """Whether two routes' logical-id prefixes can yield one id: equal, or one the other plus
    whole words (`RouteA` + `DeadLetterQueue` is `RouteADeadLetter` + `Queue`), since every
    id the compiler puts after a prefix is words in PascalCase."""
    short, long = sorted((one, two), key=len)
    rest = long.removeprefix(short)
    return rest != long and (not rest or rest[0].isupper())


def routes_rules(pipeline: Pipeline) -> Iterator[Finding]:
    """What a `routes:` pipeline must hold; each route's own settings are checked by the
    pipeline rules on `route_spec` (validate.py locates them under the route)."""
    routes = pipeline.routes
    if routes is None:
        if pipeline.unrouted != "keep":
            yield (
                ("unrouted",),
                "`unrouted` says what happens to webhooks no route matched: it needs `routes`",
            )
        return
    if pipeline.consumer.code is not None:
        yield (
            ("consumer", "code"),
            "a pipeline with `routes` has no handler of its own: give each route its "
            "`consumer.code` or `forward`",
        )
    if pipeline.forward is not None:
        yield (
            ("forward",),
            "a pipeline with `routes` forwards per route: move `forward` into the routes",
        )
    if pipeline.consumer.mode != "webhook":
        yield (("consumer", "mode"), "the router runs in the Nami runtime: use mode `webhook`")
    if pipeline.queue.fifo:
        yield (
            ("queue", "fifo"),
            "`routes` do not support FIFO queues yet: a route's queue would lose the order",
        )
    defaults = [name for name, route in routes.items() if route.match == DEFAULT_MATCH]
    for name in defaults[1:]:
        yield (
            ("routes", name, "match"),
            f"only one route can be `default` (`{defaults[0]}` already is)",
        )
    seen: dict[str, str] = {}
    for name, route in routes.items():
        yield from _route_findings(name, route)
        yield from _route_queue_findings(name, route, pipeline.queue.max_message_size)
        prefix = logical_prefix(name)
        other = next((o for p, o in seen.items() if ids_overlap(p, prefix)), None)
        seen.setdefault(prefix, name)
        if other is not None:
            yield (
                ("routes", name),
                f"route `{name}` and route `{other}` would share CloudFormation ids "
                f"({prefix}... and {logical_prefix(other)}...): rename one",
            )


def _route_findings(name: str, route: Route) -> Iterator[Finding]:
    where = ("routes", name)
    match = route.match
    if isinstance(match, RouteMatch):
        if (match.header is None) == (match.json_path is None):
            yield (*where, "match"), "set exactly one of `header` or `json`: where the value is"
        tests = [match.equals, match.prefix, match.one_of, match.exists]
        if sum(test is not None for test in tests) != 1:
            yield (
                (*where, "match"),
                "set exactly one test: `equals`, `prefix`, `in` or `exists`",
            )
    has_code = route.consumer is not None and route.consumer.code is not None
    if has_code == (route.forward is not None):
        yield (
            where,
            f"route `{name}` needs exactly one of `consumer.code` (your handler) or "
            "`forward` (an existing HTTP endpoint)",
        )
    if route.queue is not None and route.queue.fifo:
        yield (*where, "queue", "fifo"), "`routes` do not support FIFO queues yet"


def _route_queue_findings(name: str, route: Route, pipeline_size: int) -> Iterator[Finding]:
    """The router copies each webhook as it is into the route's queue: a queue that takes
    smaller messages than the pipeline's could never receive the larger webhooks."""
    size = route.queue.max_message_size if route.queue is not None else pipeline_size
    if size < pipeline_size:
        yield (
            ("routes", name, "queue", "max_message_size"),
            f"route `{name}`'s queue takes at most {size} bytes but the pipeline's queue "
            f"takes {pipeline_size}: a larger webhook could never reach the route; set it to "
            f"at least {pipeline_size}",
        )


def route_rule_findings(pipeline: Pipeline, check: Any) -> Iterator[Finding]:
    """The pipeline rules on each route, at the route's keys; a finding on what the route
    inherits is the pipeline's (reported there, once)."""
    own = set(check(pipeline))
    for name, route in (pipeline.routes or {}).items():
        has_code = route.consumer is not None and route.consumer.code is not None
        if has_code == (route.forward is not None):
            continue  # already reported: the route runs nothing, or two things
        for where, message in check(route_spec(pipeline, route)):
            if where[:1] in {(key,) for key in ROUTE_KEYS} and (where, message) not in own:
                yield ("routes", name, *where), f"route `{name}`: {message}"
