"""Bad nami.yaml through the commands people run (`nami validate`, then `nami compile` when it
is valid): never a traceback or an internal error, exit 1 with every line located
(`nami.yaml:LINE:COL: ...`), or exit 0 and templates.

The generator mutates the widest config (tests/compile/everything: routes, forward, dedupe,
every scheme) at every key path, and its text line by line. The suite runs a seeded sample
of a few seconds; NAMI_BAD_INPUT_FULL=1 runs all of it (about 25,000 inputs, half an hour):
    NAMI_BAD_INPUT_FULL=1 .venv/bin/pytest tests/config/test_bad_input.py -n 2 -p no:randomly
Below the generator: one test per defect it (or a hand-written case) found.
"""

from __future__ import annotations

import copy
import io
import os
import random
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from ruamel.yaml import YAML

from nami_action.cli import cli
from nami_action.config.loader import PathKey, load_document

ROOT = Path(__file__).resolve().parents[2]
EVERYTHING = ROOT / "tests" / "compile" / "everything"
FULL = bool(os.environ.get("NAMI_BAD_INPUT_FULL"))
LOCATED = re.compile(r"^(?:error: )?nami\.yaml:\d+:\d+: \S")
COUNT = re.compile(r"^\d+ problems? found$")

# Values put at each key path: wrong types, edges of numbers, text that breaks encoders, and
# spellings close to what the new keys take (durations, rates, JSON paths, URLs, references).
VALUES: list[Any] = [
    None, True, "text", 12, 1.5, [], {}, ["x"], {"k": "v"}, "",
    10**400, -(10**400), 2**63, -1, 0, float("inf"), float("nan"),
    "é", "🙂" * 50, "\u202eevil", "a\n::error::forged", "x" * 5000, "\x00\x1b[2J", "\ud800",
    "0s", "59m", "1h", "90d", "91d", "-1h", "1.5h", "9" * 400 + "d",
    "0/s", "1e309/s", "nan/s", "9" * 400 + "/s",
    "$", "$.", "$..a", "$[99999999999999999999]",
    "https://", "https://[::1", "https://x.example:99999/", "http://localhost:0/",
    "ssm:", "ssm:/", "secretsmanager:", "ssm:/a b",
    "default", "none", "drop", "arn:aws:sns:eu-west-1:123456789012:t.fifo",
]  # fmt: skip
# Line edits: tabs, anchors and aliases, merge keys, tags, duplicates, escapes.
LINE_EDITS = [
    lambda k, v, i: f"\t{k.strip()}: {v}",
    lambda k, v, i: f"{k}:\t{v}",
    lambda k, v, i: f"{k}: &a{i} {v}",
    lambda k, v, i: f"{k}: *nope",
    lambda k, v, i: f"{k}: !!binary {v or 'AA=='}",
    lambda k, v, i: f"{k}: !!timestamp 2001-01-01",
    lambda k, v, i: f"{k}: !custom {v}",
    lambda k, v, i: f'{k}: "\\ud800"',
    lambda k, v, i: f"{k}: 0x7fffffffffffffffffffffff",
    lambda k, v, i: f"{indent(k)}<<: *nope",
    lambda k, v, i: f"{indent(k)}<<: 5",
    lambda k, v, i: f"{indent(k)}? [{k.strip()}]\n{indent(k)}: 1",
    lambda k, v, i: f"{k}: {v}\n{k}: {v}",
    lambda k, v, i: f"{k}: {{}}",
]  # fmt: skip


def indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" "))]


def key_paths(node: Any, path: PathKey = ()) -> Iterator[PathKey]:
    items: Any = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else []
    )
    for key, child in items:
        yield (*path, key)
        yield from key_paths(child, (*path, key))


def mutated(data: dict[str, Any], path: PathKey, value: Any) -> str:
    document = copy.deepcopy(data)
    parent: Any = document
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = value
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    stream = io.StringIO()
    yaml.dump(document, stream)
    return stream.getvalue()


def line_edited(text: str, number: int, edit: Any) -> str:
    lines = text.split("\n")
    key, _, value = lines[number].partition(":")
    lines[number] = edit(key, value.strip(), number)
    return "\n".join(lines)


