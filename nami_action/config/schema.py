"""The published JSON Schema of nami.yaml, generated from the pydantic models."""

from __future__ import annotations

import json
from typing import Any

from nami_action.config.models import NamiFile

SCHEMA_ID = "https://raw.githubusercontent.com/nami-dev/nami/main/schemas/nami.schema.json"


def json_schema() -> dict[str, Any]:
    schema = NamiFile.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def schema_text() -> str:
    """Stable text: the checked-in schemas/nami.schema.json must equal this byte for byte."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"
