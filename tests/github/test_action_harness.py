"""action.yml run step by step as the runner runs it, against moto and a local GitHub API.

The fork and invalid-config runs need no AWS; the plan/deploy runs need `nami plan` and
`nami deploy` registered in the CLI (they are skipped, saying so, until then).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner

from nami_action.cli import cli

from .action_runner import ACTION_PATH, ActionRun, run_action
from .git_checkout import commit_all, head
from .github_fakes import REPO, TOKEN, FakeGitHub

HEAD_SHA = "c" * 40
BUCKET = "nami-harness-artifacts"


def config(fifo: bool = False) -> str:
    return f"""\
version: 1
project: harness
region: us-east-1
artifacts:
  bucket: {BUCKET}
pipelines:
  github:
    verify:
      scheme: github
      secret: ssm:/harness/github
    consumer:
      code: consumers/github
  orders:
    verify:
      scheme: hmac-sha256
      secret: ssm:/harness/orders
      header: X-Signature
    queue:
      fifo: {"true" if fifo else "false"}
    consumer:
      code: consumers/orders
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    for name in ("github", "orders"):
        code = root / "consumers" / name
        code.mkdir(parents=True)
        (code / "handler.py").write_text("def handle(webhook):\n    return None\n")
    (root / "nami.yaml").write_text(config())
    (root / ".gitignore").write_text(".nami/\n")
    commit_all(root)
    return root


def pull_request(number: int = 12, fork: bool = False) -> dict[str, Any]:
    head = "someone/webhooks" if fork else REPO
    return {
        "action": "synchronize",
        "number": number,
        "pull_request": {
            "number": number,
            "head": {"sha": HEAD_SHA, "ref": "feature", "repo": {"full_name": head}},
            "base": {"ref": "main", "repo": {"full_name": REPO}},
        },
        "repository": {"full_name": REPO, "default_branch": "main"},
    }


def push(sha: str) -> dict[str, Any]:
    return {
        "ref": "refs/heads/main",
        "after": sha,
        "repository": {"full_name": REPO, "default_branch": "main"},
    }


# How this machine reaches the package registry (its CA bundle, a proxy), passed on as a runner
# passes its machine's environment to every step: the install step downloads what is missing.
REGISTRY_VARIABLES = (
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "PIP_CERT",
    "PIP_INDEX_URL",
    "UV_INDEX_URL",
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "NO_PROXY",
    "https_proxy",
    "http_proxy",
    "no_proxy",
)


@functools.cache
def machine_pip_cache() -> str:
    """This machine's pip cache folder ("" if pip cannot say), asked once per test process."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "cache", "dir"], capture_output=True, text=True
    )
    return done.stdout.strip() if done.returncode == 0 else ""


def registry_access(*, warm: bool) -> dict[str, str]:
    env = {name: os.environ[name] for name in REGISTRY_VARIABLES if name in os.environ}
    if warm and machine_pip_cache():  # pip finds uv's wheel there, as `make install` left it
        env["PIP_CACHE_DIR"] = machine_pip_cache()
    return env


def run(
    tmp_path: Path,
    repo: Path,
    fake: FakeGitHub,
    event_name: str,
    event: dict[str, Any],
    *,
    aws: bool = True,
    cold: bool = False,
    python: str = sys.executable,
    **inputs: str,
) -> ActionRun:
    run.count = getattr(run, "count", 0) + 1  # type: ignore[attr-defined]
    temp = tmp_path / f"run-{run.count}"  # type: ignore[attr-defined]
    temp.mkdir()
    event_path = temp / "event.json"
    event_path.write_text(json.dumps(event))
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_SHA": head(repo),
        "GITHUB_REF": "refs/heads/main" if event_name == "push" else "refs/pull/12/merge",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_API_URL": fake.url,
        "GITHUB_RUN_ID": "777",
        "GITHUB_WORKFLOW_REF": f"{REPO}/.github/workflows/nami.yml@refs/heads/main",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-credentials"),
        "AWS_CONFIG_FILE": str(home / "no-config"),
        **registry_access(warm=not cold),
    }
    if aws:  # what aws-actions/configure-aws-credentials leaves in the job's environment
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            env[name] = os.environ.get(name, "testing")
        if os.environ.get("NAMI_ENDPOINT_URL"):  # the `emulator` fixture's moto server
            env["NAMI_ENDPOINT_URL"] = os.environ["NAMI_ENDPOINT_URL"]
        env["AWS_REGION"] = env["AWS_DEFAULT_REGION"] = "us-east-1"
    return run_action(
        workspace=repo,
        temp=temp,
        event_name=event_name,
        event_path=event_path,
        inputs=inputs,
        env=env,
        token=TOKEN,
        cache_hit=not cold,
        python=python,
    )


def explain(result: ActionRun) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


# --------------------------------------------------------------------------- no AWS needed


def test_warm_run_installs_from_the_download_cache(
    tmp_path: Path, repo: Path, github_api: FakeGitHub
):
    """Every job builds its environment from the lock with hashes; a warm run only skips
    saving uv's download cache."""
    result = run(tmp_path, repo, github_api, "pull_request", pull_request(fork=True), aws=False)
    assert result.returncode == 0, explain(result)
    assert "Install Nami's dependencies" in result.ran
    assert "Save uv's download cache" in result.skipped and result.saved == []
    assert result.ran[-1] == "Run Nami"
    key = result.steps["key"]["outputs"]["key"]  # type: ignore[index]
    assert key.startswith("nami-uv-v1-Linux-X64-")
    locks = b"".join(
        (ACTION_PATH / "requirements" / name).read_bytes() for name in ("uv.lock", "action.lock")
    )
    assert key.endswith("-" + hashlib.sha256(locks).hexdigest()[:20])
    venv = Path(result.steps["key"]["outputs"]["venv"])  # type: ignore[index]
    assert not venv.is_symlink() and (venv / "pyvenv.cfg").is_file()


