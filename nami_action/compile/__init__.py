"""compile: every pipeline of a Config -> its own CloudFormation template (troposphere)."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

from ruamel.yaml import YAML

from nami_action.compile import cache
from nami_action.compile.consumer import CodeLocation
from nami_action.compile.render import render_pipelines
from nami_action.config import Config
from nami_action.package.pipelines import cache_dir_for

__all__ = ["CodeLocation", "compile_config", "template_path", "to_yaml", "write_templates"]


def compile_config(
    config: Config, code: dict[str, CodeLocation], *, use_cache: bool = True
) -> dict[str, str]:
    """Stack name -> template JSON text, for every pipeline (deterministic). Templates whose
    inputs did not change come from the cache beside nami.yaml (see `cache`); the others are
    rendered, in parallel when there are many (see `render`)."""
    names = list(config.pipelines)
    if not use_cache:
        rendered = render_pipelines(config, code, names)
        return {config.pipelines[name].stack_name: rendered[name] for name in names}
    store = cache.TemplateCache(cache.cache_file(config, cache_dir_for(config)))
    shared = cache.config_key(config)
    keys = {name: cache.key(shared, config.pipelines[name], code[name]) for name in names}
    found = {name: store.cached(keys[name]) for name in names}
    missing = [name for name in names if found[name] is None]
    for name, text in render_pipelines(config, code, missing).items():
        store.keep(keys[name], text)
        found[name] = text
    store.save()
    return {config.pipelines[name].stack_name: str(found[name]) for name in names}


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
