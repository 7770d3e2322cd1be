"""Nami consumer runtime, shipped in every consumer Lambda zip as the `nami_runtime` package.

Standard library only (boto3 is imported lazily; the Lambda runtime provides it), and
relative imports only, so the folder works under either package name.
"""

from __future__ import annotations

from .verify import VerifyResult, VerifySettings, verify
from .webhook import Headers, MalformedEnvelope, Webhook, decode_envelope

__all__ = [
    "Headers",
    "MalformedEnvelope",
    "VerifyResult",
    "VerifySettings",
    "Webhook",
    "decode_envelope",
    "verify",
]