def test_repository_files_do_not_shadow_the_action(
    tmp_path: Path, repo: Path, github_api: FakeGitHub
):
    """The job runs in the user's checkout: its json.py must not replace the standard one."""
    for module in ("json", "hashlib", "nami_action"):
        (repo / f"{module}.py").write_text("raise SystemExit('imported from the repository')\n")
    result = run(tmp_path, repo, github_api, "pull_request", pull_request(fork=True), aws=False)
    assert result.returncode == 0, explain(result)
    assert "imported from the repository" not in result.stderr
    assert "Nami: validated only" in result.summary


def older_python() -> str | None:
    candidates = [shutil.which(f"python3.{minor}") for minor in (10, 9)]
    candidates += sorted(str(p) for p in Path.home().glob(".pyenv/versions/3.1[0]*/bin/python3"))
    for found in candidates:
        if found and subprocess.run([found, "-V"], capture_output=True).returncode == 0:
            return found
    return None


def test_python_older_than_3_11_is_a_clear_error(
    tmp_path: Path, repo: Path, github_api: FakeGitHub
):
    python = older_python()
    if python is None:
        pytest.skip("no Python older than 3.11 on this machine")
    result = run(
        tmp_path,
        repo,
        github_api,
        "pull_request",
        pull_request(fork=True),
        aws=False,
        python=python,
    )
    assert result.returncode == 1
    assert result.ran[-1] == "Check the Python version and compute the cache key"
    (error,) = [line for line in result.stdout.splitlines() if line.startswith("::error")]
    assert "Nami needs Python 3.11 or later; python-version gave 3.1" in error


def test_fork_pull_request_validates_only(tmp_path: Path, repo: Path, github_api: FakeGitHub):
    result = run(tmp_path, repo, github_api, "pull_request", pull_request(fork=True), aws=False)
    assert result.returncode == 0, explain(result)
    assert result.outputs == {
        "status": "validated-only",
        "has-changes": "false",
        "plan": "",
        "changed-pipelines": "[]",
        "endpoints": "{}",
        "bundle": "",
        "bundle-digest": "",
        "plan-digest": "",
        "plan-fingerprint": "",
    }
    assert "Nami: validated only" in result.summary
    assert "comes from a fork" in result.summary
    assert "no AWS" not in result.stderr
    assert github_api.writes() == []  # a fork's token is read-only: no comment attempted


def test_invalid_config_fails_with_annotations(tmp_path: Path, repo: Path, github_api: FakeGitHub):
    text = config().replace(
        "      header: X-Signature\n", "      header: X-Signature\n      colour: red\n"
    )
    (repo / "nami.yaml").write_text(text)
    result = run(tmp_path, repo, github_api, "pull_request", pull_request())
    assert result.returncode == 1, explain(result)
    errors = [line for line in result.stdout.splitlines() if line.startswith("::error ")]
    assert len(errors) == 1, result.stdout
    assert errors[0].startswith("::error title=nami.yaml,file=nami.yaml,line=18,col=7::")
    assert "colour" in errors[0]
    assert "`nami.yaml` is invalid" in result.summary
    (comment,) = github_api.comments[12]
    assert comment["body"].startswith("<!-- nami:plan:nami.yaml -->")
    assert result.outputs["has-changes"] == "false"
    assert result.outputs["status"] == "invalid"


