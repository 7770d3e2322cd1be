"""load -> validate: nami.yaml becomes a Config, or a ConfigError listing every problem."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from nami_action.config.limits import limit_problems
from nami_action.config.loader import Document, PathKey, load_document
from nami_action.config.messages import to_problems
from nami_action.config.models import NamiFile, Pipeline
from nami_action.config.rules import check, visibility_timeout
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


@dataclass(frozen=True)
class Config:
    file: str
    base_dir: Path
    project: str
    region: str | None
    tags: dict[str, str]
    artifacts_bucket: str | None
    pipelines: dict[str, PipelineConfig]
    document: Document


def load_config(path: Path, display_name: str | None = None) -> Config:
    doc = load_document(path, display_name)
    return validate_document(doc, path.resolve().parent)


def validate_document(doc: Document, base_dir: Path) -> Config:
    """Every problem at once: what the loader read past, the schema's findings, the rules on
    each pipeline (with `defaults` minus its broken keys merged in) and the AWS limits."""
    written, errors = _validate_written(doc)
    problems = [*doc.problems, *_schema_problems(doc, errors)]
    problems.extend(written_problems(doc))
    usable = _without_broken_keys(doc.data, errors)
    raw_pipelines = doc.data.get("pipelines")
    if not isinstance(raw_pipelines, dict):
        raise ConfigError(problems)
    broken = {str(e["loc"][1]) for e in errors if len(e["loc"]) > 1 and e["loc"][0] == "pipelines"}
    defaults = usable.get("defaults")
    pipelines: dict[str, PipelineConfig] = {}
    compilable: list[str] = []
    for name, raw in (usable.get("pipelines") or {}).items():
        if not isinstance(name, str) or not isinstance(raw, dict):
            continue
        merged = deep_merge(defaults if isinstance(defaults, dict) else {}, raw)
        try:
            spec = Pipeline.model_validate(merged)
        except ValidationError as exc:
            if name not in broken:  # only values inherited from defaults can fail here
                problems.extend(
                    to_problems(doc, exc.errors(include_url=False), Pipeline, ("pipelines", name))
                )
            continue
        findings = check(spec)
        for where, message in findings:
            problems.append(_locate_rule(doc, name, where, message))
        pipelines[name] = _pipeline_config(doc, usable, name, spec)
        if not findings and name not in broken:
            compilable.append(name)  # what the compiler would be given: limits apply
    config = _config(doc, base_dir, written, usable, pipelines)
    problems.extend(limit_problems(config, compilable))
    if problems or written is None:
        raise ConfigError(problems)
    return config


def _pipeline_config(
    doc: Document, usable: dict[str, Any], name: str, spec: Pipeline
) -> PipelineConfig:
    return PipelineConfig(
        name=name,
        stack_name=f"{_text(usable.get('project'))}-{name}",
        path=spec.path or f"/{name}",
        visibility_timeout=visibility_timeout(spec),
        spec=spec,
        line=doc.locate(("pipelines", name), at_key=True)[0],
    )


def _config(
    doc: Document,
    base_dir: Path,
    written: NamiFile | None,
    usable: dict[str, Any],
    pipelines: dict[str, PipelineConfig],
) -> Config:
    """The Config; while other sections are broken, its top level holds what is usable, so
    the AWS limits can still be checked for the pipelines that validated."""
    if written is not None:
        project, region, tags = written.project, written.region, dict(written.tags)
        bucket = written.artifacts.bucket
    else:
        raw_tags = usable.get("tags")
        project, region = _text(usable.get("project")), None
        tags = {
            k: v
            for k, v in (raw_tags.items() if isinstance(raw_tags, dict) else ())
            if isinstance(k, str) and isinstance(v, str)
        }
        bucket = None
    return Config(
        file=doc.file,
        base_dir=base_dir,
        project=project,
        region=region,
        tags=tags,
        artifacts_bucket=bucket,
        pipelines=pipelines,
        document=doc,
    )


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
            if not isinstance(node, dict) or step not in node:
                break
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


def _locate_rule(doc: Document, name: str, where: tuple[str, ...], message: str) -> Problem:
    """Point at the pipeline's own key if it wrote one, else at the inherited default."""
    own: PathKey = ("pipelines", name, *where)
    inherited: PathKey = ("defaults", *where)
    for candidate in (own, inherited):
        if candidate in doc.positions:
            return doc.problem(candidate, f"pipeline `{name}`: {message}")
    return doc.problem(own, f"pipeline `{name}`: {message}")
