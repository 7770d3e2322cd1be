"""Checks on values as written, made once per place rather than once per pipeline that
inherits them from `defaults`; they run whatever else is broken in the file."""

from __future__ import annotations

from typing import Any

from nami_action.config.credentials import literal_secret_problem
from nami_action.config.loader import Document, PathKey
from nami_action.config.models import is_secret_reference
from nami_action.errors import Problem

RESERVED_TAG_PREFIX = "nami:"


def written_problems(doc: Document) -> list[Problem]:
    """Checks on values as written, once per place (not once per pipeline inheriting them)."""
    problems: list[Problem] = []
    sections: list[PathKey] = [("defaults",)]
    pipelines = doc.data.get("pipelines")
    if isinstance(pipelines, dict):
        sections.extend(("pipelines", name) for name in pipelines)
    tag_sections: list[PathKey] = [(), *sections[1:]]
    environments = doc.data.get("environments")
    for env in environments if isinstance(environments, dict) else ():
        overrides = ("environments", env, "overrides")
        overridden = _at(doc.data, (*overrides, "pipelines"))
        named = [(*overrides, "pipelines", name) for name in _keys(overridden)]
        sections.extend([(*overrides, "defaults"), *named])
        tag_sections.extend([("environments", env), *named])
    for section in sections:
        problems.extend(_duplicate_targets(doc, section))
        problems.extend(_literal_secrets(doc, section))
        problems.extend(_forward_literals(doc, section))
    for tags_path in ((*s, "tags") for s in tag_sections):
        problems.extend(_reserved_tag_keys(doc, tags_path))
    return problems


def _keys(mapping: Any) -> list[Any]:
    return list(mapping) if isinstance(mapping, dict) else []


def _at(data: Any, path: PathKey) -> Any:
    for step in path:
        if isinstance(data, dict) and step in data:
            data = data[step]
        else:
            return None
    return data


def _duplicate_targets(doc: Document, section: PathKey) -> list[Problem]:
    """Each alarm target once: a repeated e-mail (mail domains and, in practice, mailboxes
    ignore case) or HTTPS endpoint would be subscribed twice, and two subscriptions of one
    URL are one resource name twice in the template."""
    problems = []
    for key, what, same in (("email", "e-mail", _email_key), ("https", "HTTPS endpoint", _url_key)):
        path = (*section, "alarms", key)
        targets = _at(doc.data, path)
        first_seen: dict[str, int] = {}
        for index, target in enumerate(targets if isinstance(targets, list) else []):
            if not isinstance(target, str):
                continue
            if same(target) in first_seen:
                problems.append(
                    doc.problem(
                        (*path, index),
                        f"duplicate alarm {what} (also item {first_seen[same(target)] + 1} of "
                        "this list): each address is subscribed once",
                    )
                )
            else:
                first_seen[same(target)] = index
    return problems


def _email_key(email: str) -> str:
    return email.strip().lower()


def _url_key(url: str) -> str:
    """The scheme and host ignore case, and :443 is https's port: the same endpoint."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url  # a `secretsmanager:` reference: the same name is the same secret
    host, slash, path = rest.partition("/")
    host = host.lower().removesuffix(":443")
    return f"{scheme.lower()}://{host}{slash}{path}"


def _reserved_tag_keys(doc: Document, path: PathKey) -> list[Problem]:
    tags = _at(doc.data, path)
    if not isinstance(tags, dict):
        return []
    return [
        doc.problem(
            (*path, key),
            f"tag key `{key}`: keys starting with `{RESERVED_TAG_PREFIX}` are set by nami",
            at_key=True,
        )
        for key in tags
        if isinstance(key, str) and key.lower().startswith(RESERVED_TAG_PREFIX)
    ]


def _written_as_reference(value: str) -> bool:
    """Meant as a reference: a malformed one (`ssm:name`) is the model's error to report, once;
    calling it a literal secret as well would be a second, wrong message."""
    return is_secret_reference(value) or value.startswith(("ssm:", "secretsmanager:"))


def _literal_secrets(doc: Document, section: PathKey) -> list[Problem]:
    path = (*section, "consumer", "environment")
    environment = _at(doc.data, path)
    if not isinstance(environment, dict):
        return []
    problems = []
    for name, value in environment.items():
        if isinstance(name, str) and isinstance(value, str):
            problem = literal_secret_problem(name, value, _written_as_reference(value))
            if problem:
                problems.append(doc.problem((*path, name), problem))
    return problems


def _forward_literals(doc: Document, section: PathKey) -> list[Problem]:
    """A credential written as a `forward.headers` value would end up in the template and the
    logs: it must be a reference. (`forward.url` cannot hold a user name and password.)"""
    headers = _at(doc.data, (*section, "forward", "headers"))
    problems = []
    for name, value in headers.items() if isinstance(headers, dict) else ():
        if not isinstance(name, str) or not isinstance(value, str):
            continue
        # Authorization carries credentials by definition, whatever its value looks like.
        problem = literal_secret_problem(
            "AUTHORIZATION_TOKEN" if name.lower() == "authorization" else name,
            value,
            _written_as_reference(value),
        )
        if problem:
            problem = problem.replace("`AUTHORIZATION_TOKEN`", f"`{name}`")
            problems.append(doc.problem((*section, "forward", "headers", name), problem))
    return problems
