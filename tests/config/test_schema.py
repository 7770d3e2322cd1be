"""The published JSON Schema: in sync with the models, valid Draft 2020-12, and in agreement
with the pydantic models on valid and invalid documents."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator, ValidationError, validators

from nami_action.cli import cli
from nami_action.config.loader import load_document
from nami_action.config.schema import json_schema, schema_text
from nami_action.config.validate import validate_document
from nami_action.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
CHECKED_IN = ROOT / "schemas" / "nami.schema.json"


def test_checked_in_schema_is_in_sync() -> None:
    assert CHECKED_IN.read_text() == schema_text(), "run `make schema` and commit the result"


def test_cli_prints_the_schema() -> None:
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0
    assert json.loads(result.output) == json_schema()


def test_schema_is_valid_draft_2020_12() -> None:
    Draft202012Validator.check_schema(json_schema())
    assert json_schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_schema_validates_the_example() -> None:
    data = load_document(ROOT / "examples" / "nami.yaml").data
    errors = list(Draft202012Validator(json_schema()).iter_errors(data))
    assert errors == []


BASE: dict[str, Any] = {
    "version": 1,
    "project": "acme",
    "pipelines": {"p": {"verify": {"scheme": "none"}, "consumer": {"code": "src"}}},
}


def variant(path: str, value: Any) -> dict[str, Any]:
    doc = json.loads(json.dumps(BASE))
    node = doc
    keys = path.split(".")
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value
    return doc


AGREEMENT = [
    (BASE, True),
    (variant("pipelines.p.queue.retention", "4d"), True),
    (variant("pipelines.p.queue.retention", 120), True),
    (variant("pipelines.p.queue.retention", "4 days"), False),
    (variant("pipelines.p.queue.retention", 10), False),
    (variant("pipelines.p.queue.max_message_size", "256KiB"), True),
    (variant("pipelines.p.queue.max_message_size", "1GB"), False),
    (variant("pipelines.p.queue.fifo", "yes"), False),
    (variant("pipelines.p.consumer.memory", 64), False),
    (variant("pipelines.p.consumer.memory", "256"), False),
    (variant("pipelines.p.consumer.mode", "sqs"), True),
    (variant("pipelines.p.consumer.mode", "lambda"), False),
    (variant("pipelines.p.consumer.max_concurrency", 1), False),
    (variant("pipelines.p.consumer.max_concurrency", 1000), True),
    (variant("pipelines.p.verify", {"scheme": "github", "secret": "ssm:/a/b"}), True),
    (variant("pipelines.p.verify", {"scheme": "github", "secret": "hunter2"}), False),
    (variant("pipelines.p.verify", {"scheme": "github"}), False),
    (
        variant("pipelines.p.verify", {"scheme": "stripe", "secret": "ssm:/s", "tolerance": "5m"}),
        True,
    ),
    (
        variant("pipelines.p.verify", {"scheme": "github", "secret": "ssm:/s", "tolerance": 5}),
        False,
    ),
    (
        variant(
            "pipelines.p.verify",
            {"scheme": "hmac-sha256", "secret": "ssm:/s", "header": "X-Sig", "encoding": "base64"},
        ),
        True,
    ),
    (variant("pipelines.p.verify", {"scheme": "hmac-sha256", "secret": "ssm:/s"}), False),
    (variant("pipelines.p.verify", {"scheme": "githb", "secret": "ssm:/s"}), False),
    (variant("pipelines.p.unknown", 1), False),
    (variant("pipelines.Bad_Name", BASE["pipelines"]["p"]), False),
    (variant("pipelines.p.path", "/a/b"), True),
    (variant("pipelines.p.path", "a"), False),
    (variant("version", 2), False),
    (variant("project", "Acme"), False),
    (variant("region", "eu-west-1"), True),
    (variant("region", "europe"), False),
    (variant("defaults.consumer.memory", 1024), True),
    (variant("defaults.consumer.code", "src"), False),
    (variant("pipelines.p.alarms.email", ["a@b.io"]), True),
    (variant("pipelines.p.alarms.email", ["nope"]), False),
    # Python's `$` also matches before a final newline; ECMA-262's (the schema's) does not.
    (variant("project", "acme\n"), False),
    (variant("pipelines.p.verify", {"scheme": "github", "secret": "ssm:/a\n"}), False),
    (variant("pipelines.p.queue", {"fifo": True, "group_by": "header:X\n"}), False),
    (variant("pipelines.p.queue.retention", "4d\n"), False),
    (variant("pipelines.p.alarms.https", ["https://example.com/a\n"]), False),
    (variant("pipelines.p.alarms.https", ["https://example.com./a"]), False),
    (variant("pipelines.p.alarms.https", ["https://example.com:65536/a"]), False),
    (variant("pipelines.p.alarms.https", ["https://example.com:65535/a"]), True),
    (variant("pipelines.p.alarms.https", ["https://example.com/\x1b"]), False),
    (variant("pipelines.p.alarms.topic", "arn:aws:sns:eu-west-1:123456789012:x\n"), False),
    (variant("pipelines.p.alarms.email", ["a\x1b@b.io"]), False),
    (variant("artifacts.bucket", "my-bucket\n"), False),
    ({"version": 1, "project": "acme", "pipelines": {}}, False),
]


def pydantic_accepts(doc: dict[str, Any], tmp_path: Path) -> bool:
    path = tmp_path / "nami.yaml"
    path.write_text(json.dumps(doc))  # JSON is YAML: same loader as nami.yaml
    (tmp_path / "src").mkdir(exist_ok=True)  # consumer.code must exist
    try:
        validate_document(load_document(path), tmp_path)
    except ConfigError:
        return False
    return True


def _ecma_pattern(
    validator: Any, pattern: str, instance: Any, _schema: dict[str, Any]
) -> Iterator[ValidationError]:
    """`pattern` as JSON Schema means it (ECMA-262, where `$` is only the end of the text);
    the jsonschema package uses Python's `re.search`, whose `$` also matches before a final
    newline. Every schema pattern ends with `$` (checked below), read here as `\\Z`."""
    if validator.is_type(instance, "string") and not re.search(pattern[:-1] + r"\Z", instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


EcmaValidator = validators.extend(Draft202012Validator, {"pattern": _ecma_pattern})


def _patterns(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                yield value
            yield from _patterns(value)
    elif isinstance(node, list):
        for item in node:
            yield from _patterns(item)


def test_every_schema_pattern_is_anchored_at_both_ends() -> None:
    patterns = set(_patterns(json_schema()))
    assert len(patterns) > 10
    for pattern in patterns:
        assert pattern.startswith("^") and pattern.endswith("$") and not pattern.endswith("\\$")
        assert "\\Z" not in pattern  # not ECMA-262: an editor would read a literal `Z`


@pytest.mark.parametrize(("doc", "valid"), AGREEMENT)
def test_schema_and_models_agree(doc: dict[str, Any], valid: bool, tmp_path: Path) -> None:
    schema_valid = EcmaValidator(json_schema()).is_valid(doc)
    assert schema_valid == valid
    assert pydantic_accepts(doc, tmp_path) == valid


def test_docs_reference_is_generated_from_the_schema() -> None:
    from nami_action.config.reference import with_reference

    page = (ROOT / "docs" / "reference.md").read_text()
    assert page == with_reference(page), "run `make schema` and commit docs/reference.md"
