"""Whatever the bytes, loading and validating ends in a Config or in located errors."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nami_action.config import Config, load_config
from nami_action.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_TEXT = (ROOT / "examples" / "nami.yaml").read_text()
KEYS = [
    "version",
    "project",
    "pipelines",
    "verify",
    "scheme",
    "secret",
    "consumer",
    "code",
    "queue",
    "fifo",
    "retention",
    "batch_size",
    "defaults",
    "dedupe",
    "header",
    "x",
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True),
    st.sampled_from(["github", "ssm:/a", "4d", "1MiB", "none", "src", "acme", "30s"]),
    st.text(max_size=20),
)
DOCUMENTS = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=30,
)


def outcome(text: str | bytes) -> Config | ConfigError:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "nami.yaml"
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
        try:
            return load_config(path, display_name="nami.yaml")
        except ConfigError as exc:
            return exc


def assert_located(result: Config | ConfigError, text: str | bytes) -> None:
    if isinstance(result, Config):
        return
    assert result.problems, "an error without problems"
    lines = max(1, len(text.splitlines()) + 1)
    for problem in result.problems:
        assert problem.file == "nami.yaml"
        assert 1 <= problem.line <= lines, problem
        assert problem.column >= 1
        assert problem.message


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(DOCUMENTS)
def test_generated_documents(document: Any) -> None:
    text = json.dumps(document)
    assert_located(outcome(text), text)


@SETTINGS
@given(st.data())
def test_mutated_example(data: st.DataObject) -> None:
    text = EXAMPLE_TEXT
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(text)))
        action = data.draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = data.draw(
            st.sampled_from(
                [
                    ":",
                    " ",
                    "\t",
                    "-",
                    "\n",
                    "&a",
                    "*a",
                    "{",
                    "[",
                    "'",
                    '"',
                    "#",
                    "!!binary",
                    "? ",
                    "x",
                    "1",
                    "~",
                    "%",
                ]
            )
        )
        span = data.draw(st.integers(0, 10))
        if action == "insert":
            text = text[:position] + piece + text[position:]
        elif action == "delete":
            text = text[:position] + text[position + span :]
        else:
            text = text[:position] + piece + text[position + span :]
    assert_located(outcome(text), text)


@SETTINGS
@given(st.binary(max_size=300))
def test_arbitrary_bytes(blob: bytes) -> None:
    assert_located(outcome(blob), blob)
