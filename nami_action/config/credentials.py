"""Literal values that look like credentials, whatever the variable holding them is called.

Each pattern is a token format its issuer documents with a fixed prefix, so ordinary values
(URLs, ARNs, ids, names) do not match; a match is reported by kind, never by value.
"""

from __future__ import annotations

import re

CREDENTIAL_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("a Stripe secret or restricted key", re.compile(r"\b[sr]k_(live|test)_[0-9A-Za-z]{8,}")),
    ("a Stripe webhook signing secret", re.compile(r"\bwhsec_[0-9A-Za-z+/=]{8,}")),
    ("a GitHub token", re.compile(r"\b(gh[pousr]_[0-9A-Za-z]{20,}|github_pat_[0-9A-Za-z_]{20,})")),
    ("a Slack token", re.compile(r"\bxox[abprs]-[0-9A-Za-z-]{8,}")),
    ("an AWS access key id", re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("a bearer token", re.compile(r"\bBearer\s+[0-9A-Za-z._~+/=-]{8,}", re.IGNORECASE)),
    (
        "a URL with a user name and password",
        re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:[^/\s@]+@"),
    ),
    ("a private key", re.compile(r"-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY-----")),
)


def credential_kind(value: str) -> str | None:
    """What kind of credential `value` holds, or None."""
    for kind, pattern in CREDENTIAL_PATTERNS:
        if pattern.search(value):
            return kind
    return None


SECRET_LOOKING_NAME = re.compile(
    r"(SECRET|TOKEN|PASSWORD|PASSWD|API_?KEY|PRIVATE_?KEY|CREDENTIAL)", re.IGNORECASE
)
# Names that say where something is, not what a secret is: a literal is expected there.
NOT_SECRET_SUFFIXES = ("_URL", "_ARN", "_ID")
STORE_IT = "store it in SSM or Secrets Manager and write `ssm:/path` or `secretsmanager:name`"


def literal_secret_problem(name: str, value: str, is_reference: bool) -> str | None:
    """Why an environment value must be a reference instead; never quotes the value."""
    if not value or is_reference:
        return None
    kind = credential_kind(value)
    if kind:
        return f"`{name}` holds a literal that looks like {kind}: {STORE_IT}"
    if SECRET_LOOKING_NAME.search(name) and not name.upper().endswith(NOT_SECRET_SUFFIXES):
        return f"`{name}` looks like a secret but holds a literal value: {STORE_IT}"
    return None
