"""`verify.scheme: sns`: Amazon SNS message signatures, and the TopicArn allow-list.

SNS signs each HTTP(S) delivery with RSA: SignatureVersion 1 is SHA1withRSA, 2 SHA256withRSA,
over "Key\\nValue\\n" lines of fixed fields, with a key whose X.509 certificate SNS serves at
SigningCertURL. A message is accepted only when its TopicArn is listed (checked first: a
forged topic costs no fetch), the certificate URL is https on SNS's own host
(sns.<region>.amazonaws.com, or .com.cn in China) and the signature checks out.
https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html
https://docs.aws.amazon.com/sns/latest/dg/http-subscription-confirmation-json.html

Why a hand-written verifier: the runtime is stdlib only (it ships inside the consumer's zip)
and the standard library has no RSA. Verifying PKCS#1 v1.5 is small and needs no secret
material: read (n, e) from the certificate's DER, compute signature^e mod n, and compare it
with the padded DigestInfo of the hash (RFC 8017, 8.2.2 and 9.2). Nothing here signs or
decrypts. Like AWS's own SNS message validators, trust in the key comes from fetching the
certificate over TLS from SNS's host, not from a certificate chain.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import ssl
import threading
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

CERT_HOST = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")
TYPES = ("Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation")
# The fields each message type signs, in this order (SNS's documentation above).
SIGNED_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}
SIGNED_FIELDS["UnsubscribeConfirmation"] = SIGNED_FIELDS["SubscriptionConfirmation"]
# DER DigestInfo prefixes of PKCS#1 v1.5 (RFC 8017, 9.2 note 1), by SignatureVersion.
DIGESTS: dict[str, tuple[Callable[[bytes], Any], bytes]] = {
    "1": (hashlib.sha1, bytes.fromhex("3021300906052b0e03021a05000414")),
    "2": (hashlib.sha256, bytes.fromhex("3031300d060960864801650304020105000420")),
}
RSA_ENCRYPTION = bytes.fromhex("06092a864886f70d010101")  # OID 1.2.840.113549.1.1.1
FETCH_TIMEOUT = 5  # seconds
MAX_CERTIFICATE = 16 * 1024


class SnsError(ValueError):
    """Why a message is not accepted (safe to log)."""


def sns_certificate_url(url: str) -> bool:
    """SNS's own certificates: https, SNS's host, a .pem path."""
    parts = urllib.parse.urlsplit(url)
    return (
        parts.scheme == "https"
        and bool(CERT_HOST.match(parts.hostname or ""))
        and parts.port is None
        and parts.path.endswith(".pem")
    )


def fetch_pem(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT) as answer:  # checked URL only
        return bytes(answer.read(MAX_CERTIFICATE + 1))


@dataclass
class Certificates:
    """Signing keys by certificate URL, fetched once per container. `allowed` and `fetch` are
    the seams a test replaces (a certificate served from 127.0.0.1)."""

    allowed: Callable[[str], bool] = sns_certificate_url
    fetch: Callable[[str], bytes] = fetch_pem
    _keys: dict[str, tuple[int, int]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def key(self, url: str) -> tuple[int, int]:
        if not self.allowed(url):
            raise SnsError("SigningCertURL is not an SNS certificate URL")
        with self._lock:
            if url not in self._keys:
                try:
                    pem = self.fetch(url)
                except OSError as exc:
                    raise SnsError(f"could not fetch the signing certificate: {exc}") from exc
                if len(pem) > MAX_CERTIFICATE:
                    raise SnsError("the signing certificate is too large")
                self._keys[url] = rsa_key(pem)
            return self._keys[url]


STORE = Certificates()


def check_message(message: Mapping[str, Any], topics: tuple[str, ...], store: Certificates) -> None:
    """Raise SnsError unless `message` is an SNS message to an allowed topic, signed by SNS."""
    kind = message.get("Type")
    if kind not in TYPES:
        raise SnsError("not an SNS message (Type)")
    topic = message.get("TopicArn")
    if not isinstance(topic, str) or topic not in topics:
        raise SnsError("TopicArn is not in verify.topics")
    version = str(message.get("SignatureVersion", ""))
    if version not in DIGESTS:
        raise SnsError(f"unsupported SignatureVersion {version[:8]!r}")
    url, signature = message.get("SigningCertURL"), message.get("Signature")
    if not isinstance(url, str) or not isinstance(signature, str):
        raise SnsError("no SigningCertURL or Signature")
    try:
        raw = base64.b64decode(signature, validate=True)
    except binascii.Error as exc:
        raise SnsError("Signature is not base64") from exc
    if not rsa_verify(store.key(url), raw, version, string_to_sign(message, kind)):
        raise SnsError("signature mismatch")


def string_to_sign(message: Mapping[str, Any], kind: str) -> bytes:
    lines = []
    for name in SIGNED_FIELDS[kind]:
        value = message.get(name)
        if value is None and name == "Subject":
            continue  # a Notification without a subject signs no Subject line
        if not isinstance(value, str):
            raise SnsError(f"no {name}")
        lines.append(f"{name}\n{value}\n")
    return "".join(lines).encode()


def rsa_verify(key: tuple[int, int], signature: bytes, version: str, signed: bytes) -> bool:
    """RSASSA-PKCS1-v1_5 verification (RFC 8017, 8.2.2), constant-time comparison."""
    n, e = key
    size = (n.bit_length() + 7) // 8
    if len(signature) != size:
        return False
    value = int.from_bytes(signature, "big")
    if value >= n:
        return False
    digest, prefix = DIGESTS[version]
    info = prefix + digest(signed).digest()
    padding = size - 3 - len(info)
    if padding < 8:
        return False
    expected = b"\x00\x01" + b"\xff" * padding + b"\x00" + info
    return hmac.compare_digest(pow(value, e, n).to_bytes(size, "big"), expected)


# --- the public key out of an X.509 certificate (DER), nothing more -----------------------


def rsa_key(pem: bytes) -> tuple[int, int]:
    """(modulus, exponent) of the RSA key a PEM certificate holds."""
    try:
        der = ssl.PEM_cert_to_DER_cert(pem.decode("ascii"))
        certificate = _children(der, *_span(der, 0, 0x30))
        tbs = _children(der, *_span(der, certificate[0][1], 0x30))
        fields = tbs[1:] if der[tbs[0][1]] == 0xA0 else tbs  # [0] version is optional
        spki = _children(der, *_span(der, fields[5][1], 0x30))
        algorithm = _children(der, *_span(der, spki[0][1], 0x30))
        oid_start, oid_end = algorithm[0][1], algorithm[0][2]
        if der[oid_start:oid_end] != RSA_ENCRYPTION:
            raise SnsError("the signing certificate's key is not RSA")
        bits_start, _ = _span(der, spki[1][1], 0x03)
        if der[bits_start] != 0:
            raise SnsError("malformed public key")
        key = _children(der, *_span(der, bits_start + 1, 0x30))
        n, e = (_integer(der, start) for _, start, _ in key[:2])
    except (ValueError, IndexError, UnicodeDecodeError) as exc:
        raise SnsError(f"unreadable signing certificate: {exc}") from exc
    return n, e


def _header(der: bytes, at: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the DER element at `at`."""
    tag, length, at = der[at], der[at + 1], at + 2
    if length & 0x80:
        count = length & 0x7F
        if not 1 <= count <= 4:
            raise ValueError("unsupported DER length")
        length, at = int.from_bytes(der[at : at + count], "big"), at + count
    if at + length > len(der):
        raise ValueError("DER element runs past the end")
    return tag, at, at + length


def _span(der: bytes, at: int, tag: int) -> tuple[int, int]:
    found, start, end = _header(der, at)
    if found != tag:
        raise ValueError(f"expected DER tag {tag:#x}, found {found:#x}")
    return start, end


def _children(der: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    """(tag, element start, element end) of each element inside [start, end)."""
    found = []
    while start < end:
        tag, _, content_end = _header(der, start)
        found.append((tag, start, content_end))
        start = content_end
    return found


def _integer(der: bytes, at: int) -> int:
    start, end = _span(der, at, 0x02)
    return int.from_bytes(der[start:end], "big")
