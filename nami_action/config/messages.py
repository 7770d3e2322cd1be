"""Pydantic's error records turned into short, located sentences with "did you mean"."""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from nami_action.config.credentials import credential_kind
from nami_action.config.loader import Document, PathKey
from nami_action.errors import Problem

# Bounds that come from AWS, with AWS's word for them (a bare "at least 2" reads like nami's whim).
BOUND_REASONS = {
    # "MaximumConcurrency ... Minimum value of 2. Maximum value of 1000."
    # https://docs.aws.amazon.com/lambda/latest/api/API_ScalingConfig.html
    "max_concurrency": (
        ": Lambda's maximum concurrency for an SQS queue (ScalingConfig.MaximumConcurrency) "
        "is 2 to 1000. For one batch at a time, in order, set `queue.fifo: true` without "
        "`group_by` (one message group)"
    ),
}

PATTERN_HINTS = {
    "path": "must start with `/` and use letters, digits, `.`, `_`, `-` (e.g. /github)",
    "header": "must be an HTTP header name (letters, digits, hyphens)",
    "json_path": "must be a JSON path like `$.id` or `$.data.object.id`",
    "json": "must be a JSON path like `$.type` or `$.data.object.status`",
    "topics": "is not an SNS topic ARN like `arn:aws:sns:eu-west-1:123456789012:name`",
    "handler": "must be `module.function`, e.g. `handler.handle`",
    "region": "is not an AWS region name like `eu-west-1`",
    "bucket": "is not a valid S3 bucket name: 3-63 lowercase letters, digits, `.` or `-`, "
    "starting and ending with a letter or digit",
    "email": "is not an email address",
    "environment": "is not a Lambda environment variable name: a letter, then letters, "
    "digits or `_`, two characters at least",
    "tags": "is not a tag key: letters, digits, spaces and `_ . : / = + @ -`",
}
TYPE_NAMES = {
    "int_type": "an integer",
    "string_type": "a string",
    "bool_type": "true or false",
    "float_type": "a number",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
}


def to_problems(
    doc: Document, errors: Iterable[ErrorDetails], root: type[BaseModel], base: PathKey = ()
) -> list[Problem]:
    """Translate errors of `root` validated at `base` in the document."""
    problems = []
    for error in errors:
        loc = tuple(error["loc"])
        path = data_path(doc.data, base, loc)
        problems.append(_problem(doc, error, path, root, loc))
    return problems


def data_path(data: Any, base: PathKey, loc: tuple[int | str, ...]) -> PathKey:
    """Follow `loc` through the data, dropping steps pydantic adds that are not keys
    (a union's tag, `[key]` for a bad dict key)."""
    node = data
    for base_step in base:
        node = node.get(base_step) if isinstance(node, dict) else None
    path: list[str | int] = list(base)
    for step in loc:
        found, child = _child(node, step)
        if found:
            path.append(step)
            node = child
        elif step == "[key]" or isinstance(node, dict):
            continue
        else:
            path.append(step)
            node = None
    return tuple(path)


def _child(node: Any, step: int | str) -> tuple[bool, Any]:
    if isinstance(node, dict) and step in node:
        return True, node[step]
    if isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
        return True, node[step]
    return False, None


def _problem(
    doc: Document,
    error: ErrorDetails,
    path: PathKey,
    root: type[BaseModel],
    loc: tuple[int | str, ...],
) -> Problem:
    kind = error["type"]
    key = loc[-1] if loc else ""
    if kind == "missing":
        return doc.problem(
            path[:-1] if path and path[-1] == key else path,
            f"missing required key `{key}`",
            at_key=True,
        )
    if kind == "extra_forbidden":
        hint = did_you_mean(str(key), allowed_keys(root, loc[:-1]))
        return doc.problem(path, f"unknown key `{key}`{hint}", at_key=True)
    if "[key]" in loc:
        mapping = loc[-3] if len(loc) >= 3 else key  # the mapping whose key is refused
        return doc.problem(path, f"`{path[-1]}`: {_describe(error, mapping)}", at_key=True)
    if _is_secret(path) or _looks_like_credential(error.get("input")):
        quote = kind == "string_type" and isinstance(error.get("input"), int | float | bool)
        hint = "; put it in quotes if it is text" if quote else ""
        message = f"`{_dotted(path)}`: {_describe(error, key, secret=True)}{hint}"
        return doc.problem(path, message)
    if kind == "union_tag_invalid":
        path = (*path, "scheme")
    return doc.problem(path, f"`{_dotted(path)}`: {_describe(error, key)}")


def _dotted(path: PathKey) -> str:
    return ".".join(str(step) if isinstance(step, str) else f"[{step}]" for step in path).replace(
        ".[", "["
    )


def _hide(message: str, value: str) -> str:
    """`message` with each quote of `value` hidden. Only where it stands alone: a short value
    (`e`, `ssm:`) also occurs inside the message's own words and examples (`ssm:/path`)."""
    alone = re.compile(rf"(?<![\w:/.-]){re.escape(value)}(?![\w:/.-])")
    return alone.sub("(value not shown)", message)


