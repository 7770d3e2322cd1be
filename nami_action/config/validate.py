"""load -> validate: nami.yaml becomes a Config, or a ConfigError listing every problem."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from nami_action.config.code import check_code_folders, code_problem, repository_root
from nami_action.config.handler import handler_problem
from nami_action.config.limits import Measure, limit_problems
from nami_action.config.loader import Document, PathKey, load_document
from nami_action.config.messages import data_path, did_you_mean, to_problems
from nami_action.config.models import NamiFile, Pipeline
from nami_action.config.naming import dead_letter_queue_name, queue_name
from nami_action.config.routes import route_pipelines
from nami_action.config.rules import Finding, check, visibility_timeout
from nami_action.config.written import written_problems
from nami_action.errors import ConfigError, Problem


@dataclass(frozen=True)
class PipelineConfig:
    """One pipeline after `defaults` were merged in and derived values filled."""

    name: str
    stack_name: str
    path: str
    visibility_timeout: int
    spec: Pipeline
    line: int
    # The pipeline's keys as written, `defaults` (and an environment's overrides) merged in:
    # the compiled template records them, so a plan can say what changed in nami.yaml terms.
    written: dict[str, Any] = field(default_factory=dict)
    # A route of a `routes:` pipeline (config/routes.py derives it): its name; None otherwise.
    route: str | None = None


@dataclass(frozen=True)
class Config:
    """The config of one deployment. With `environments`, the selected environment's view:
    its pipelines with its overrides merged in, its region and tags, and `project` the stack
    prefix `<project>-<environment>` (so everything scoped by project is scoped by it too)."""

    file: str
    base_dir: Path
    project: str
    region: str | None
    tags: dict[str, str]
    artifacts_bucket: str | None
    pipelines: dict[str, PipelineConfig]
    document: Document
    environment: str | None = None
    account: str | None = None
    environments: tuple[str, ...] = ()


ENV_VARIABLE = "NAMI_ENV"
# "Queue names ... can be up to 80 characters" (a FIFO queue's includes `.fifo`):
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html
MAX_QUEUE_NAME = 80


def load_config(
    path: Path,
    display_name: str | None = None,
    env: str | None = None,
    measure: Measure | None = None,
) -> Config:
    doc = load_document(path, display_name)
    return validate_document(doc, path.resolve().parent, env, measure)


def validate_document(
    doc: Document, base_dir: Path, env: str | None = None, measure: Measure | None = None
) -> Config:
    """Every problem at once: what the loader read past, the schema's findings, the rules on
    each pipeline (with `defaults` minus its broken keys merged in) and the AWS limits (those
    that need the compiler's figures only with a `measure`: see `limits`); with
    `environments`, those of every environment, and the Config of the one named `env`."""
    written, errors = _validate_written(doc)
    problems = [*doc.problems, *_schema_problems(doc, errors)]
    problems.extend(written_problems(doc))
    usable = _without_broken_keys(doc.data, errors)
    if not isinstance(doc.data.get("pipelines"), dict):
        raise ConfigError(problems)
    environments = _environments(usable)
    selected: Config | None = None
    found_in: dict[str | None, list[Problem]] = {}
    for name in environments or [None]:
        config, found_in[name] = _resolve(doc, base_dir, (written, usable, errors), name, measure)
        if name == env or not environments:
            selected = config
    problems.extend(_naming_environments(found_in))
    problems.extend(_selection_problems(doc, environments, env))
    if problems or written is None or selected is None:
        raise ConfigError(problems)
    return selected


def _naming_environments(found_in: dict[str | None, list[Problem]]) -> list[Problem]:
    """Every environment's problems, once each; one that some environments have and others
    not names them (`--env production` must not report staging's settings as its own)."""
    where: dict[Problem, list[str]] = {}
    for env, found in found_in.items():
        for problem in found:
            envs = where.setdefault(problem, [])
            if env and env not in envs:
                envs.append(env)
    problems = []
    for problem, envs in where.items():
        if not envs or len(envs) == len(found_in) or problem.message.startswith("environment"):
            problems.append(problem)
            continue
        names = ", ".join(f"`{env}`" for env in envs)
        label = f"environment {names}" if len(envs) == 1 else f"environments {names}"
        problems.append(replace(problem, message=f"{label}: {problem.message}"))
    return problems


def _environments(usable: dict[str, Any]) -> dict[str, dict[str, Any]]:
    raw = usable.get("environments")
    if not isinstance(raw, dict):
        return {}
    return {k: (v if isinstance(v, dict) else {}) for k, v in raw.items() if isinstance(k, str)}


def _selection_problems(
    doc: Document, environments: dict[str, dict[str, Any]], env: str | None
) -> list[Problem]:
    """Without environments, --env is a mistake; with them, it must name one of them."""
    names = ", ".join(f"`{name}`" for name in environments)
    if env is None and environments:
        message = (
            f"this file defines environments ({names}): choose one with --env NAME "
            f"(or {ENV_VARIABLE}; in the GitHub Action, the `environment` input)"
        )
        return [doc.problem(("environments",), message, at_key=True)]
    if env is not None and not environments:
        message = (
            f"--env `{env}` given (or {ENV_VARIABLE}), but this file defines no `environments`"
        )
        return [doc.problem((), message, at_key=True)]
    if env is not None and env not in environments:
        hint = did_you_mean(env, environments)
        message = f"no environment `{env}`{hint} (environments: {names})"
        return [doc.problem(("environments",), message, at_key=True)]
    return []


@dataclass(frozen=True)
class _Sources:
    """Where a pipeline's merged keys come from, highest priority first."""

    name: str
    env: str | None

    @property
    def bases(self) -> list[PathKey]:
        own: PathKey = ("pipelines", self.name)
        if self.env is None:
            return [own, ("defaults",)]
        overrides: PathKey = ("environments", self.env, "overrides")
        return [(*overrides, "pipelines", self.name), own, (*overrides, "defaults"), ("defaults",)]


def _resolve(
    doc: Document,
    base_dir: Path,
    schema: tuple[NamiFile | None, dict[str, Any], list[ErrorDetails]],
    env: str | None,
    measure: Measure | None,
) -> tuple[Config, list[Problem]]:
    """One environment's (or the file's, without environments) Config and its problems;
    `schema` is what the schema made of the file: the model, the usable data, the errors."""
    written, usable, errors = schema
    raw_env = _environments(usable).get(env, {}) if env else {}
    overrides = _mapping(raw_env.get("overrides"))
    defaults = deep_merge(_mapping(usable.get("defaults")), _mapping(overrides.get("defaults")))
    pipeline_overrides = _mapping(overrides.get("pipelines"))
    raw_pipelines = _mapping(usable.get("pipelines"))
    problems = _environment_written_problems(doc, env, raw_env, raw_pipelines)
    subset = raw_env.get("pipelines")
    prefix = _text(usable.get("project")) + (f"-{env}" if env else "")
    broken = {_broken_pipeline(e["loc"], env) for e in errors} - {None}
    pipelines: dict[str, PipelineConfig] = {}
    compilable: list[str] = []
    for name, raw in raw_pipelines.items():
        if not isinstance(name, str) or not isinstance(raw, dict):
            continue
        if isinstance(subset, list) and name not in subset:
            continue
        sources = _Sources(name, env)
        own = deep_merge(raw, _mapping(pipeline_overrides.get(name)))
        merged = deep_merge(defaults, own)
        try:
            spec = Pipeline.model_validate(merged)
        except ValidationError as exc:
            if name not in broken:  # only inherited or overridden values can fail here
                problems.extend(_merged_problems(doc, exc.errors(include_url=False), sources))
            # The schema's errors are reported; the rules of the sections that are fine still
            # run, so one error does not hide another.
            for where, message in _rules_despite(merged, exc.errors(include_url=False)):
                if not _refused_below(errors, sources, where):
                    problems.append(_locate_rule(doc, sources, where, message))
            continue
        findings = check(spec)
        for where, message in findings:
            if not _refused_below(errors, sources, where):
                problems.append(_locate_rule(doc, sources, where, message))
        pipelines[name] = _pipeline_config(doc, prefix, name, spec, merged)
        if not findings and name not in broken:
            compilable.append(name)  # what the compiler would be given: limits apply
    config = _config(doc, base_dir, written, usable, pipelines, env)
    problems.extend(check_code_folders(doc, base_dir, pipelines))
    problems.extend(_handler_problems(doc, base_dir, pipelines, env))
    problems.extend(_shared_paths(doc, pipelines))
    problems.extend(_queue_name_collisions(doc, env, pipelines))
    problems.extend(_name_lengths(doc, env, [pipelines[name] for name in compilable]))
    problems.extend(_route_name_lengths(doc, [pipelines[name] for name in compilable]))
    problems.extend(limit_problems(config, compilable, measure))
    return config, problems


def _refused_below(errors: list[ErrorDetails], sources: _Sources, where: tuple[str, ...]) -> bool:
    """Whether the schema's errors already speak for a rule's finding at `where`."""
    refused = [
        tuple(e["loc"][len(base) :])
        for e in errors
        for base in sources.bases
        if tuple(e["loc"][: len(base)]) == base
    ]
    return _spoken_for(refused, where)


def _spoken_for(refused: list[tuple[int | str, ...]], where: tuple[str, ...]) -> bool:
    """The schema refused a key under `where` (e.g. a bad `dedupe.json_path`): the rule saw
    the section without it, so its finding (`set one of header or json_path`) would be wrong.
    So is the rule asking for a handler or a forward (at consumer.code) when the `routes` or
    `forward` written was refused. `refused`: the refused keys' paths in the pipeline."""
    if where == ("consumer", "code") and any(_gone(r) for r in refused):
        return True
    return any(r[: len(where)] == where for r in refused)


def _gone(refused: tuple[int | str, ...]) -> bool:
    """A refusal that takes `forward` or `routes` (or a whole route) out of what the rules see;
    a refused key inside them (`forward.concurrency`) leaves the section for the rules."""
    return refused in {("forward",), ("routes",)} or (
        refused[:1] == ("routes",) and len(refused) == 2
    )


def _rules_despite(merged: dict[str, Any], errors: list[ErrorDetails]) -> list[Finding]:
    """The rules' findings on a pipeline the schema refused: its broken keys removed, and a
    `verify` still missing or broken stood in for (what the rules say of a stood-in `verify` is
    dropped; `consumer.code` is optional since `forward:`, and the rule that wants one of the
    two speaks for itself). None when it still fails."""
    usable = _without_broken_keys(merged, errors)
    try:
        spec = Pipeline.model_validate(usable)
        stood_in = False
    except ValidationError as exc:
        if not all(tuple(e["loc"][:1]) == ("verify",) for e in exc.errors()):
            return []
        usable["verify"] = {"scheme": "none"}
        try:
            spec = Pipeline.model_validate(usable)
        except ValidationError:
            return []
        stood_in = True
    refused = [tuple(e["loc"]) for e in errors]
    return [
        f
        for f in check(spec)
        if not (stood_in and f[0][:1] == ("verify",)) and not _spoken_for(refused, f[0])
    ]


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _handler_problems(
    doc: Document, base_dir: Path, pipelines: dict[str, PipelineConfig], env: str | None
) -> list[Problem]:
    """consumer.handler must be defined in the code folder (a usable folder: check_code_folders
    reports the others), at the key that wrote it."""
    root = repository_root(base_dir)
    problems = []
    for name, pipeline in pipelines.items():
        consumers = [((), pipeline.spec.consumer)] + [
            (("routes", route), derived.spec.consumer)
            for route, derived in route_pipelines(pipeline).items()
        ]
        for at, consumer in consumers:
            if consumer.code is None or code_problem(consumer.code, base_dir, root) is not None:
                continue  # a forward pipeline runs no handler of its own
            message = handler_problem(base_dir / consumer.code, consumer.handler)
            if message:
                where = (*at, "consumer", "handler")
                problems.append(
                    _locate_rule(doc, _Sources(name, env), where, f"consumer.handler {message}")
                )
    return problems


def _shared_paths(doc: Document, pipelines: dict[str, PipelineConfig]) -> list[Problem]:
    """Two pipelines on one path: each has its own API on AWS, but a sender configured for
    one URL path, `nami send` and `nami dev` (one host for every pipeline) cannot tell them
    apart. Reported at the second pipeline."""
    first: dict[str, str] = {}
    problems = []
    for name, pipeline in pipelines.items():
        other = first.setdefault(pipeline.path, name)
        if other != name:
            problems.append(
                doc.problem(
                    ("pipelines", name, "path"),
                    f"pipeline `{name}`: path {pipeline.path} is already the path of pipeline "
                    f"`{other}`; give each pipeline its own `path`",
                    at_key=True,
                )
            )
    return problems


def _queue_name_collisions(
    doc: Document, env: str | None, pipelines: dict[str, PipelineConfig]
) -> list[Problem]:
    """Every queue the config makes (each pipeline's and route's queue and dead-letter queue,
    named as the compiler names them) must have a name of its own: `a`'s dead-letter queue is
    `<project>-a-dlq`, which is also pipeline `a-dlq`'s queue. Reported at the later of the
    two keys, naming the other."""
    first: dict[str, tuple[tuple[int, int], PathKey, str]] = {}
    problems = []
    for name, pipeline in pipelines.items():
        owners = [(("pipelines", name), pipeline, f"pipeline `{name}`")] + [
            (
                _written_at(doc, _Sources(name, env), ("routes", route)),
                derived,
                f"route `{route}` of `{name}`",
            )
            for route, derived in route_pipelines(pipeline).items()
        ]
        for key, owner, label in owners:
            for kind, queue in (
                ("queue", queue_name(owner)),
                ("dead-letter queue", dead_letter_queue_name(owner)),
            ):
                this = (doc.locate(key, at_key=True), key, f"the {kind} of {label}")
                earlier, later = sorted((first.setdefault(queue, this), this), key=lambda n: n[0])
                if earlier != later:
                    problems.append(
                        doc.problem(
                            later[1],
                            f"{later[2]} would be named `{queue}`, as {earlier[2]} is: a queue "
                            "name is one queue in an account and region; rename one of them",
                            at_key=True,
                        )
                    )
    return problems


def _broken_pipeline(loc: tuple[int | str, ...], env: str | None) -> str | None:
    """The pipeline whose own keys (or this environment's override of it) the schema refused."""
    if len(loc) > 1 and loc[0] == "pipelines":
        return str(loc[1])
    override = ("environments", env, "overrides", "pipelines")
    if env and len(loc) > 4 and tuple(loc[:4]) == override:
        return str(loc[4])
    return None


def _environment_written_problems(
    doc: Document, env: str | None, raw_env: dict[str, Any], pipelines: dict[str, Any]
) -> list[Problem]:
    """Pipeline names an environment lists or overrides must be pipelines of the file."""
    if env is None:
        return []
    known = [name for name in pipelines if isinstance(name, str)]
    problems = []
    subset = raw_env.get("pipelines")
    for index, name in enumerate(subset if isinstance(subset, list) else []):
        if isinstance(name, str) and name not in known:
            problems.append(
                doc.problem(
                    ("environments", env, "pipelines", index),
                    f"environment `{env}`: no pipeline `{name}`{did_you_mean(name, known)}",
                )
            )
    overridden = _mapping(_mapping(raw_env.get("overrides")).get("pipelines"))
    for name in overridden:
        if name not in known:
            problems.append(
                doc.problem(
                    ("environments", env, "overrides", "pipelines", name),
                    f"environment `{env}`: no pipeline `{name}` to override"
                    f"{did_you_mean(name, known)}",
                    at_key=True,
                )
            )
    return problems


def _name_lengths(doc: Document, env: str | None, pipelines: list[PipelineConfig]) -> list[Problem]:
    """The project and pipeline caps keep queue names within SQS's 80 characters; the
    environment in the name can pass it."""
    if env is None:
        return []
    problems = []
    for pipeline in pipelines:
        queue = dead_letter_queue_name(pipeline)
        if len(queue) > MAX_QUEUE_NAME:
            problems.append(
                doc.problem(
                    ("environments", env),
                    f"environment `{env}`: pipeline `{pipeline.name}`'s dead-letter queue "
                    f"would be `{queue}` ({len(queue)} characters); SQS allows "
                    f"{MAX_QUEUE_NAME}: shorten the environment, project or pipeline name",
                    at_key=True,
                )
            )
    return problems


def _route_name_lengths(doc: Document, pipelines: list[PipelineConfig]) -> list[Problem]:
    """A route's queues are `<stack>_<route>` and `<stack>_<route>-dlq`: within SQS's 80
    characters only when the project, environment, pipeline and route names together are."""
    problems = []
    for pipeline in pipelines:
        for route, derived in route_pipelines(pipeline).items():
            queue = dead_letter_queue_name(derived)
            if len(queue) > MAX_QUEUE_NAME:
                problems.append(
                    doc.problem(
                        ("pipelines", pipeline.name, "routes", route),
                        f"pipeline `{pipeline.name}`: route `{route}`'s dead-letter queue would "
                        f"be `{queue}` ({len(queue)} characters); SQS allows {MAX_QUEUE_NAME}: "
                        "shorten the route, pipeline or project name",
                        at_key=True,
                    )
                )
    return problems


def _pipeline_config(
    doc: Document, prefix: str, name: str, spec: Pipeline, written: dict[str, Any]
) -> PipelineConfig:
    return PipelineConfig(
        name=name,
        stack_name=f"{prefix}-{name}",
        path=spec.path or f"/{name}",
        visibility_timeout=visibility_timeout(spec),
        spec=spec,
        line=doc.locate(("pipelines", name), at_key=True)[0],
        written=written,
    )


def _config(
    doc: Document,
    base_dir: Path,
    written: NamiFile | None,
    usable: dict[str, Any],
    pipelines: dict[str, PipelineConfig],
    env: str | None,
) -> Config:
    """The Config; while other sections are broken, its top level holds what is usable, so
    the AWS limits can still be checked for the pipelines that validated."""
    if written is not None:
        project, region, tags = written.project, written.region, dict(written.tags)
        bucket = written.artifacts.bucket
        chosen = (written.environments or {}).get(env) if env else None
        account = chosen.account if chosen else None
        if chosen:
            region = chosen.region or region
            tags.update(chosen.tags)
    else:
        project, region, account, bucket = _text(usable.get("project")), None, None, None
        tags = _text_mapping(usable.get("tags"))
        tags.update(_text_mapping(_environments(usable).get(env or "", {}).get("tags")))
    return Config(
        file=doc.file,
        base_dir=base_dir,
        project=f"{project}-{env}" if env else project,
        region=region,
        tags=tags,
        artifacts_bucket=bucket,
        pipelines=pipelines,
        document=doc,
        environment=env,
        account=account,
        environments=tuple(_environments(usable)),
    )


def _text_mapping(value: Any) -> dict[str, str]:
    return {
        k: v
        for k, v in (value.items() if isinstance(value, dict) else ())
        if isinstance(k, str) and isinstance(v, str)
    }


def _merged_problems(doc: Document, errors: list[ErrorDetails], sources: _Sources) -> list[Problem]:
    """Errors of a merged pipeline, each at the place that wrote the value (an override's
    key, the pipeline's own, or a default): the source that holds the most of the error's
    path, the highest priority on a tie."""
    problems = []
    for error in errors:
        loc = tuple(error["loc"])
        base = max(sources.bases, key=lambda b: _written_depth(doc, b, loc))
        if _written_depth(doc, base, loc) == 0:
            base = ("pipelines", sources.name)
        problems.extend(to_problems(doc, [error], Pipeline, base))
    return problems


def _written_depth(doc: Document, base: PathKey, loc: tuple[int | str, ...]) -> int:
    """How many steps of `loc` the file writes under `base` (0: none)."""
    path = data_path(doc.data, base, loc)
    depth = 0
    for end in range(len(base) + 1, len(path) + 1):
        if path[:end] in doc.positions:
            depth = end - len(base)
    return depth


def _schema_problems(doc: Document, errors: list[ErrorDetails]) -> list[Problem]:
    """The schema's findings, less those at a value the loader already could not read."""
    unreadable = {(p.line, p.column) for p in doc.problems}
    return [p for p in to_problems(doc, errors, NamiFile) if (p.line, p.column) not in unreadable]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _validate_written(doc: Document) -> tuple[NamiFile | None, list[ErrorDetails]]:
    try:
        return NamiFile.model_validate(doc.data), []
    except ValidationError as exc:
        return None, exc.errors(include_url=False)


def _without_broken_keys(data: dict[str, Any], errors: list[ErrorDetails]) -> dict[str, Any]:
    """A copy of the document without the keys the schema refused, so a broken `defaults`
    still lends its valid keys to the pipelines and their own rules still run."""
    if not errors:
        return data
    usable = copy.deepcopy(data)
    for error in errors:
        node: Any = usable
        loc = error["loc"]
        for depth, step in enumerate(loc):
            if not isinstance(node, dict):
                break
            if step not in node:
                continue  # a union's tag (`verify.github.colour`), not a key of the data
            if depth == len(loc) - 1 or not isinstance(node[step], dict):
                del node[step]  # a list goes whole: deleting one item would shift the rest
                break
            node = node[step]
    return usable


def deep_merge(base: Any, override: Any) -> Any:
    """Mappings merge key by key (override wins); lists and scalars are replaced whole."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = {key: copy.deepcopy(value) for key, value in base.items()}
        for key, value in override.items():
            merged[key] = deep_merge(base[key], value) if key in base else copy.deepcopy(value)
        return merged
    return copy.deepcopy(override)


def _locate_rule(doc: Document, sources: _Sources, where: tuple[str, ...], message: str) -> Problem:
    return doc.problem(_written_at(doc, sources, where), f"pipeline `{sources.name}`: {message}")


def _written_at(doc: Document, sources: _Sources, where: tuple[str, ...]) -> PathKey:
    """The key that set the value at `where`: an override, the pipeline's own, a default."""
    return next(
        ((*base, *where) for base in sources.bases if (*base, *where) in doc.positions),
        ("pipelines", sources.name, *where),
    )
