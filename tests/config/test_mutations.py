"""The example, mutated at every key path (deleted, wrong type, huge or negative numbers,
unicode, an unknown sibling), always ends in a Config that compiles or in located problems,
each within 5 s and 200 MB."""

from __future__ import annotations

import copy
import io
import math
import shutil
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from nami_action.compile.consumer import CodeLocation
from nami_action.compile.pipeline import build_template
from nami_action.config import Config, load_config
from nami_action.config.loader import PathKey, load_document
from nami_action.errors import ConfigError, printable

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "nami.yaml"
EXAMPLE_DATA: dict[str, Any] = load_document(EXAMPLE).data
SECONDS_PER_EXAMPLE = 5.0
BYTES_PER_EXAMPLE = 200 * 1024 * 1024

WRONG_TYPES: list[Any] = [None, True, "text", 12, 1.5, [], {}, ["x"], {"k": "v"}]
NUMBERS: list[Any] = [10**30, 2**63, 1e308, -1, -(10**20), -0.5, 0, math.inf, -math.inf]
UNICODE: list[str] = [
    "é",
    "🙂" * 50,
    "\u202eevil",
    "a\n::error::forged",
    "Ω≈ç√∫",
    "x" * 5000,
    "\x00\x1b[2J",
    "ＦＵＬＬＷＩＤＴＨ",
]
KINDS = ["delete", "wrong type", "number", "unicode", "unknown sibling"]


def key_paths(node: Any, path: PathKey = ()) -> Iterator[PathKey]:
    if isinstance(node, dict):
        items: Any = node.items()
    elif isinstance(node, list):
        items = enumerate(node)
    else:
        return
    for key, child in items:
        yield (*path, key)
        yield from key_paths(child, (*path, key))


PATHS = list(key_paths(EXAMPLE_DATA))


def mutate(data: dict[str, Any], path: PathKey, kind: str, value: Any) -> None:
    parent: Any = data
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if kind == "delete":
        del parent[last]
    elif kind == "unknown sibling":
        if isinstance(parent, dict):
            parent[f"{last}_extra"] = value
        else:
            parent.append(copy.deepcopy(parent[last]))  # a repeated list item
    else:
        parent[last] = value


def different_type(original: Any, choices: list[Any]) -> Any:
    return next(c for c in choices if type(c) is not type(original))


def dump(data: dict[str, Any]) -> str:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    stream = io.StringIO()
    yaml.dump(data, stream)
    return stream.getvalue()


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as name:
        shutil.copytree(EXAMPLE.parent / "consumers", Path(name) / "consumers")
        yield Path(name)


def outcome(folder: Path, text: str) -> Config | ConfigError:
    path = folder / "nami.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        config = load_config(path, display_name="nami.yaml")
    except ConfigError as exc:
        return exc
    for pipeline in config.pipelines.values():  # accepted means it compiles
        build_template(config, pipeline, CodeLocation(None, "artifact"))
    return config


def checked_outcome(folder: Path, text: str) -> Config | ConfigError:
    """The outcome, asserting this one run stayed within its time and memory."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        result = outcome(folder, text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    elapsed = time.perf_counter() - started
    assert elapsed < SECONDS_PER_EXAMPLE, f"took {elapsed:.1f} s"
    assert peak < BYTES_PER_EXAMPLE, f"peaked at {peak / 2**20:.0f} MiB"
    return result


def assert_config_or_located(result: Config | ConfigError, text: str) -> None:
    if isinstance(result, Config):
        return
    assert result.problems, "an error without problems"
    lines = text.count("\n") + 1
    for problem in result.problems:
        assert problem.file == "nami.yaml"
        assert 1 <= problem.line <= lines, problem
        assert problem.column >= 1, problem
        assert problem.message and problem.message == printable(problem.message), problem


@pytest.mark.parametrize("path", PATHS, ids=[".".join(map(str, p)) for p in PATHS])
def test_every_key_path_mutated_every_way(folder: Path, path: PathKey) -> None:
    original: Any = EXAMPLE_DATA
    for step in path:
        original = original[step]
    turn = PATHS.index(path)  # each path gets another number and another text
    for kind in KINDS:
        data = copy.deepcopy(EXAMPLE_DATA)
        value = {
            "delete": None,
            "wrong type": different_type(original, WRONG_TYPES),
            "number": NUMBERS[turn % len(NUMBERS)],
            "unicode": UNICODE[turn % len(UNICODE)],
            "unknown sibling": "surprise",
        }[kind]
        mutate(data, path, kind, value)
        text = dump(data)
        assert_config_or_located(checked_outcome(folder, text), text)


VALUES = st.one_of(
    st.sampled_from(WRONG_TYPES + NUMBERS + UNICODE),
    st.integers(),
    st.floats(),
    st.text(max_size=40),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_mutations_at_random_key_paths(folder: Path, data: st.DataObject) -> None:
    document = copy.deepcopy(EXAMPLE_DATA)
    for _ in range(data.draw(st.integers(1, 4))):
        paths = list(key_paths(document))
        if not paths:
            break
        path = data.draw(st.sampled_from(paths))
        mutate(document, path, data.draw(st.sampled_from(KINDS)), data.draw(VALUES))
    text = dump(document)
    assert_config_or_located(checked_outcome(folder, text), text)
