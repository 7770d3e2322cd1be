"""`consumer.handler` checked at validate time, without running the user's code.

A handler the code folder does not define used to pass `nami validate`, plan and deploy, and
failed only when the consumer Lambda started (every webhook then retried into the DLQ). The
module file is found as Lambda's import would find it in the bundle (`a/b.py` or
`a/b/__init__.py` for `a.b.handle`) and parsed with `ast`, never imported: a consumer's code
is untrusted input (DESIGN.md, security model). The name counts as defined when a top-level
statement binds it (def, class, assignment, import), also inside top-level if/try/with
blocks. Where a module could define it in ways a parse cannot see (`from x import *`, a module
`__getattr__`, `globals()[...]`), where the module may come from a dependency in
requirements.txt, or where the folder holds no Python file yet, nothing is claimed.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from nami_action.config.code import printable
from nami_action.config.messages import did_you_mean

REQUIREMENTS_FILE = "requirements.txt"  # package/__init__.py installs it into the bundle
DYNAMIC = "dynamic"  # the module may define names a parse cannot list


def handler_problem(code_dir: Path, handler: str) -> str | None:
    """Why `handler` ("module.function") is not defined in `code_dir`, or None."""
    module, _, function = handler.rpartition(".")
    source = module_file(code_dir, module)
    if source is None:
        if (code_dir / REQUIREMENTS_FILE).is_file() or not _has_python(code_dir):
            # From requirements.txt, not knowable here; or a folder with no code yet (a
            # placeholder): only a module name that misses the code that is there is refused.
            return None
        wanted = module.replace(".", "/")
        return (
            f"`{handler}`: no module `{module}` in the code folder "
            f"(looked for {wanted}.py and {wanted}/__init__.py)"
        )
    try:
        tree = ast.parse(source.read_bytes(), filename=str(source))
    except (OSError, ValueError) as exc:
        return f"`{handler}`: {source.name} cannot be read: {exc}"
    except SyntaxError as exc:
        return f"`{handler}`: {source.name} line {exc.lineno}: {printable(exc.msg)}"
    names = defined_names(tree.body)
    if function in names or DYNAMIC in names or "__getattr__" in names:
        return None
    hint = did_you_mean(function, [n for n in names if not n.startswith("_")])
    where = source.relative_to(code_dir).as_posix()
    return f"`{handler}`: {printable(where)} defines no `{function}`{hint}"


def _has_python(code_dir: Path) -> bool:
    return any(path.is_file() for path in code_dir.rglob("*.py"))


def module_file(code_dir: Path, module: str) -> Path | None:
    base = code_dir.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def defined_names(body: list[ast.stmt]) -> set[str]:
    """Names bound at module level (DYNAMIC when more may be)."""
    return set(_bound(body))


def _bound(body: list[ast.stmt]) -> Iterator[str]:
    for statement in body:
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            yield statement.name
        elif isinstance(statement, ast.Import | ast.ImportFrom):
            for alias in statement.names:
                if alias.name == "*":
                    yield DYNAMIC
                else:
                    yield alias.asname or alias.name.split(".")[0]
        elif isinstance(statement, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            for target in targets:
                yield from _targets(target)
        elif isinstance(statement, ast.If | ast.For | ast.While | ast.With | ast.AsyncWith):
            if isinstance(statement, ast.For):
                yield from _targets(statement.target)
            yield from _bound(statement.body)
            yield from _bound(getattr(statement, "orelse", []))
        elif isinstance(statement, ast.Try | ast.TryStar):
            for part in (statement.body, statement.orelse, statement.finalbody):
                yield from _bound(part)
            for handler in statement.handlers:
                yield from _bound(handler.body)
        elif isinstance(statement, ast.Expr) and _writes_globals(statement.value):
            yield DYNAMIC
        elif isinstance(statement, ast.Match):
            for case in statement.cases:
                yield from _bound(case.body)


def _targets(target: ast.expr) -> Iterator[str]:
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, ast.Tuple | ast.List):
        for item in target.elts:
            yield from _targets(item)
    elif isinstance(target, ast.Starred):
        yield from _targets(target.value)
    elif isinstance(target, ast.Subscript) and _is_globals(target.value):
        yield DYNAMIC  # globals()["handle"] = ...


def _writes_globals(value: ast.expr) -> bool:
    """globals().update(...) and the like."""
    return (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Attribute)
        and _is_globals(value.func.value)
    )


def _is_globals(value: ast.expr) -> bool:
    return (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Name)
        and value.func.id in ("globals", "vars")
    )