def generated() -> list[tuple[str, str]]:
    """(name, nami.yaml text): every mutation, or with FULL unset a seeded sample of 60
    (drawn before the texts are made: making all of them takes a minute)."""
    text = (EVERYTHING / "nami.yaml").read_text()
    data = load_document(EVERYTHING / "nami.yaml").data
    lines = [
        number
        for number, line in enumerate(text.split("\n"))
        if ":" in line and not line.lstrip().startswith("#")
    ]
    plan: list[tuple[PathKey | int, int]] = [
        (path, index) for path in key_paths(data) for index in range(len(VALUES))
    ]
    plan += [(number, index) for number in lines for index in range(len(LINE_EDITS))]
    if not FULL:
        plan = random.Random(20261206).sample(plan, 60)
    return [
        (f"line{where}/edit{index}", line_edited(text, where, LINE_EDITS[index]))
        if isinstance(where, int)
        else (f"{'.'.join(map(str, where))}={index}", mutated(data, where, VALUES[index]))
        for where, index in plan
    ]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bad-input")
    shutil.copytree(EVERYTHING / "consumer", folder / "consumer")
    return folder


def nami(folder: Path, *args: str, text: str | None = None) -> Result:
    if text is not None:
        (folder / "nami.yaml").write_text(text, encoding="utf-8", errors="surrogatepass")
    cwd = Path.cwd()
    os.chdir(folder)  # messages name the file as given: `nami.yaml`
    try:
        return CliRunner().invoke(cli, list(args), catch_exceptions=True)
    finally:
        os.chdir(cwd)


def assert_no_crash(result: Result) -> None:
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError("the command raised") from result.exception
    assert "Traceback" not in result.output
    assert "internal error" not in result.output, result.output


def assert_one_located_message_per_line(result: Result) -> None:
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    unlocated = [line for line in lines if not (LOCATED.match(line) or COUNT.match(line))]
    assert not unlocated, result.output


@pytest.mark.parametrize(("name", "text"), generated(), ids=lambda v: v if len(v) < 60 else "")
def test_generated_bad_input_is_located_or_compiles(project: Path, name: str, text: str) -> None:
    checked = nami(project, "validate", text=text)
    assert_no_crash(checked)
    if checked.exit_code != 0:
        assert_one_located_message_per_line(checked)
        return
    compiled = nami(project, "compile", "--no-cache", "--out", "out")
    assert_no_crash(compiled)
    assert compiled.exit_code == 0, compiled.output  # valid means it compiles


# --- one test per defect found ---------------------------------------------------------------

HEAD = "version: 1\nproject: bad\npipelines:\n"


def problems(project: Path, text: str, *args: str) -> list[str]:
    """The located lines `nami validate` prints for `text` (which must be refused)."""
    result = nami(project, "validate", *args, text=text)
    assert_no_crash(result)
    assert_one_located_message_per_line(result)
    return [line for line in result.output.splitlines() if LOCATED.match(line)]


def test_a_lone_surrogate_escape_is_refused_where_it_is_written(project: Path) -> None:
    # Was: internal error, UnicodeEncodeError (the schema check encodes every string).
    text = HEAD + (
        "  a:\n"
        "    verify: {scheme: none}\n"
        '    consumer: {code: consumer, environment: {AB: "x\\ud800"}}\n'
        '    dedupe: {header: X-A, window: "\\udc00"}\n'
    )
    found = problems(project, text)
    assert [line.split(": ")[0] for line in found] == ["nami.yaml:6:50", "nami.yaml:7:35"]
    assert all("half of a UTF-16 surrogate pair" in line for line in found)


def test_a_surrogate_pair_as_json_writes_it_is_one_character(project: Path) -> None:
    # json.dumps writes 😀 as "\\ud83d\\ude00" (JSON is YAML): was refused as two lone halves.
    text = HEAD + (
        "  a:\n"
        '    description: "shipping \\ud83d\\ude00"\n'
        "    verify: {scheme: none}\n"
        "    consumer: {code: consumer}\n"
    )
    result = nami(project, "validate", text=text)
    assert_no_crash(result)
    assert result.exit_code == 0, result.output


