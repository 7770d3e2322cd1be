"""This test process as a deployed pipeline's function, on the moto server.

moto does not run Lambda code (no Docker) and its event source mapping would only fail the
invocations, so the tests deploy for real, pause every mapping, take the function's own
environment as written by CloudFormation, and call the runtime's entry point themselves."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from nami_action.apply import DeployOptions, deploy
from nami_action.aws.session import Aws
from nami_action.compile import names
from nami_action.config import Config, load_config
from nami_action.plan.planner import PlanOptions, make_plan
from nami_action.runtime import entry, secrets

FAST = 0.05


def deploy_and_stand_in(
    aws: Aws,
    monkeypatch: pytest.MonkeyPatch,
    config_path: Path,
    bucket: str,
    pipeline: str = "stripe",
) -> tuple[Config, dict[str, str]]:
    """Deploy `config_path` (region us-east-1, artifacts in `bucket`), pause the mappings and
    set this process's environment to `pipeline`'s function's: (config, logical id ->
    physical id of its stack's resources)."""
    text = config_path.read_text()
    project = next(line for line in text.splitlines() if line.startswith("project: "))
    config_path.write_text(
        text.replace(
            f"{project}\n",
            f"{project}\nregion: us-east-1\nartifacts: {{bucket: {bucket}}}\n",
            1,
        )
    )
    config = load_config(config_path)
    aws.client("s3").create_bucket(Bucket=bucket)
    run = make_plan(config, aws, PlanOptions(keep_change_sets=True, poll_seconds=FAST))
    result = deploy(aws, run, DeployOptions(poll_seconds=FAST), lambda event: None)
    assert [p.outcome for p in result.pipelines] == ["created"], result
    lam = aws.client("lambda")
    for mapping in lam.list_event_source_mappings()["EventSourceMappings"]:
        lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
    stack = config.pipelines[pipeline].stack_name
    summaries = aws.client("cloudformation").list_stack_resources(StackName=stack)
    resources = {
        r["LogicalResourceId"]: r["PhysicalResourceId"] for r in summaries["StackResourceSummaries"]
    }
    function = lam.get_function_configuration(FunctionName=resources[names.FUNCTION])
    variables: dict[str, str] = function["Environment"]["Variables"]
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws.target.endpoint_url or "")
    return config, resources


@pytest.fixture
def cold_container() -> Iterator[None]:
    """A new container for each test: the runtime's cached consumer and secrets forgotten."""
    entry.reset()
    secrets.clear_cache()
    yield
    entry.reset()
    secrets.clear_cache()
