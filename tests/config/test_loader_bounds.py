"""The config path may be anything, and a short file may not expand into a long run:
every case ends in one located error, quickly, without blocking."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from nami_action.config import load_config
from nami_action.config.loader import MAX_FILE_BYTES, MAX_NODES, load_document
from nami_action.errors import ConfigError

VALID_TAIL = """pipelines:
  hook:
    verify: {scheme: none}
    consumer: {code: src}
"""


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path, display_name="nami.yaml")
    return [str(p) for p in caught.value.problems]


def run_validate(path: Path | str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nami_action", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=20,
    )


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_fifo_without_a_writer_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "nami.yaml"
    os.mkfifo(fifo)
    started = time.monotonic()
    assert problems_of(fifo) == ["nami.yaml:1:1: is a named pipe (FIFO), not a regular file"]
    assert time.monotonic() - started < 5


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_fifo_with_an_endless_writer_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "nami.yaml"
    os.mkfifo(fifo)
    stop = threading.Event()

    def write_forever() -> None:
        try:
            fd = os.open(fifo, os.O_WRONLY)
        except OSError:
            return
        try:
            while not stop.is_set():
                os.write(fd, b"version: 1\n" * 1000)
        except OSError:
            pass
        finally:
            os.close(fd)

    writer = threading.Thread(target=write_forever, daemon=True)
    writer.start()
    try:
        assert problems_of(fifo) == ["nami.yaml:1:1: is a named pipe (FIFO), not a regular file"]
    finally:
        stop.set()
        os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))  # lets a waiting writer go


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_dev_zero_is_refused_without_reading_it() -> None:
    result = run_validate("/dev/zero")
    assert result.returncode == 1
    assert result.stderr.startswith("/dev/zero:1:1: is a character device, not a regular file")


def test_directory_is_refused(tmp_path: Path) -> None:
    assert problems_of(tmp_path) == ["nami.yaml:1:1: is a directory, not a nami.yaml file"]


def test_unix_socket_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s"
    with socket.socket(socket.AF_UNIX) as server:
        try:
            server.bind(str(path))
        except OSError:
            pytest.skip("cannot bind a unix socket here")
        [problem] = problems_of(path)
    assert problem.startswith("nami.yaml:1:1: ")
    assert "socket" in problem or "cannot read" in problem


def test_a_file_that_stat_calls_empty_is_still_read_with_a_bound() -> None:
    # /proc files report size 0 but hold text: the read is bounded by bytes, not by stat.
    status = Path("/proc/self/status")
    if not status.exists():
        pytest.skip("needs /proc")
    assert status.stat().st_size == 0
    found = problems_of(status)
    assert found and all(p.startswith("nami.yaml:") for p in found)
    assert not any("file is empty" in p for p in found), found  # its text was read


def test_exactly_the_limit_is_read_and_one_more_byte_is_refused(tmp_path: Path) -> None:
    head = "version: 1\nproject: acme\n" + VALID_TAIL
    path = tmp_path / "nami.yaml"
    path.write_text(head + "#" * (MAX_FILE_BYTES - len(head) - 1) + "\n")
    assert path.stat().st_size == MAX_FILE_BYTES
    (tmp_path / "src").mkdir(exist_ok=True)
    assert load_config(path).project == "acme"
    path.write_text(head + "#" * (MAX_FILE_BYTES - len(head)) + "\n")
    assert problems_of(path) == [
        "nami.yaml:1:1: file is 1,048,577 bytes; nami.yaml is limited to 1 MiB"
    ]


def merge_chain(levels: int, fan_out: int) -> str:
    lines = ["version: 1", "project: acme", "a0: &a0 {}"]
    for level in range(1, levels + 1):
        sources = ", ".join([f"*a{level - 1}"] * fan_out)
        lines.append(f"a{level}: &a{level} {{<<: [{sources}]}}")
    return "\n".join(lines) + "\n"


def test_merge_key_chain_stops_at_the_node_budget(tmp_path: Path) -> None:
    text = merge_chain(8, 12)  # 12**8 merges if nothing stops it
    assert len(text.encode()) < 650
    path = tmp_path / "nami.yaml"
    path.write_text(text)
    started = time.monotonic()
    result = run_validate(path)
    assert time.monotonic() - started < 10
    assert result.returncode == 1
    assert f"document expands to too many nodes (limit {MAX_NODES:,} nodes" in result.stderr
    assert "Traceback" not in result.stderr


def test_merge_keys_and_aliases_share_one_budget(tmp_path: Path) -> None:
    # Each alone stays under the budget; mixing merges of aliased lists must not escape it.
    text = (
        "version: 1\nproject: acme\n"
        "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n"
        "m0: &m0 {a: *l0, b: *l0, c: *l0, d: *l0, e: *l0, f: *l0, g: *l0, h: *l0}\n"
        + "".join(
            f"m{i}: &m{i} {{x{i}: [*m{i - 1}, *m{i - 1}, *m{i - 1}], <<: *m{i - 1}}}\n"
            for i in range(1, 12)
        )
    )
    path = tmp_path / "nami.yaml"
    path.write_text(text)
    started = time.process_time()  # CPU: on a shared machine wall time measures the others
    [problem] = problems_of(path)
    assert time.process_time() - started < 10
    assert "document expands to too many nodes" in problem


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("a: &a\n  x: 1\n  <<: *a\n", "5:3"),
        ("a: &a\n  b:\n    <<: *a\n", "5:5"),
        ("a: &a {x: 1, <<: [{y: 2}, *a]}\n", "3:14"),
    ],
    ids=["itself", "its-parent", "in-a-list"],
)
def test_a_mapping_merging_itself_is_a_located_error(tmp_path: Path, text: str, place: str) -> None:
    path = tmp_path / "nami.yaml"
    path.write_text("version: 1\nproject: acme\n" + text)
    problems = problems_of(path)
    assert f"nami.yaml:{place}: merge key `<<` merges a mapping into itself" in "\n".join(
        problems
    ), problems


@pytest.mark.parametrize(
    ("value", "kind"),
    [("5", "the scalar `5`"), ("null", "null"), ("[*d, 3]", "a list holding other values")],
)
def test_merge_key_takes_only_mappings(tmp_path: Path, value: str, kind: str) -> None:
    path = tmp_path / "nami.yaml"
    path.write_text(
        "version: 1\nproject: acme\nd: &d {x: 1}\n"
        f"pipelines:\n  hook:\n    <<: {value}\n    verify: {{scheme: none}}\n"
        "    consumer: {code: src}\n"
    )
    problems = problems_of(path)
    assert any(
        p.startswith("nami.yaml:6:9: merge key `<<` takes a mapping") and p.endswith(kind)
        for p in problems
    ), problems


def test_merged_keys_keep_their_own_positions_and_written_keys_win(tmp_path: Path) -> None:
    path = tmp_path / "nami.yaml"
    path.write_text(
        "version: 1\nproject: acme\n"
        "x-consumer: &consumer {code: src, memory: 64, timeout: 20s}\n"
        "pipelines:\n  hook:\n    verify: {scheme: none}\n"
        "    consumer:\n      <<: *consumer\n      timeout: 4000s\n"
    )
    problems = problems_of(path)
    # memory comes from the anchor (line 3); timeout is the pipeline's own (line 9)
    assert any(p.startswith("nami.yaml:3:43: ") and "memory" in p for p in problems), problems
    assert any(p.startswith("nami.yaml:9:16: ") and "timeout" in p for p in problems), problems


def test_merge_precedence_follows_yaml(tmp_path: Path) -> None:
    path = tmp_path / "nami.yaml"
    path.write_text(
        "version: 1\nproject: acme\nx: &a {m: 1, n: 1}\ny: &b {m: 2, o: 2}\n"
        "z: {<<: [*a, *b], n: 3}\n"
    )
    data = load_document(path).data
    assert data["z"] == {"n": 3, "m": 1, "o": 2}


@pytest.mark.parametrize(
    "text",
    [
        "version:\t1\nproject:\tacme\n",
        "version: \t1\nproject: acme\t# comment\n",
        "version: 1\nproject: {name:\tacme}\n",
    ],
    ids=["after-colon", "mixed-and-before-comment", "flow"],
)
def test_tabs_as_separation_are_valid_yaml(tmp_path: Path, text: str) -> None:
    path = tmp_path / "nami.yaml"
    path.write_text(text)
    data = load_document(path).data
    assert data["version"] == 1
    assert data["project"] in ("acme", {"name": "acme"})


def test_tab_in_indentation_is_still_refused(tmp_path: Path) -> None:
    path = tmp_path / "nami.yaml"
    path.write_text("version: 1\npipelines:\n\thook: {}\n")
    assert problems_of(path) == [
        "nami.yaml:3:1: tab character in indentation: YAML indents with spaces"
    ]


@pytest.mark.parametrize(
    ("start", "opener"),
    [("x: ", "["), ("x: ", "{a: "), ("x:\n- ", "["), ("x:\n", "- "), ("x: ", "[a: ")],
)
def test_flow_nesting_past_the_c_composers_stack_is_a_located_error(
    tmp_path: Path, start: str, opener: str
) -> None:
    """30,000 levels crashed the C composer (SIGSEGV, no output) before any depth check."""
    path = tmp_path / "nami.yaml"
    path.write_text("version: 1\n" + start + opener * 30_000 + "\n")
    result = run_validate(path)
    assert result.returncode == 1, (result.returncode, result.stderr[-500:])
    assert f"{path}:{1 + start.count(chr(10)) + 1}:" in result.stderr
    assert "document nested too deeply" in result.stderr


def test_deep_nesting_behind_a_syntax_error_still_ends_in_a_message(tmp_path: Path) -> None:
    path = tmp_path / "nami.yaml"
    path.write_text("version: 1\nx: [}\ny: " + "[" * 30_000 + "\n")
    result = run_validate(path)
    assert result.returncode == 1, (result.returncode, result.stderr[-500:])
    assert f"{path}:2:" in result.stderr


@pytest.mark.parametrize("version", ["1.0", "1.3", "2.0", "x"])
def test_an_unsupported_yaml_directive_is_refused_at_its_line(tmp_path: Path, version: str) -> None:
    path = tmp_path / "nami.yaml"
    path.write_text(f"# a comment\n%YAML {version}\n---\nversion: 1\n")
    assert problems_of(path) == [
        f"nami.yaml:2:1: `%YAML {version}`: nami.yaml is YAML 1.2; write `%YAML 1.2` or no "
        "directive"
    ]


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_a_supported_yaml_directive_is_read(tmp_path: Path, version: str) -> None:
    path = tmp_path / "nami.yaml"
    path.write_text(f"%YAML {version}\n---\nversion: 1\nproject: acme\n{VALID_TAIL}")
    assert load_config(path).project == "acme"


def test_an_anchor_defined_twice_is_read_without_a_library_warning(tmp_path: Path) -> None:
    """Legal YAML (an alias names the latest definition); ruamel printed 11 lines of
    ReusedAnchorWarning with its own file path and no location."""
    path = tmp_path / "nami.yaml"
    path.write_text(
        "version: 1\nproject: &p acme\nregion: &p eu-west-1\n"
        "pipelines:\n  hook:\n    verify: {scheme: none}\n    consumer: {code: src}\n"
        "    description: *p\n"
    )
    result = subprocess.run(
        [sys.executable, "-W", "default", "-m", "nami_action", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    config = load_config(path)
    assert config.pipelines["hook"].spec.description == "eu-west-1"
