"""`forward:` in `nami dev`: deliver to a local app at the pipeline's rate, signed.

Receive real webhooks on the laptop and feed `http://localhost:3000/...` at a bounded rate,
the job of the Stripe CLI's `listen --forward-to`, smee or the Hookdeck CLI. The delivery is
the Lambda's own (runtime/forward.py); each `nami dev` worker is one of the `concurrency`
slots, so the rate bound holds the same way.
"""

from __future__ import annotations

import base64
import os
import secrets
import urllib.parse
from collections.abc import Mapping
from pathlib import Path

from nami_action.compile.forward import forward_config
from nami_action.config import PipelineConfig
from nami_action.config.models import is_secret_reference
from nami_action.dev.consumers import DevError
from nami_action.runtime.forward import SECRET_PREFIX, Forwarder

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
SECRET_ENV_PREFIX = "NAMI_DEV_FORWARD_SECRET_"
SECRETS_DIR = "forward-secrets"


def is_local(url: str) -> bool:
    return local_url_problem(url) is None


def local_url_problem(url: str) -> str | None:
    """Why `nami dev` cannot deliver to `url`, or None: an http(s) URL on this machine."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port  # raises for a port that is not a number in 0-65535
    except ValueError as exc:  # `http://[::1` too
        return f"is not a URL: {exc}"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "is not an http(s)://host/... URL"
    if parts.hostname.lower() not in LOCAL_HOSTS:
        return f"is not on this machine (nami dev forwards to {', '.join(sorted(LOCAL_HOSTS))})"
    if port == 0:
        return "has port 0, which no server listens on"
    return None


def destination(pipeline: PipelineConfig, given: Mapping[str, str]) -> str:
    """--forward-to PIPELINE=URL, else forward.url when it is on this machine. Local test
    traffic never goes to a remote destination by accident."""
    forward = pipeline.spec.forward
    assert forward is not None
    url = given.get(pipeline.name) or forward.url
    if is_secret_reference(url) or not is_local(url):
        raise DevError(
            f"pipeline `{pipeline.name}` forwards to {forward.url if not given else url}; nami "
            f"dev forwards only to this machine: pass --forward-to "
            f"{pipeline.name}=http://localhost:3000/..."
        )
    return url


def signing_secret(
    pipeline: str, data_dir: Path, env: Mapping[str, str]
) -> tuple[str, Path | None]:
    """The dev signing secret: NAMI_DEV_FORWARD_SECRET_<PIPELINE>, else one made once and kept
    in the data folder (mode 0600), so the local app's verifier keeps working across runs."""
    name = SECRET_ENV_PREFIX + pipeline.upper().replace("-", "_")
    if env.get(name):
        return env[name], None
    path = data_dir / SECRETS_DIR / pipeline
    if not path.is_file():
        path.parent.mkdir(mode=0o700, exist_ok=True)
        made = SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(made + "\n")
    return path.read_text(encoding="utf-8").strip(), path


def build_forwarder(
    pipeline: PipelineConfig, url: str, secret: str, warnings: list[str]
) -> Forwarder:
    config = forward_config(pipeline)
    headers: dict[str, str] = {}
    for name, value in config.headers.items():
        if is_secret_reference(value):
            warnings.append(
                f"warning: pipeline `{pipeline.name}`: forward header {name} is {value}, which "
                "nami dev cannot resolve; it is not sent"
            )
            continue
        headers[name] = value
    try:
        return Forwarder(config, url, secret, headers)
    except ValueError as exc:
        raise DevError(f"pipeline `{pipeline.name}`: forward: {exc}") from None
