"""`nami send`: POST one webhook to a pipeline's endpoint, signed like its provider would."""

from __future__ import annotations

import http.client
import json
import os
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from nami_action.config import PipelineConfig
from nami_action.dev.consumers import secret_env_name
from nami_action.errors import NamiError
from nami_action.operate.signing import SigningError, sign
from nami_action.runtime.verify import VerifySettings

SECRET_ENV = "NAMI_SEND_SECRET"
TIMEOUT = 30.0
RESPONSE_LIMIT = 64 * 1024


@dataclass(frozen=True)
class Response:
    status: int
    reason: str
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def read_body(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise NamiError(f"cannot read --body file {path}: {exc.strerror or exc}") from exc


def parse_headers(values: tuple[str, ...]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for value in values:
        name, found, text = value.partition(":")
        if not found or not name.strip():
            raise NamiError(f"--header expects NAME:VALUE, got {value!r}")
        headers[name.strip()] = text.strip()
    return headers


def default_content_type(body: bytes) -> str:
    try:
        json.loads(body)
    except ValueError:
        return "application/octet-stream"
    return "application/json"


def verify_settings(pipeline: PipelineConfig, secret: str) -> VerifySettings:
    """The runtime's settings for this pipeline's `verify` block, with the secret resolved."""
    spec = pipeline.spec.verify
    return VerifySettings(
        scheme=spec.scheme,
        secret=secret,
        header=getattr(spec, "header", None),
        encoding=getattr(spec, "encoding", "hex"),
        prefix=getattr(spec, "prefix", ""),
        tolerance=getattr(spec, "tolerance", 300),
    )


def choose_secret(
    pipeline: PipelineConfig,
    given: str | None,
    resolve: Callable[[str], str],
    env: Mapping[str, str] | None = None,
    *,
    local: bool = False,
) -> str:
    """--secret, else NAMI_SEND_SECRET, else (sending to --url, e.g. `nami dev`) the
    NAMI_DEV_SECRET_<PIPELINE> that `nami dev` verifies with, else the pipeline's reference
    read from AWS."""
    env = os.environ if env is None else env
    if given:
        return given
    from_env = env.get(SECRET_ENV) or (env.get(secret_env_name(pipeline.name)) if local else None)
    if from_env:
        return from_env
    reference = getattr(pipeline.spec.verify, "secret", None)
    if isinstance(reference, list):  # current first, then previous: sign with the current one
        reference = reference[0]
    if not reference:
        raise NamiError(f"pipeline `{pipeline.name}` has no signing secret reference")
    return resolve(str(reference))


def target_url(url: str, pipeline: PipelineConfig) -> str:
    """A URL without a path (the base URL `nami dev` prints) gets the pipeline's path, so one
    base URL serves every pipeline; a URL with a path is used as given."""
    parts = urllib.parse.urlsplit(url)
    if parts.path not in ("", "/"):
        return url
    return urllib.parse.urlunsplit(parts._replace(path=pipeline.path))


def check_signable(pipeline: PipelineConfig) -> None:
    if pipeline.spec.verify.scheme == "none":
        raise NamiError(
            f"pipeline `{pipeline.name}` does not verify signatures (scheme none): "
            "send without --sign"
        )


def signed_headers(
    pipeline: PipelineConfig, secret: str, body: bytes, now: float | None = None
) -> dict[str, str]:
    check_signable(pipeline)
    try:
        return sign(verify_settings(pipeline, secret), body, time.time() if now is None else now)
    except SigningError as exc:
        raise NamiError(f"cannot sign for `{pipeline.name}`: {exc}") from exc


def post(url: str, body: bytes, headers: dict[str, str], timeout: float = TIMEOUT) -> Response:
    """One POST; header names are sent exactly as given (urllib would re-case them)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise NamiError(f"not an http(s) URL: {url}")
    connection_type = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    connection = connection_type(parts.hostname, parts.port, timeout=timeout)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", target, body=body, headers=headers)
        answer = connection.getresponse()
        return Response(answer.status, answer.reason, answer.read(RESPONSE_LIMIT))
    except (OSError, http.client.HTTPException) as exc:
        raise NamiError(f"cannot reach {url}: {exc}") from exc
    finally:
        connection.close()
