"""Which S3 version of its zip a changed pipeline's functions run: the value of the template's
ArtifactVersion parameter in the pipeline's change set.

The key of a zip is its SHA-256 and the template names the key; S3ObjectVersion then pins the
object version, so CloudFormation and Lambda read exactly that version, whatever is put under
the key afterwards (https://docs.aws.amazon.com/lambda/latest/api/API_FunctionCode.html). The
template itself never holds a version id: it stays the same for the same zip, and so does the
bundle digest a reviewer saw.

Plan and deploy follow one rule, so that both make the same change set:
- the deployed stack runs this same bucket and key: keep what it runs, so its code is not
  fetched again. A deploy first checks (S3's stored SHA-256 of that version) that the version
  still holds the zip; if it does not (deleted, expired), the deploy pins another version whose
  SHA-256 it checked is the zip's, and the approved plan, which kept the deployed version,
  stands: no plan can see that the version is gone (it cannot read S3), so refusing would
  refuse every plan again. A
  stack that runs the key without a version (deployed before nami pinned versions, or from a
  bucket without versioning) keeps running it so until its code changes; the deploy still
  repairs the object at the key.
- otherwise the zip is new to the stack. A plan neither uploads nor reads zips (the plan role
  cannot), so its change set leaves the version out (""). A deploy uploads the zip or checks the
  object at its key, and pins the version whose checksum it checked (aws/artifacts.py).
What a plan approves is the zip's SHA-256 (and, when kept, the version id, which a deploy that
had to replace it records too); the deploy pins a version that holds exactly those bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nami_action.aws.artifacts import StoredZip, upload_artifact, version_holds
from nami_action.aws.session import Aws
from nami_action.compile import names
from nami_action.compile.consumer import ARTIFACT_VERSION_PARAMETER
from nami_action.errors import NamiError
from nami_action.package import Artifact
from nami_action.plan.model import PipelinePlan


@dataclass(frozen=True)
class PinnedCode:
    version: str  # the ArtifactVersion parameter; "" leaves S3ObjectVersion out
    kept: bool  # the version the deployed stack already runs
    note: str = ""  # for the deploy's result: what was wrong in S3, and what was done
    replaces: str | None = None  # the version the stack ran, gone: this one holds the same zip

    @property
    def approved(self) -> str | None:
        """What the plan fingerprint records: the kept version id ("": kept unpinned), or
        None for the version a deploy checks or uploads (no plan can know its id). A version
        that replaces the kept one records the kept id, as the plan did: the deploy checked
        that it holds the zip's SHA-256, which the fingerprint holds too."""
        if self.replaces is not None:
            return self.replaces
        return self.version if self.kept else None


def needs_code(plan: PipelinePlan, artifacts: dict[str, Artifact]) -> bool:
    return plan.action in ("create", "update") and not plan.error and plan.pipeline in artifacts


def running_version(
    parameters: dict[str, str], deployed: dict[str, Any] | None, code: tuple[str, str]
) -> str | None:
    """The stack's ArtifactVersion ("" when it has none) if it runs this same object (`code`:
    bucket and key), else None."""
    resources = (deployed or {}).get("Resources") or {}
    function = resources.get(names.FUNCTION) or {}
    running = (function.get("Properties") or {}).get("Code") or {}
    if (running.get("S3Bucket"), running.get("S3Key")) != code:
        return None
    return parameters.get(ARTIFACT_VERSION_PARAMETER, "")


def planned(kept: str | None) -> PinnedCode:
    """A plan's choice: keep what the stack runs, or leave the version to the deploy."""
    return PinnedCode(kept or "", kept=kept is not None)


def _pin_stored(bucket: str, artifact: Artifact, kept: str | None, stored: StoredZip) -> PinnedCode:
    """A deploy's pin once `stored` says what is at the key (see the module docstring)."""
    where = f"s3://{bucket}/{artifact.s3_key}"
    notes = []
    if kept:
        notes.append(f"version {kept} of {where}, which the stack ran, no longer holds the zip")
    if stored.upload == "replaced":
        notes.append(
            f"{where} did not hold the bytes of the local zip (SHA-256 differed or was "
            "missing): uploaded again"
        )
    if kept == "":  # unpinned and unchanged: the function's code is not fetched again
        return PinnedCode("", kept=True, note="; ".join(notes))
    if stored.version is None:
        notes.append(
            f"WARNING: bucket {bucket} keeps no object versions, so the function is not pinned "
            "to the checked bytes: Lambda reads whatever the key holds when it fetches the code. "
            "Turn versioning on for the bucket (the `nami bootstrap` bucket has it)"
        )
    if kept and stored.version:
        notes.append(
            f"pinned version {stored.version} instead, whose SHA-256 is the reviewed zip's: the "
            "approved plan stands"
        )
    replaces = kept if stored.version else None  # unpinned: the checked bytes are not pinned
    return PinnedCode(stored.version or "", kept=False, note="; ".join(notes), replaces=replaces)


class Pinner:
    """A deploy's pins: each distinct zip is uploaded (or checked) once, before any change set
    is made. Pipelines sharing a code folder share a key, and parallel PUTs of one key race a
    reader of it (the emulator even fails on it)."""

    def __init__(self, aws: Aws, bucket: str) -> None:
        self.aws, self.bucket = aws, bucket
        self.stored: dict[str, StoredZip | str] = {}  # s3 key -> what is there, or the error

    def pin(self, artifact: Artifact, kept: str | None) -> PinnedCode:
        """Raises NamiError when the zip cannot be stored or checked."""
        if kept and version_holds(self.aws, self.bucket, artifact, kept):
            return PinnedCode(kept, kept=True)
        if artifact.s3_key not in self.stored:
            try:
                self.stored[artifact.s3_key] = upload_artifact(self.aws, self.bucket, artifact)
            except NamiError as exc:
                self.stored[artifact.s3_key] = str(exc)
        stored = self.stored[artifact.s3_key]
        if isinstance(stored, str):
            raise NamiError(stored)
        return _pin_stored(self.bucket, artifact, kept, stored)
