"""Resolve `ssm:/path` and `secretsmanager:name` references, once per container."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

SSM_PREFIX = "ssm:"
SECRETS_MANAGER_PREFIX = "secretsmanager:"

# Module-level so a warm container never pays for (or gets throttled on) a second lookup.
_CACHE: dict[str, str] = {}

ClientFactory = Callable[[str], Any]


class SecretError(RuntimeError):
    """A reference could not be resolved. The message names the reference, never a value."""


def resolve(reference: str, client: ClientFactory | None = None) -> str:
    """Return the secret value for one reference, from the cache when already fetched."""
    if reference not in _CACHE:
        _CACHE[reference] = _fetch(reference, client or _boto3_client)
    return _CACHE[reference]


def refresh(reference: str, client: ClientFactory | None = None) -> str:
    """Read one reference again, bypassing the cache (a signature mismatch may be a rotation)."""
    _CACHE[reference] = _fetch(reference, client or _boto3_client)
    return _CACHE[reference]


def clear_cache() -> None:
    """Forget every value (tests; a container never needs it)."""
    _CACHE.clear()


def _fetch(reference: str, client: ClientFactory) -> str:
    if reference.startswith(SSM_PREFIX):
        name = reference[len(SSM_PREFIX) :]
        try:
            response = client("ssm").get_parameter(Name=name, WithDecryption=True)
            return str(response["Parameter"]["Value"])
        except Exception as exc:
            raise SecretError(f"cannot read SSM parameter {name}: {_why(exc)}") from None
    if reference.startswith(SECRETS_MANAGER_PREFIX):
        name = reference[len(SECRETS_MANAGER_PREFIX) :]
        try:
            response = client("secretsmanager").get_secret_value(SecretId=name)
        except Exception as exc:
            raise SecretError(f"cannot read secret {name}: {_why(exc)}") from None
        if "SecretString" not in response:
            raise SecretError(f"secret {name} has no SecretString (binary secrets unsupported)")
        return str(response["SecretString"])
    raise SecretError(
        f"unknown secret reference {reference!r}: use ssm:/path or secretsmanager:name"
    )


def _why(exc: Exception) -> str:
    # botocore's ClientError carries a code; anything else is named by type only,
    # so a message can never echo a value back into the logs.
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", type(exc).__name__))
    return type(exc).__name__


def _boto3_client(service: str) -> Any:
    import boto3  # lazy: the Lambda runtime provides it, and sqs mode may never need it

    return boto3.client(service)  # type: ignore[call-overload]
