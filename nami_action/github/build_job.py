"""The build job step: the bundle, built before any credentials are in the job.

It is the one step that runs code from the repository's requirements (pip), so it refuses
to run where AWS credentials are already set: put it before configure-aws-credentials.
"""

from __future__ import annotations

from pathlib import Path

from nami_action.config import Config
from nami_action.github.job import CREDENTIAL_ENV, Failure, Job
from nami_action.package import Artifact
from nami_action.package.bundle import Bundle, build_bundle, read_bundle

SECRET_ENV = (*CREDENTIAL_ENV, "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def bundle_folder(job: Job) -> Path:
    """The `bundle` input (relative to the workspace), else one folder per config under
    RUNNER_TEMP, which the plan and deploy steps of the same job find again."""
    if job.options.bundle:
        return (job.workspace / job.options.bundle).resolve()
    return job.result_path("bundle").with_suffix("")


def run_build(job: Job, config: Config) -> int:
    present = [name for name in SECRET_ENV if job.env.get(name)]
    if present:
        raise Failure(
            f"refusing to build with AWS credentials in the job ({', '.join(present)}): the "
            "build installs the consumers' requirements. Run the build step before "
            "aws-actions/configure-aws-credentials."
        )
    folder = bundle_folder(job)
    bundle = build_bundle(config, folder)
    job.log(f"bundle {bundle.digest} in {folder}")
    job.outputs("built", bundle=str(folder), bundle_digest=bundle.digest)
    return 0


def job_bundle(job: Job, config: Config) -> Bundle | None:
    """The bundle the build step left for this config, checked; None when there is none."""
    folder = bundle_folder(job)
    if not job.options.bundle and not folder.exists():
        job.annotations.add(
            "notice",
            "no bundle from a build step: packaging here, in a job that holds AWS "
            "credentials. Run the Action with `command: build` before the credentials step "
            "(see docs/github-action.md).",
            title="nami: no bundle",
        )
        return None
    return read_bundle(folder, config)


def bundle_artifacts(bundle: Bundle | None) -> dict[str, Artifact] | None:
    return None if bundle is None else bundle.artifacts
