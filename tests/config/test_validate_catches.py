"""What used to fail only after deploy is caught by validate, at the line that wrote it: a
handler the code folder does not define (found by parsing, never importing, the code), two
pipelines on one path, `throttle` on a function-URL pipeline."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from nami_action.config.handler import DYNAMIC, defined_names, handler_problem

from .test_consumer_code import HEAD, validate


def project(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / "consumer" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return tmp_path


def test_a_handler_the_code_does_not_define_is_located(tmp_path: Path) -> None:
    ran = tmp_path / "ran"
    project(tmp_path, {"handler.py": f"open({str(ran)!r}, 'w')\n\ndef handel(webhook): ...\n"})
    text = HEAD + (
        "  hooks:\n    verify: {scheme: none}\n"
        "    consumer:\n      code: consumer\n      handler: handler.handle\n"
    )
    status, lines = validate(tmp_path, text)
    assert status == 1
    assert (
        "8:16: pipeline `hooks`: consumer.handler `handler.handle`: handler.py defines no "
        "`handle`; did you mean `handel`?"
    ) in lines
    assert not ran.exists()  # parsed, not run


def test_the_default_handler_is_checked_at_the_consumer(tmp_path: Path) -> None:
    project(tmp_path, {"handlers.py": "def handle(webhook): ..."})  # not handler.py
    status, lines = validate(
        tmp_path, HEAD + "  hooks:\n    verify: {scheme: none}\n    consumer: {code: consumer}\n"
    )
    assert status == 1
    assert any(
        "pipeline `hooks`: consumer.handler `handler.handle`: no module `handler` in the code "
        "folder (looked for handler.py and handler/__init__.py)" in line
        for line in lines
    ), lines


def test_a_handler_in_defaults_is_reported_there(tmp_path: Path) -> None:
    project(tmp_path, {"handler.py": "def handle(webhook): ...\n"})
    text = (
        "version: 1\nproject: acme\ndefaults:\n  consumer: {handler: handler.process}\n"
        "pipelines:\n  hooks:\n    verify: {scheme: none}\n    consumer: {code: consumer}\n"
    )
    status, lines = validate(tmp_path, text)
    assert status == 1
    assert any(line.startswith("4:") and "defines no `process`" in line for line in lines), lines


@pytest.mark.parametrize(
    ("files", "handler"),
    [
        ({"handler.py": "def handle(webhook): ..."}, "handler.handle"),
        ({"handler.py": "async def handle(webhook): ..."}, "handler.handle"),
        ({"app/__init__.py": "", "app/hooks.py": "class handle: ..."}, "app.hooks.handle"),
        ({"app/__init__.py": "from .impl import run as handle"}, "app.handle"),
        ({"handler.py": "import json\nhandle = json.loads"}, "handler.handle"),
        (
            {
                "handler.py": "try:\n    from fast import handle\n"
                "except ImportError:\n    handle = 1"
            },
            "handler.handle",
        ),
        ({"handler.py": "if True:\n    def handle(w): ..."}, "handler.handle"),
        ({"handler.py": "from impl import *"}, "handler.handle"),
        ({"handler.py": "def __getattr__(name): ..."}, "handler.handle"),
        ({"handler.py": "globals()['handle'] = print"}, "handler.handle"),
        ({"requirements.txt": "acme-hooks==1.0\n", "x.py": ""}, "acme_hooks.handle"),
        ({"README.md": "to do"}, "handler.handle"),
    ],
    ids=[
        "def",
        "async def",
        "class in a package",
        "import as",
        "assignment",
        "try/except",
        "if block",
        "star import",
        "module getattr",
        "globals",
        "from a dependency",
        "no code yet",
    ],
)
def test_ways_a_module_defines_its_handler_are_accepted(
    tmp_path: Path, files: dict[str, str], handler: str
) -> None:
    assert handler_problem(project(tmp_path, files) / "consumer", handler) is None


@pytest.mark.parametrize(
    ("files", "handler", "message"),
    [
        ({"handler.py": "def main(w): ..."}, "handler.handle", "handler.py defines no `handle`"),
        ({"handler.py": "def f(:"}, "handler.handle", "handler.py line 1:"),
        ({"app/__init__.py": ""}, "app.hooks.handle", "no module `app.hooks`"),
        ({"handler.py": "def outer():\n    def handle(w): ..."}, "handler.handle", "no `handle`"),
    ],
    ids=["other name", "syntax error", "missing submodule", "nested def"],
)
def test_handlers_that_would_fail_at_cold_start_are_refused(
    tmp_path: Path, files: dict[str, str], handler: str, message: str
) -> None:
    problem = handler_problem(project(tmp_path, files) / "consumer", handler)
    assert problem is not None and message in problem


def test_defined_names_sees_unpacking_and_nothing_inside_functions() -> None:
    tree = ast.parse("a, (b, *c) = x\nfor d in y: pass\ndef f():\n    e = 1\n")
    assert defined_names(tree.body) == {"a", "b", "c", "d", "f"}
    assert DYNAMIC in defined_names(ast.parse("vars().update(x)").body)


def two(path_a: str, path_b: str) -> str:
    return HEAD + "".join(
        f"  {name}:\n    verify: {{scheme: none}}\n    consumer: {{code: consumer}}\n{path}"
        for name, path in (("a", path_a), ("b", path_b))
    )


def test_two_pipelines_on_one_path_are_refused(tmp_path: Path) -> None:
    project(tmp_path, {"handler.py": "def handle(w): ..."})
    status, lines = validate(tmp_path, two("    path: /hooks\n", "    path: /hooks\n"))
    assert status == 1
    assert (
        "11:5: pipeline `b`: path /hooks is already the path of pipeline `a`; give each "
        "pipeline its own `path`"
    ) in lines
    # The default path of one (/b) against the written path of the other.
    status, lines = validate(tmp_path, two("    path: /b\n", ""))
    assert status == 1 and any("path /b is already the path of pipeline `a`" in x for x in lines)
    assert validate(tmp_path, two("    path: /x\n", ""))[0] == 0


def function_url(throttle_at: str) -> str:
    defaults = "defaults:\n  throttle: {rate: 50}\n" if throttle_at == "defaults" else ""
    own = "    throttle: {burst: 10}\n" if throttle_at == "pipeline" else ""
    return (
        f"version: 1\nproject: acme\n{defaults}pipelines:\n  hooks:\n"
        f"    verify: {{scheme: none}}\n    ingress: function-url\n"
        f"    consumer: {{code: consumer}}\n{own}"
    )


@pytest.mark.parametrize(("where", "at"), [("pipeline", "8:15"), ("defaults", "4:13")])
def test_throttle_on_a_function_url_pipeline_is_refused_not_ignored(
    tmp_path: Path, where: str, at: str
) -> None:
    project(tmp_path, {"handler.py": "def handle(w): ..."})
    status, lines = validate(tmp_path, function_url(where))
    assert status == 1
    assert any(
        line.startswith(f"{at}: pipeline `hooks`: `ingress: function-url` has no request-rate")
        for line in lines
    ), lines
    assert validate(tmp_path, function_url("nowhere"))[0] == 0


@pytest.mark.parametrize("fifo", [False, True])
def test_a_pipeline_named_after_anothers_dead_letter_queue_is_refused(
    tmp_path: Path, fifo: bool
) -> None:
    """`a`'s dead-letter queue is `acme-a-dlq`, and so is pipeline `a-dlq`'s queue (with
    `.fifo` when both are FIFO): one SQS name, two queues the compiler would make."""
    project(tmp_path, {"handler.py": "def handle(w): ..."})
    queue = "    queue: {fifo: true}\n" if fifo else ""
    text = HEAD + "".join(
        f"  {name}:\n    verify: {{scheme: none}}\n    consumer: {{code: consumer}}\n{queue}"
        for name in ("a", "a-dlq")
    )
    status, lines = validate(tmp_path, text)
    suffix = ".fifo" if fifo else ""
    line = 8 if fifo else 7
    assert status == 1
    assert lines == [
        f"{line}:3: the queue of pipeline `a-dlq` would be named `acme-a-dlq{suffix}`, as the "
        "dead-letter queue of pipeline `a` is: a queue name is one queue in an account and "
        "region; rename one of them",
        "1 problem found",
    ]
    if fifo:  # a standard queue and a FIFO one are two names (`.fifo`): no collision
        assert validate(tmp_path, text.replace(queue, "", 1))[0] == 0
