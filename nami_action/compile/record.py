"""What a compiled template records about itself in its Metadata (`Nami`): the settings that
move the cost, the pipeline's settings as written in nami.yaml, and what the consumer zip
holds. The deployed template then tells a plan what is deployed in nami.yaml's own terms."""

from __future__ import annotations

from typing import Any

from nami_action.compile.consumer import CodeLocation
from nami_action.config import PipelineConfig
from nami_action.config.routes import route_pipelines
from nami_action.cost.model import METADATA_KEY, inputs_from_pipeline, route_cost_inputs

SETTINGS = "settings"
CODE = "code"
RETIRING = "retiring_ingress"  # kinds of earlier endpoints still live (plan/endpoints.py)


def pipeline_metadata(
    pipeline: PipelineConfig, code: CodeLocation, retiring: tuple[str, ...] = ()
) -> dict[str, Any]:
    recorded: dict[str, Any] = {
        "cost": inputs_from_pipeline(pipeline.spec, route_costs(pipeline)).metadata(),
        SETTINGS: flat_settings(pipeline.written),
    }
    if retiring:
        recorded[RETIRING] = list(retiring)
    if code.manifest is not None:
        recorded[CODE] = code.manifest.to_metadata()
    return {METADATA_KEY: recorded}


def route_costs(pipeline: PipelineConfig) -> dict[str, Any]:
    """Each route's cost inputs (empty without `routes:`)."""
    return {name: route_cost_inputs(r.spec) for name, r in route_pipelines(pipeline).items()}


def flat_settings(written: dict[str, Any]) -> dict[str, Any]:
    """`{"consumer": {"memory": 512}}` -> `{"consumer.memory": 512}`; lists stay whole (they
    are written and replaced whole), values stay as written (`30s`, not 30)."""
    flat: dict[str, Any] = {}

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict) and value:
            for key, item in value.items():
                walk(item, f"{path}.{key}" if path else str(key))
        elif path:
            flat[path] = _json_ready(value)

    walk(written, "")
    return flat


def _json_ready(value: Any) -> Any:
    """Template Metadata takes strings, integers, booleans, objects and arrays (cfn-lint
    E4002 refuses a float or a null): a number like 0.5 and a null are recorded as text."""
    if isinstance(value, bool | int | str):
        return value
    if value is None:
        return "null"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list | tuple):
        return [_json_ready(item) for item in value]
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    return str(value)  # e.g. a YAML timestamp: recorded as it reads