def test_same_repository_pull_request_without_credentials_fails(
    tmp_path: Path, repo: Path, github_api: FakeGitHub
):
    github_api.add_comment(12, "<!-- nami:plan:nami.yaml -->\nNo changes", "github-actions[bot]")
    result = run(tmp_path, repo, github_api, "pull_request", pull_request(), aws=False)
    assert result.returncode == 1, explain(result)
    assert result.outputs["status"] == "failed"
    assert "::error title=nami plan failed::no AWS credentials" in result.stdout
    (comment,) = github_api.comments[12]  # the stale plan is replaced by the failure
    assert "Nami plan failed" in comment["body"] and "No changes" not in comment["body"]


def test_a_pull_request_can_never_deploy(tmp_path: Path, repo: Path, github_api: FakeGitHub):
    result = run(tmp_path, repo, github_api, "pull_request", pull_request(), command="deploy")
    assert result.returncode == 1, explain(result)
    assert "::error title=nami::refusing to deploy on pull_request:" in result.stdout
    assert result.outputs["status"] == "failed"


def test_working_directory_input(tmp_path: Path, repo: Path, github_api: FakeGitHub):
    infra = repo / "infra"
    infra.mkdir()
    for item in ("nami.yaml", "consumers"):
        shutil.move(repo / item, infra / item)
    result = run(
        tmp_path,
        repo,
        github_api,
        "pull_request",
        pull_request(fork=True),
        **{"working-directory": "infra"},
    )
    assert result.returncode == 0, explain(result)
    assert "`infra/nami.yaml` is valid" in result.summary


# --------------------------------------------------------------------------- plan and deploy


def test_pull_request_plan_push_deploy_and_fail_on_replacement(
    tmp_path: Path, repo: Path, github_api: FakeGitHub, emulator: str
):
    boto3.client("s3", endpoint_url=emulator, region_name="us-east-1").create_bucket(Bucket=BUCKET)

    # 1. the pull request: a plan, one sticky comment, outputs
    first = run(tmp_path, repo, github_api, "pull_request", pull_request())
    assert first.returncode == 0, explain(first)
    assert first.outputs["has-changes"] == "true"
    assert sorted(json.loads(first.outputs["changed-pipelines"])) == ["github", "orders"]
    plan = json.loads(Path(first.outputs["plan"]).read_text())
    assert plan["counts"]["create"] == 2
    assert "**2 to create · 0 to update · 0 to delete · 0 unchanged**" in first.summary
    (comment,) = github_api.comments[12]
    assert comment["body"].startswith("<!-- nami:plan:nami.yaml -->")
    assert f"commit {HEAD_SHA[:7]}" in comment["body"]
    assert "https://github.com/acme/webhooks/actions/runs/777" in comment["body"]

    # 2. the same push again: the same comment, and no write at all (unchanged body)
    writes = len(github_api.writes())
    second = run(tmp_path, repo, github_api, "pull_request", pull_request())
    assert second.returncode == 0, explain(second)
    assert len(github_api.comments[12]) == 1
    assert len(github_api.writes()) == writes

    # 2b. a second job planning the same config for another account has its own comment
    other = run(
        tmp_path, repo, github_api, "pull_request", pull_request(), **{"comment-key": "staging"}
    )
    assert other.returncode == 0, explain(other)
    markers = [c["body"].split("\n", 1)[0] for c in github_api.comments[12]]
    assert markers == ["<!-- nami:plan:nami.yaml -->", "<!-- nami:plan:nami.yaml#staging -->"]

    # 3. merged: an old commit is refused, the tip deploys and comments on every merged PR
    # it brings out (#11 merged while the run of its push waited and was coalesced).
    merge = head(repo)
    github_api.branches["main"] = "f" * 40
    stale = run(tmp_path, repo, github_api, "push", push(merge))
    assert stale.returncode == 1, explain(stale)
    assert f"refusing to deploy {merge[:7]}: the tip of main is now fffffff" in stale.stdout
    assert stale.outputs["status"] == "failed"
    github_api.branches["main"] = merge
    github_api.successful_runs["nami.yml"] = "a" * 40
    github_api.compare[f"{'a' * 40}...{merge}"] = ["b" * 40, merge]
    github_api.pulls_by_sha["b" * 40] = [{"number": 11, "merged_at": "2024-05-01T09:00:00Z"}]
    github_api.pulls_by_sha[merge] = [{"number": 12, "merged_at": "2024-05-01T10:00:00Z"}]
    github_api.pulls_by_sha["d" * 40] = [{"number": 10, "merged_at": None}]
    deployed = run(tmp_path, repo, github_api, "push", push(merge))
    assert deployed.returncode == 0, explain(deployed)
    assert deployed.outputs["status"] == "deployed"
    assert "Deploys #11, #12" in github_api.comments[11][0]["body"]
    assert 10 not in github_api.comments
    assert "Nami deploy succeeded" in deployed.summary
    assert sorted(json.loads(deployed.outputs["changed-pipelines"])) == ["github", "orders"]
    endpoints = json.loads(deployed.outputs["endpoints"])
    assert set(endpoints) <= {"github", "orders"}
    deploy_comments = [
        c for c in github_api.comments[12] if c["body"].startswith("<!-- nami:deploy:nami.yaml")
    ]
    assert len(deploy_comments) == 1

    # 4. a later pull request toggles queue.fifo: the queue would be replaced, which the
    # deploy refuses without force, so the plan fails by default (fail-on: refused)
    (repo / "nami.yaml").write_text(config(fifo=True))
    blocked = run(tmp_path, repo, github_api, "pull_request", pull_request(13))
    assert blocked.returncode == 1, explain(blocked)
    assert "::error title=nami%3A fail-on refused::orders: refused" in blocked.stdout
    assert json.loads(blocked.outputs["changed-pipelines"]) == ["orders"]
    assert "> [!CAUTION]" in blocked.summary
    forced = run(tmp_path, repo, github_api, "pull_request", pull_request(13), force="true")
    assert forced.returncode == 0, explain(forced)
    assert forced.outputs["status"] == "planned"
    replacement = run(
        tmp_path, repo, github_api, "pull_request", pull_request(13), **{"fail-on": "replacement"}
    )
    assert replacement.returncode == 1, explain(replacement)
    assert "::error title=nami%3A fail-on replacement::orders:" in replacement.stdout
    # every run on #13 edited the same comment
    assert len(github_api.comments[13]) == 1