def _looks_like_credential(value: Any) -> bool:
    """A credential pasted where it does not belong (e.g. `verify: sk_live_...`)."""
    return isinstance(value, str) and credential_kind(value) is not None


def _is_secret(path: PathKey) -> bool:
    """Values that may hold a secret: every environment value, every `forward.headers` value
    (an Authorization header is a credential) and `verify.secret`."""
    if "secret" in path or (len(path) >= 2 and path[-2] == "environment"):
        return True
    return len(path) >= 3 and tuple(path[-3:-1]) == ("forward", "headers")


def _describe(error: ErrorDetails, key: int | str, *, secret: bool = False) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    given = error.get("input")
    if secret:  # name the kind of value only: the value itself may be a credential
        given = _Hidden(given)
    if kind == "value_error":
        message = str(error["msg"]).removeprefix("Value error, ")
        if secret and isinstance(error.get("input"), str) and error["input"]:
            message = _hide(message, error["input"])
        return message
    if kind in TYPE_NAMES:
        return f"must be {TYPE_NAMES[kind]}, not {_show(given)}"
    if kind == "union_tag_invalid":
        # The tag is the value as text: a list `[github]` would read as the string "['github']".
        written = error.get("input")
        scheme = written.get("scheme") if isinstance(written, dict) else None
        given = ctx.get("tag") if scheme is None or isinstance(scheme, str) else scheme
    if kind in ("literal_error", "union_tag_invalid"):
        expected = ctx.get("expected") or ctx.get("expected_tags") or ""
        options = [e.strip(" '") for e in str(expected).replace(" or ", ",").split(",")]
        hint = did_you_mean(str(given), [o for o in options if o])
        return f"must be one of {', '.join(o for o in options if o)}, not {_show(given)}{hint}"
    if kind == "union_tag_not_found":
        return f"needs `{ctx.get('discriminator', 'scheme').strip(chr(39))}`"
    if kind == "string_pattern_mismatch":
        loc = error["loc"]
        # An item of a list (`alarms.email[0]`, `verify.topics[1]`): the hint is the list's.
        name = loc[-2] if isinstance(key, int) and len(loc) >= 2 else key
        hint = PATTERN_HINTS.get(str(name), "has the wrong form")
        return f"{hint} (got {_show(given)})"
    bounds = {
        "greater_than_equal": ("at least", "ge"),
        "greater_than": ("more than", "gt"),
        "less_than_equal": ("at most", "le"),
        "less_than": ("less than", "lt"),
    }
    if kind in bounds:
        words, name = bounds[kind]
        reason = BOUND_REASONS.get(str(key), "")
        return f"must be {words} {ctx.get(name)} (got {_show(given)}){reason}"
    if kind == "too_short":
        return f"must not be empty (at least {ctx.get('min_length')} item)"
    if kind in ("too_long", "string_too_long"):
        return f"is too long (at most {ctx.get('max_length')})"
    if kind == "string_too_short":
        return "must not be empty"
    return str(error["msg"])


class _Hidden:
    """A value not to be quoted in messages; shown by its kind."""

    def __init__(self, value: Any) -> None:
        self.kind = _kind(value)

    def __str__(self) -> str:
        return self.kind


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    kinds = {int: "an integer", float: "a number", str: "a string", dict: "a mapping"}
    return next((text for t, text in kinds.items() if isinstance(value, t)), "a list")


def _show(value: Any) -> str:
    if isinstance(value, _Hidden):
        return f"{value.kind} (not shown: it may be a secret)"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"string `{value}`" if len(value) < 60 else "a long string"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"`{value}`"


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The one choice close enough to `word` to suggest (difflib's ratio of 0.6), if any."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return close[0] if close else None


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    options = sorted(set(choices))
    close = closest(word, options)
    if close:
        return f"; did you mean `{close}`?"
    if options and len(options) <= 12:
        return f" (expected one of: {', '.join(options)})"
    return ""


def allowed_keys(root: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The keys the model accepts at `loc`, following nested models, dicts and unions."""
    candidates: list[Any] = [root]
    for step in loc:
        following: list[Any] = []
        for model_or_type in candidates:
            for kind in _expand(model_or_type):
                following.extend(_step_into(kind, step))
        candidates = following
    keys: set[str] = set()
    for candidate in candidates:
        for kind in _expand(candidate):
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                keys.update(kind.model_fields)
    return sorted(keys)


def _step_into(kind: Any, step: int | str) -> list[Any]:
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        field = kind.model_fields.get(str(step))
        if field is not None:
            return [field.annotation]
        scheme = kind.model_fields.get("scheme")
        if scheme is not None and step in typing.get_args(scheme.annotation):
            return [kind]  # the tag step pydantic adds for a discriminated union
        return []
    if typing.get_origin(kind) is dict:
        return [typing.get_args(kind)[1]]
    if typing.get_origin(kind) is list and isinstance(step, int):
        return [typing.get_args(kind)[0]]
    return []


def _expand(kind: Any) -> list[Any]:
    origin = typing.get_origin(kind)
    if origin is typing.Annotated:
        return _expand(typing.get_args(kind)[0])
    if origin in (typing.Union, types.UnionType):
        return [inner for arg in typing.get_args(kind) for inner in _expand(arg)]
    return [kind]
