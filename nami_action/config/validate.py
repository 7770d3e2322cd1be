"""load -> validate: nami.yaml becomes a Config, or a ConfigError listing every problem."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from nami_action.config.code import check_code_folders
from nami_action.config.loader import Document, PathKey, load_document
from nami_action.config.messages import to_problems
from nami_action.config.models import NamiFile, Pipeline
from nami_action.config.rules import check, visibility_timeout
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
    written, problems, broken = _validate_written(doc)
    pipelines: dict[str, PipelineConfig] = {}
    defaults = doc.data.get("defaults") or {}
    raw_pipelines = doc.data.get("pipelines")
    if "defaults" in broken or not isinstance(raw_pipelines, dict):
        raise ConfigError(problems)
    for name, raw in raw_pipelines.items():
        if name in broken or not isinstance(raw, dict):
            continue
        merged = deep_merge(defaults, raw)
        try:
            spec = Pipeline.model_validate(merged)
        except ValidationError as exc:  # only values inherited from defaults can fail here
            problems.extend(
                to_problems(doc, exc.errors(include_url=False), Pipeline, ("pipelines", name))
            )
            continue
        for where, message in check(spec):
            problems.append(_locate_rule(doc, name, where, message))
        pipelines[name] = PipelineConfig(
            name=name,
            stack_name=f"{doc.data.get('project')}-{name}",
            path=spec.path or f"/{name}",
            visibility_timeout=visibility_timeout(spec),
            spec=spec,
            line=doc.locate(("pipelines", name), at_key=True)[0],
        )
    problems += check_code_folders(doc, base_dir, pipelines)
    if problems or written is None:
        raise ConfigError(problems)
    return Config(
        file=doc.file,
        base_dir=base_dir,
        project=written.project,
        region=written.region,
        tags=dict(written.tags),
        artifacts_bucket=written.artifacts.bucket,
        pipelines=pipelines,
        document=doc,
    )


def _validate_written(doc: Document) -> tuple[NamiFile | None, list[Problem], set[str]]:
    """Check the document as written; also name the sections whose errors stop the merge
    (`defaults`, and each broken pipeline) so valid pipelines still get their rules checked."""
    try:
        return NamiFile.model_validate(doc.data), [], set()
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
    broken: set[str] = set()
    for error in errors:
        loc = error["loc"]
        if loc and loc[0] == "defaults":
            broken.add("defaults")
        if len(loc) > 1 and loc[0] == "pipelines":
            broken.add(str(loc[1]))
    return None, to_problems(doc, errors, NamiFile), broken


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