@pytest.mark.skipif(
    not os.environ.get("NAMI_TEST_ACTION_INSTALL"),
    reason="cold install downloads from PyPI; set NAMI_TEST_ACTION_INSTALL=1 to run it",
)
def test_cold_run_installs_the_environment(tmp_path: Path, repo: Path, github_api: FakeGitHub):
    result = run(
        tmp_path, repo, github_api, "pull_request", pull_request(fork=True), aws=False, cold=True
    )
    assert result.returncode == 0, explain(result)
    assert "Install Nami's dependencies" in result.ran
    assert result.saved == [result.steps["key"]["outputs"]["key"]]  # type: ignore[index]
    assert "Nami: validated only" in result.summary


ENVIRONMENTS = """\
environments:
  staging:
    account: "123456789012"
    overrides:
      defaults:
        consumer: {max_concurrency: 2}
  production:
    account: "210987654321"
"""


def test_environment_input_plans_each_environment_and_guards_the_account(
    tmp_path: Path, repo: Path, github_api: FakeGitHub, emulator: str
):
    boto3.client("s3", endpoint_url=emulator, region_name="us-east-1").create_bucket(Bucket=BUCKET)
    (repo / "nami.yaml").write_text(config() + ENVIRONMENTS)
    merge = commit_all(repo)

    staging = run(tmp_path, repo, github_api, "pull_request", pull_request(), environment="staging")
    assert staging.returncode == 0, explain(staging)
    plan = json.loads(Path(staging.outputs["plan"]).read_text())
    assert sorted(p["stack_name"] for p in plan["pipelines"]) == [
        "harness-staging-github",
        "harness-staging-orders",
    ]
    # moto's credentials are account 123456789012: production's guard refuses them
    production = run(
        tmp_path, repo, github_api, "pull_request", pull_request(), environment="production"
    )
    assert production.returncode == 1, explain(production)
    assert "the AWS credentials are for account 123456789012" in production.stdout
    markers = [c["body"].split("\n", 1)[0] for c in github_api.comments[12]]
    assert markers == [
        "<!-- nami:plan:nami.yaml#staging -->",
        "<!-- nami:plan:nami.yaml#production -->",
    ]

    github_api.branches["main"] = merge
    deployed = run(tmp_path, repo, github_api, "push", push(merge), environment="staging")
    assert deployed.returncode == 0, explain(deployed)
    assert sorted(json.loads(deployed.outputs["changed-pipelines"])) == ["github", "orders"]
    cfn = boto3.client("cloudformation", endpoint_url=emulator, region_name="us-east-1")
    stacks = {s["StackName"] for s in cfn.describe_stacks()["Stacks"]}
    assert stacks >= {"harness-staging-github", "harness-staging-orders"}
    assert not any(name.startswith("harness-production-") for name in stacks)