def test_a_forward_host_with_a_final_dot_says_to_drop_it(project: Path) -> None:
    text = (
        HEAD
        + "  a:\n    verify: {scheme: none}\n    forward: {url: 'https://api.example.com./x'}\n"
    )
    (line,) = problems(project, text)
    assert line.endswith("`api.example.com.`: write the host without the final dot")


def test_an_unreadable_key_is_one_problem(project: Path) -> None:
    # Was: also "key `(a collection)` must be a string" at the same place.
    text = (
        HEAD
        + "  a:\n    !!int abc: 1\n    verify: {scheme: none}\n    consumer: {code: consumer}\n"
    )
    assert problems(project, text) == ["nami.yaml:5:5: cannot read this value as `!!int`"]


def test_a_rate_beyond_a_float_is_out_of_range(project: Path) -> None:
    # Was: internal error, OverflowError (int too large to convert to float).
    forward = f"{{url: 'https://x.example', rate: {'9' * 400}}}"
    text = HEAD + f"  a:\n    verify: {{scheme: none}}\n    forward: {forward}\n"
    (line,) = problems(project, text)
    assert line.startswith("nami.yaml:6:") and "must be between 1/h and 10000/s" in line


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://x.example:99999/", "the port must be 1-65535, not 99999"),
        ("http://localhost:0/hooks", "the port must be 1-65535, not 0"),
        ("https://x..example/", "`x..example` is not a host name"),
        ("https://-x.example/", "`-x.example` is not a host name"),
    ],
)
def test_a_forward_url_no_request_can_reach_is_refused(
    project: Path, url: str, message: str
) -> None:
    # Was: valid, compiled and deployed; every delivery then failed into the dead letters.
    text = HEAD + f"  a:\n    verify: {{scheme: none}}\n    forward: {{url: '{url}'}}\n"
    (line,) = problems(project, text)
    assert line.startswith("nami.yaml:6:20: `pipelines.a.forward.url`: ") and message in line


def test_a_broken_reference_in_forward_headers_or_environment_is_refused(project: Path) -> None:
    # Was: a header `ssm:` validated, then `nami compile` failed an assertion (internal
    # error); an environment value `ssm:x` reached Lambda as that literal text.
    text = HEAD + (
        "  a:\n    verify: {scheme: none}\n"
        "    forward: {url: 'https://x.example', headers: {X-A: 'ssm:', X-B: 'ssm:/ok'}}\n"
        "  b:\n    verify: {scheme: none}\n"
        "    consumer: {code: consumer, environment: {AB: 'ssm:x', CD: 'secretsmanager:'}}\n"
    )
    found = problems(project, text)
    assert [line.split(": ")[0] for line in found] == [
        "nami.yaml:6:56",
        "nami.yaml:9:50",
        "nami.yaml:9:63",
    ]
    assert "write `ssm:/` then the path" in found[0]
    assert "a Secrets Manager name holds only" in found[2]


def test_a_broken_reference_under_a_secret_looking_name_is_one_problem(project: Path) -> None:
    # Was: also "`API_TOKEN` looks like a secret but holds a literal value" (it is a
    # reference, written wrong), and for an Authorization header likewise.
    text = HEAD + (
        "  a:\n    verify: {scheme: none}\n"
        "    forward: {url: 'https://x.example', headers: {Authorization: 'ssm:x'}}\n"
        "  b:\n    verify: {scheme: none}\n"
        "    consumer: {code: consumer, environment: {API_TOKEN: 'ssm:hunter2'}}\n"
    )
    found = problems(project, text)
    assert [line.split(": ")[0] for line in found] == ["nami.yaml:6:66", "nami.yaml:9:57"]
    assert all("write `ssm:/` then the path" in line for line in found)
    assert not any("hunter2" in line for line in found)


def test_a_forward_header_value_is_never_quoted(project: Path) -> None:
    # Was: "has the wrong form (got string `Basic dXNlcjpodW50ZXIy\n`)": a folded block keeps
    # its final newline, and the message (also in the PR comment) quoted the credential.
    text = HEAD + (
        "  a:\n    verify: {scheme: none}\n"
        "    forward:\n      url: https://x.example\n      headers:\n"
        "        Authorization: >\n          Basic dXNlcjpodW50ZXIy\n"
        "        X-Api-Key: |\n          k3y-value\n"
    )
    found = problems(project, text)
    assert len(found) >= 2
    assert not any("dXNlcjpodW50ZXIy" in line or "k3y-value" in line for line in found)


