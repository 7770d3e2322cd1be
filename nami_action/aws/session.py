"""One boto3 session per run, clients with adaptive retries, errors turned into plain words."""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.exceptions
import botocore.session
from botocore.config import Config
from botocore.credentials import AssumeRoleCredentialFetcher, DeferredRefreshableCredentials
from botocore.parsers import ResponseParserError

from nami_action.errors import NamiError

ENDPOINT_ENV = "NAMI_ENDPOINT_URL"

# Adaptive mode adds client-side rate limiting on top of retries, so a burst of
# describe calls against a throttled account slows down instead of failing.
RETRY_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 10}, user_agent_extra="nami")


class AwsError(NamiError):
    """An AWS call failed for a reason the user can act on."""


@dataclass(frozen=True)
class AwsTarget:
    """Where to talk to AWS; every field falls back to the default credential chain."""

    region: str | None = None
    profile: str | None = None
    role_arn: str | None = None
    endpoint_url: str | None = field(default_factory=lambda: os.environ.get(ENDPOINT_ENV) or None)


class Aws:
    """Lazily created, cached boto3 clients for one target."""

    def __init__(self, target: AwsTarget) -> None:
        self.target = target
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        # Every API call made, by "service:Operation": benchmarks and tests count them.
        self.calls: Counter[str] = Counter()
        with translate_errors("starting an AWS session"):
            self._session = self._make_session()

    @property
    def region(self) -> str:
        return self._session.region_name or "us-east-1"

    def account_id(self) -> str:
        """The account of the credentials in use (STS GetCallerIdentity needs no permission)."""
        with translate_errors("finding the account of the AWS credentials"):
            return str(self.client("sts").get_caller_identity()["Account"])

    def require_account(self, expected: str | None, whose: str) -> None:
        """Refuse to go on with credentials of another account than `expected` (if any)."""
        if expected is None:
            return
        actual = self.account_id()
        if actual != expected:
            raise AwsError(
                f"the AWS credentials are for account {actual}, but {whose} is account "
                f"{expected}: use credentials (or --role-arn) of account {expected}"
            )

    def client(self, service: str) -> Any:
        """A shared client (botocore clients are thread-safe once created)."""
        with self._lock:
            if service not in self._clients:
                # Made on first use, often outside the caller's translate_errors: a session
                # without a region fails here (NoRegionError), before any call.
                with translate_errors(f"creating the AWS {service} client"):
                    client = self._session.client(
                        service,  # type: ignore[call-overload]
                        endpoint_url=self.target.endpoint_url,
                        config=RETRY_CONFIG,
                    )
                client.meta.events.register("before-call", self._count)
                self._clients[service] = client
            return self._clients[service]

    def _count(self, model: Any, **_: Any) -> None:
        with self._lock:
            self.calls[f"{model.service_model.service_name}:{model.name}"] += 1

    def _make_session(self) -> boto3.Session:
        base = boto3.Session(profile_name=self.target.profile, region_name=self.target.region)
        if not self.target.role_arn:
            return base
        source = base.get_credentials()
        if source is None:
            raise botocore.exceptions.NoCredentialsError()

        def sts_client(service: str, **kwargs: Any) -> Any:
            return base.client(  # type: ignore[call-overload]
                service, endpoint_url=self.target.endpoint_url, config=RETRY_CONFIG, **kwargs
            )

        # Refreshable: a deploy that outlives the assumed role's hour renews it instead of
        # failing half-way with ExpiredToken.
        fetcher = AssumeRoleCredentialFetcher(
            client_creator=sts_client,
            source_credentials=source,
            role_arn=self.target.role_arn,
            extra_args={"RoleSessionName": "nami"},
        )
        core = botocore.session.Session()
        # botocore has no public setter for refreshable credentials; this is the usual hook.
        core._credentials = DeferredRefreshableCredentials(  # type: ignore[attr-defined]
            method="assume-role", refresh_using=fetcher.fetch_credentials
        )
        return boto3.Session(botocore_session=core, region_name=base.region_name)


def error_code(exc: BaseException) -> str:
    """The AWS error code of a ClientError, or '' for anything else."""
    if isinstance(exc, botocore.exceptions.ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def error_message(exc: BaseException) -> str:
    if isinstance(exc, botocore.exceptions.ClientError):
        return str(exc.response.get("Error", {}).get("Message", "")) or str(exc)
    return str(exc)


# "403": a HEAD request (HeadObject, HeadBucket) that is denied has no body to name a code.
DENIED_CODES = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "403"}
BAD_CREDENTIAL_CODES = {
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "UnrecognizedClientException",
}


@contextmanager
def translate_errors(doing: str) -> Iterator[None]:
    """Turn botocore failures into one AwsError sentence that says what to do next."""
    try:
        yield
    except botocore.exceptions.NoCredentialsError as exc:
        raise AwsError(
            f"no AWS credentials found while {doing}: set AWS_PROFILE or AWS_ACCESS_KEY_ID, "
            "or run in CI with aws-actions/configure-aws-credentials"
        ) from exc
    except botocore.exceptions.ProfileNotFound as exc:
        raise AwsError(f"{exc} (while {doing})") from exc
    except botocore.exceptions.NoRegionError as exc:
        raise AwsError(
            f"no AWS region while {doing}: set `region` in nami.yaml, --region or "
            "AWS_DEFAULT_REGION (the variable botocore reads)"
        ) from exc
    except botocore.exceptions.EndpointConnectionError as exc:
        raise AwsError(f"cannot reach AWS while {doing}: {exc}") from exc
    except botocore.exceptions.ClientError as exc:
        code = error_code(exc)
        if code in DENIED_CODES:
            raise AwsError(f"access denied while {doing}: {error_message(exc)}") from exc
        if code in BAD_CREDENTIAL_CODES:
            raise AwsError(
                f"AWS rejected the credentials while {doing} ({code}): {error_message(exc)}"
            ) from exc
        raise AwsError(f"AWS error while {doing} ({code}): {error_message(exc)}") from exc
    except botocore.exceptions.BotoCoreError as exc:
        raise AwsError(f"AWS error while {doing}: {exc}") from exc
    except ResponseParserError as exc:  # an endpoint that is not AWS (or an emulator) failed
        raise AwsError(f"unreadable answer from the AWS endpoint while {doing}: {exc}") from exc


def credentials_available() -> bool:
    """Whether the default credential chain finds anything (no AWS call is made)."""
    try:
        return boto3.Session().get_credentials() is not None
    except Exception:  # a broken profile or config file means: no usable credentials
        return False
