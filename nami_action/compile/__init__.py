"""compile: every pipeline of a Config -> its own CloudFormation template (troposphere)."""

from __future__ import annotations

import functools
import json
from io import StringIO
from pathlib import Path

from ruamel.yaml import YAML

from nami_action.compile import cache
from nami_action.compile.consumer import CodeLocation
from nami_action.compile.pipeline import render_template
from nami_action.config import Config
from nami_action.package.pipelines import cache_dir_for

__all__ = ["CodeLocation", "compile_config", "template_path", "to_yaml", "write_templates"]


def compile_config(
    config: Config, code: dict[str, CodeLocation], *, use_cache: bool = True
) -> dict[str, str]:
    """Stack name -> template JSON text, for every pipeline (deterministic). Templates whose
    inputs did not change come from the cache beside nami.yaml (see `cache`)."""
    if not use_cache:
        return {
            pipeline.stack_name: render_template(config, pipeline, code[name])
            for name, pipeline in config.pipelines.items()
        }
    store = cache.TemplateCache(cache.cache_file(config, cache_dir_for(config)))
    shared = cache.config_key(config)
    templates = {
        pipeline.stack_name: store.render(
            cache.key(shared, pipeline, code[name]),
            functools.partial(render_template, config, pipeline, code[name]),
        )
        for name, pipeline in config.pipelines.items()
    }
    store.save()
    return templates


def to_yaml(template_json: str) -> str:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.width = 4096  # long VTL and policy strings stay on one line: stable diffs
    out = StringIO()
    yaml.dump(json.loads(template_json), out)
    return out.getvalue()


def template_path(out_dir: Path, stack_name: str, fmt: str) -> Path:
    return out_dir / f"{stack_name}.template.{fmt}"


def write_templates(templates: dict[str, str], out_dir: Path, fmt: str) -> list[Path]:
    """Write only files whose bytes changed, so timestamps show what compile touched."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for stack_name, text in sorted(templates.items()):
        path = template_path(out_dir, stack_name, fmt)
        body = text if fmt == "json" else to_yaml(text)
        if not path.exists() or path.read_text() != body:
            path.write_text(body)
        written.append(path)
    return written