def test_a_refused_forward_key_does_not_hide_not_both(project: Path) -> None:
    # Was: a bad forward.concurrency hid "calls a handler or forwards, not both".
    text = HEAD + (
        "  a:\n    verify: {scheme: none}\n"
        "    forward: {url: 'https://x.example', concurrency: 1}\n"
        "    consumer: {code: consumer}\n"
    )
    found = problems(project, text)
    assert len(found) == 2
    assert "must be at least 2" in found[0]
    assert "not both" in found[1]


def test_a_short_secret_value_does_not_garble_the_message(project: Path) -> None:
    # Was: every `e` of the message replaced by "(value not shown)".
    text = HEAD + "  a:\n    verify: {scheme: github, secret: e}\n    consumer: {code: consumer}\n"
    (line,) = problems(project, text)
    assert line == (
        "nami.yaml:5:38: `pipelines.a.verify.secret`: must be a reference to where the secret "
        "is stored (`ssm:/path/to/parameter` or `secretsmanager:secret-name`), never the "
        "secret itself"
    )


def test_a_wrong_sns_topic_is_not_called_an_email_address(project: Path) -> None:
    text = HEAD + (
        "  a:\n    verify: {scheme: sns, topics: [arn:aws:sqs:eu-west-1:123456789012:t]}\n"
        "    consumer: {code: consumer}\n    alarms: {email: [nobody]}\n"
    )
    topic, email = problems(project, text)
    assert topic.startswith("nami.yaml:5:36: `pipelines.a.verify.topics[0]`: is not an SNS topic")
    assert email.startswith("nami.yaml:7:22: `pipelines.a.alarms.email[0]`: is not an email")


def test_a_scheme_written_as_a_list_is_called_a_list(project: Path) -> None:
    text = HEAD + "  a:\n    verify: {scheme: [github]}\n    consumer: {code: consumer}\n"
    (line,) = problems(project, text)
    assert "not a list; did you mean `github`?" in line, line


@pytest.mark.parametrize("routes", ["{}", "[a]"])
def test_refused_routes_do_not_also_ask_for_a_handler(project: Path, routes: str) -> None:
    # Was: also "set consumer.code ... or `forward`", about keys that were never missing.
    text = HEAD + f"  a:\n    verify: {{scheme: none}}\n    routes: {routes}\n"
    (line,) = problems(project, text)
    assert line.startswith("nami.yaml:6:13: `pipelines.a.routes`: must ")


def test_a_refused_pipeline_reports_no_rule_about_a_refused_key(project: Path) -> None:
    # Was: also "set exactly one of `header` or `json`" for the json the schema refused.
    text = HEAD + (
        "  a:\n    verify: {scheme: [github]}\n"
        "    routes: {r: {match: {json: $, equals: x}, forward: {url: 'https://x.example'}}}\n"
    )
    scheme, json_path = problems(project, text)
    assert scheme.startswith("nami.yaml:5:22: `pipelines.a.verify.scheme`")
    assert json_path.startswith("nami.yaml:6:32: `pipelines.a.routes.r.match.json`: must be a JSON")


def test_a_router_environment_too_large_points_at_the_routes(project: Path) -> None:
    # Was: at the pipeline, advising to move values to SSM (the route table cannot move).
    routes = "".join(
        f"      r{i}: {{match: {{header: X-A, in: [v{i}{'x' * 50}, a, b]}}, "
        f"forward: {{url: 'https://x.example/{i}'}}}}\n"
        for i in range(30)
    )
    text = HEAD + f"  a:\n    verify: {{scheme: none}}\n    routes:\n{routes}"
    (line,) = problems(project, text)
    assert line.startswith("nami.yaml:6:5: pipeline `a`: the consumer's environment would be ")
    assert "its 30 routes' names and matches are most of it: split the routes" in line
