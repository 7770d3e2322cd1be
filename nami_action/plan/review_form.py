"""The templates as a reviewer reads them in a diff: JSON, except that long strings (the VTL
mapping templates, a dashboard body, the runtime's settings) are shown one line per line of
their text (or per comma, for one-line JSON) instead of as one 2 KB line, and a long string
repeated in the template (the same VTL for every content type) is written out once. A change
then shows as the lines it touched, not as a new copy of every string that holds it."""

from __future__ import annotations

import json
import re
from typing import Any

LONG = 100  # strings longer than this are split
_SPLIT_ONE_LINE = re.compile(r"(?<=,)")  # after each comma: one JSON member per line
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _escape(match: re.Match[str]) -> str:
    return json.dumps(match.group())[1:-1]


class Folded(str):
    """Written as it is, unquoted: a stand-in for a part the diff leaves out."""


def review_texts(
    deployed: dict[str, Any] | None, compiled: dict[str, Any] | None
) -> tuple[str, str]:
    """Both templates in review form. The Metadata is left out (the plan lists the settings
    and code it records above the diff), and so is the body of a resource the change removes
    (the change table lists it; what goes away needs no review line by line)."""
    if deployed is None:
        return "", review_text(_without_metadata(compiled))
    kept = (compiled or {}).get("Resources") or {}
    resources = {
        logical_id: resource
        if logical_id in kept or not isinstance(resource, dict)
        else Folded(f"({resource.get('Type', 'resource')} removed)")
        for logical_id, resource in (deployed.get("Resources") or {}).items()
    }
    before = {**(_without_metadata(deployed) or {}), "Resources": resources}
    return review_text(before), review_text(_without_metadata(compiled))


def _without_metadata(template: dict[str, Any] | None) -> dict[str, Any] | None:
    if template is None or "Metadata" not in template:
        return template
    return {**template, "Metadata": Folded("(the settings and code listed above)")}


def review_text(template: dict[str, Any] | None) -> str:
    if template is None:
        return ""
    lines: list[str] = []
    _Writer(lines).value(template, 0, "", "")
    return "\n".join(lines) + "\n"


class _Writer:
    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.seen: dict[str, str] = {}  # long string -> where it was first written out

    def value(self, value: Any, depth: int, lead: str, path: str, tail: str = "") -> None:
        pad = "  " * depth
        if isinstance(value, dict) and value:
            self.lines.append(f"{pad}{lead}{{")
            items = sorted(value.items())
            for index, (key, item) in enumerate(items):
                comma = "," if index < len(items) - 1 else ""
                self.value(item, depth + 1, f"{_quoted(str(key))}: ", f"{path}.{key}", comma)
            self.lines.append(f"{pad}}}{tail}")
        elif isinstance(value, list) and value:
            self.lines.append(f"{pad}{lead}[")
            for index, item in enumerate(value):
                comma = "," if index < len(value) - 1 else ""
                self.value(item, depth + 1, "", f"{path}[{index}]", comma)
            self.lines.append(f"{pad}]{tail}")
        elif isinstance(value, Folded):
            self.lines.append(f"{pad}{lead}{value}{tail}")
        elif isinstance(value, str) and len(value) > LONG:
            self.long_string(value, pad, lead, path, tail)
        else:
            self.lines.append(f"{pad}{lead}{json.dumps(value, ensure_ascii=False)}{tail}")

    def long_string(self, text: str, pad: str, lead: str, path: str, tail: str) -> None:
        first = self.seen.get(text)
        if first is not None:
            self.lines.append(f"{pad}{lead}(same text as {first}){tail}")
            return
        self.seen[text] = _quoted(path.rsplit(".", 1)[-1]) + " above"
        parts = text.split("\n") if "\n" in text else _SPLIT_ONE_LINE.split(text)
        self.lines.append(f'{pad}{lead}(text, {len(parts)} lines) """')
        self.lines.extend(f"{pad}  {_CONTROL.sub(_escape, part)}" for part in parts)
        self.lines.append(f'{pad}"""{tail}')


def _quoted(key: str) -> str:
    return json.dumps(key, ensure_ascii=False)