def test_the_deploy_executes_exactly_the_reviewed_plan(
    tmp_path: Path, repo: Path, github_api: FakeGitHub, emulator: str
):
    """The example workflow's steps in order: build (no credentials), plan, merge plan,
    deploy. The deploy refuses when main moved or someone deployed between the merge plan
    and the deploy, and executes when nothing changed, the reviewed zips and templates."""
    s3 = boto3.client("s3", endpoint_url=emulator, region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    bundle = str(tmp_path / "bundle")  # the folder the job's steps share

    def step(event: str, payload: dict[str, Any], aws: bool = True, **inputs: str) -> ActionRun:
        return run(tmp_path, repo, github_api, event, payload, aws=aws, bundle=bundle, **inputs)

    # The pull request: the build refuses credentials, runs without; the plan reads it.
    refused = step("pull_request", pull_request(), command="build")
    assert refused.returncode == 1 and "refusing to build with AWS credentials" in refused.stdout
    built = step("pull_request", pull_request(), aws=False, command="build")
    assert built.returncode == 0, explain(built)
    assert built.outputs["status"] == "built"
    planned = step("pull_request", pull_request(), command="plan")
    assert planned.returncode == 0, explain(planned)
    (comment,) = github_api.comments[12]
    assert f"bundle <code>{built.outputs['bundle-digest'][:12]}</code>" in comment["body"]
    assert planned.outputs["plan-digest"] in comment["body"]
    assert "workflow `.github/workflows/nami.yml`" in comment["body"]

    # Merged: the merge plan job publishes the fingerprint the deploy must match.
    merge = head(repo)
    github_api.branches["main"] = merge

    def merge_plan() -> str:
        assert step("push", push(merge), aws=False, command="build").returncode == 0
        result = step("push", push(merge), command="plan", comment="false")
        assert result.returncode == 0, explain(result)
        return result.outputs["plan-fingerprint"]

    approved = merge_plan()
    cfn = boto3.client("cloudformation", endpoint_url=emulator, region_name="us-east-1")

    def stacks() -> set[str]:
        """Deployed stacks (a plan's CREATE change set leaves an empty REVIEW_IN_PROGRESS one)."""
        found = cfn.describe_stacks()["Stacks"]
        return {s["StackName"] for s in found if s["StackStatus"] != "REVIEW_IN_PROGRESS"}

    # 1. main moved between the plan and the deploy: refused, nothing deployed
    github_api.branches["main"] = "f" * 40
    moved = step("push", push(merge), command="deploy", **{"approved-plan": approved})
    assert moved.returncode == 1
    assert "the tip of main is now fffffff" in moved.stdout
    assert not stacks() & {"harness-github", "harness-orders"}

    # 2. someone deployed `github` meanwhile: this run's plan differs, nothing is executed
    github_api.branches["main"] = merge
    result = CliRunner().invoke(
        cli,
        ["deploy", str(repo / "nami.yaml"), "--pipelines", "github"],
        env={"NAMI_ENDPOINT_URL": emulator},
    )
    assert result.exit_code == 0, result.output
    raced = step("push", push(merge), command="deploy", **{"approved-plan": approved})
    assert raced.returncode == 1, explain(raced)
    assert "not the approved plan" in raced.stdout
    assert "github: action, changes, diff_sha256 differ" in raced.stdout
    assert "harness-orders" not in stacks()

    # 3. planned again and approved: the deploy executes that plan, its zips as reviewed
    approved = merge_plan()
    deployed = step("push", push(merge), command="deploy", **{"approved-plan": approved})
    assert deployed.returncode == 0, explain(deployed)
    reviewed = json.loads(approved)
    assert deployed.outputs["plan-digest"] == hashlib.sha256(approved.encode()).hexdigest()
    assert "harness-orders" in stacks()
    for entry in reviewed["pipelines"].values():
        if entry["zip_sha256"]:
            # The S3 version each stack pins (its ArtifactVersion) holds the reviewed zip.
            (stack,) = cfn.describe_stacks(StackName=entry["stack"])["Stacks"]
            version = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
            key = f"nami/artifacts/{entry['zip_sha256']}.zip"
            pinned = s3.get_object(Bucket=BUCKET, Key=key, VersionId=version["ArtifactVersion"])
            assert hashlib.sha256(pinned["Body"].read()).hexdigest() == entry["zip_sha256"]
