"""Which routes of a `routes:` pipeline a webhook goes to. Stdlib only: the router function in
Lambda and `nami dev` both match with this one module.

A test reads one value, from a header (case-insensitive) or a JSON path into the body, and
checks it: `equals`, `prefix`, `in` (one of) or `exists`. A JSON number or boolean is compared
as `json.dumps` writes the parsed value (`true`, `42`; `1e3` parses to a float: `1000.0`), so
`equals: "true"` matches `"livemode": true`; an object or an array only ever satisfies
`exists: true`. A JSON null is absent, as is any path into a body that is not JSON (or too
deeply nested to parse): both satisfy `exists: false` only. A webhook may match several routes
(it goes to each); the `default` route takes what no other route matched.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .dedupe import PathStep, lookup, parse_json_path
from .webhook import Webhook

DEFAULT = "default"
TESTS = ("equals", "prefix", "in", "exists")
_ABSENT = object()


class RouteConfigError(ValueError):
    """A route's test in NAMI_CONFIG is not one nami writes: a deploy bug."""


@dataclass(frozen=True)
class RouteTest:
    """One route's match, as NAMI_CONFIG (and `nami dev`) carries it."""

    name: str
    default: bool = False
    header: str | None = None
    json_path: str | None = None
    test: str = "exists"  # one of TESTS
    value: Any = True  # the text (equals, prefix), the texts (in), or the bool (exists)

    def to_json(self) -> dict[str, Any]:
        if self.default:
            return {"name": self.name, "match": DEFAULT}
        source = {"header": self.header} if self.header else {"json": self.json_path}
        value = list(self.value) if self.test == "in" else self.value
        return {"name": self.name, "match": {**source, self.test: value}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RouteTest:
        name, match = data.get("name"), data.get("match")
        if not isinstance(name, str) or not name:
            raise RouteConfigError("a route needs a name")
        if match == DEFAULT:
            return cls(name, default=True)
        if not isinstance(match, Mapping):
            raise RouteConfigError(f"route {name!r}: match must be `default` or an object")
        tests = [t for t in TESTS if match.get(t) is not None]
        header, path = match.get("header"), match.get("json")
        if len(tests) != 1 or (header is None) == (path is None):
            raise RouteConfigError(f"route {name!r}: one of header/json and one test")
        test = tests[0]
        value = match[test]
        if test == "in":
            value = tuple(str(v) for v in value)
        if path is not None:
            parse_json_path(path)  # raises JsonPathError (a ValueError)
        return cls(name, header=header, json_path=path, test=test, value=value)

    @property
    def steps(self) -> list[PathStep]:
        return parse_json_path(self.json_path) if self.json_path else []


def matched_routes(routes: Sequence[RouteTest], webhook: Webhook) -> list[str]:
    """The names of the routes `webhook` goes to, in the order written (may be empty)."""
    body: Any = _ABSENT
    chosen = []
    for route in routes:
        if route.default:
            continue
        if route.json_path is not None and body is _ABSENT:
            body = _json(webhook)  # parsed once, and only when a route reads it
        value = (
            webhook.headers.get(route.header, _ABSENT)
            if route.header
            else _found(body, route.steps)
        )
        if _passes(route, value):
            chosen.append(route.name)
    if not chosen:
        chosen = [route.name for route in routes if route.default]
    return chosen


def _json(webhook: Webhook) -> Any:
    try:
        return webhook.json()
    except Exception:
        # Not JSON (a form, text), or JSON too deeply nested to parse (RecursionError): no
        # path of it exists. Never an error: that would fail the router's whole batch.
        return None


def _found(body: Any, steps: list[PathStep]) -> Any:
    if body is None:
        return _ABSENT
    found = lookup(body, steps)
    # lookup answers None for an absent step; a JSON null is treated as absent too.
    return _ABSENT if found is None else found


def _passes(route: RouteTest, value: Any) -> bool:
    if route.test == "exists":
        return (value is not _ABSENT) == bool(route.value)
    text = _text(value)
    if text is None:
        return False
    if route.test == "equals":
        return bool(text == route.value)
    if route.test == "prefix":
        return text.startswith(route.value)
    return text in route.value


def _text(value: Any) -> str | None:
    """A header's value, a JSON string, or a number/boolean's JSON text; None otherwise."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    return None
