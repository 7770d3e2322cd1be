"""A change of `ingress` keeps the old endpoint: the template of the new kind also carries the
retiring one, compiled by the same code and writing into the same queue, cfn-lint clean; the
plan reads which kind is current from the template's Metadata."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from nami_action.compile import CodeLocation
from nami_action.compile.pipeline import render_template
from nami_action.config import load_config
from nami_action.plan.endpoints import deployed_kind, ingress_kinds, kind_change_warning
from tests.cfn_lint import assert_templates_lint_clean

CODE = CodeLocation("artifacts-bucket", "nami/artifacts/" + "0" * 64 + ".zip")
CONFIG = """\
version: 1
project: acme
region: eu-west-1
artifacts: {{bucket: acme-artifacts}}
pipelines:
  github:
    verify: {{scheme: github, secret: ssm:/acme/github}}
    consumer: {{code: consumer}}
    ingress: {kind}
"""
KINDS = ("rest", "http", "function-url")


def compiled(folder: Path, kind: str, retiring: tuple[str, ...]) -> dict[str, Any]:
    (folder / "consumer").mkdir(exist_ok=True)
    (folder / "consumer" / "handler.py").write_text("def handle(webhook):\n    pass\n")
    (folder / "nami.yaml").write_text(CONFIG.format(kind=kind))
    config = load_config(folder / "nami.yaml")
    return dict(json.loads(render_template(config, config.pipelines["github"], CODE, retiring)))


def queue_targets(template: dict[str, Any]) -> dict[str, Any]:
    """Where each endpoint kind writes: all of them must name the pipeline's one queue."""
    resources = template["Resources"]
    found: dict[str, Any] = {}
    if "ApiPostMethod" in resources:
        uri = resources["ApiPostMethod"]["Properties"]["Integration"]["Uri"]["Fn::Sub"]
        found["rest"] = uri[1]["QueueName"]
    if "HttpApiQueueIntegration" in resources:
        parameters = resources["HttpApiQueueIntegration"]["Properties"]["RequestParameters"]
        found["http"] = parameters["QueueUrl"]
    if "IngestFunction" in resources:
        variables = resources["IngestFunction"]["Properties"]["Environment"]["Variables"]
        found["function-url"] = variables["NAMI_QUEUE_URL"]
    return found


@pytest.mark.parametrize(("current", "old"), list(itertools.permutations(KINDS, 2)))
def test_the_old_kind_stays_beside_the_new_one_writing_into_the_same_queue(
    tmp_path: Path, current: str, old: str
) -> None:
    plain = compiled(tmp_path, current, ())
    both = compiled(tmp_path, current, (old,))
    assert ingress_kinds(plain) == {current}
    assert ingress_kinds(both) == {current, old}
    # Everything of the plain template is unchanged: only the old endpoint's resources are added.
    added = set(both["Resources"]) - set(plain["Resources"])
    assert added and all(both["Resources"][k] == v for k, v in plain["Resources"].items())
    assert plain["Outputs"] == both["Outputs"]  # the endpoint URL output is the current kind's
    targets = queue_targets(both)
    assert set(targets) == {current, old}
    same_queue = {"Ref": "Queue"}, {"Fn::GetAtt": ["Queue", "QueueName"]}
    assert all(target in same_queue for target in targets.values()), targets
    assert both["Metadata"]["Nami"]["retiring_ingress"] == [old]
    assert "retiring_ingress" not in plain["Metadata"]["Nami"]
    assert deployed_kind(both) == current == deployed_kind(plain)


def test_templates_with_a_retiring_endpoint_pass_cfn_lint(tmp_path: Path) -> None:
    templates = {
        f"{current}-{old}": compiled(tmp_path, current, (old,))
        for current, old in itertools.permutations(KINDS, 2)
    }
    templates["all"] = compiled(tmp_path, "http", ("function-url", "rest"))
    assert_templates_lint_clean(templates, tmp_path)


def test_a_change_of_kind_is_said_once_and_loses_nothing(tmp_path: Path) -> None:
    deployed_rest = compiled(tmp_path, "rest", ())
    (tmp_path / "nami.yaml").write_text(CONFIG.format(kind="http"))
    pipeline = load_config(tmp_path / "nami.yaml").pipelines["github"]
    (warning,) = kind_change_warning(pipeline, deployed_rest)
    assert warning.kind == "endpoint-changed" and not warning.loses_messages
    assert "from `rest` to `http`" in warning.message
    assert "the old one stays live, writing into the same queue" in warning.message
    # After that deploy the deployed template is http with rest retiring: no change of kind.
    assert kind_change_warning(pipeline, compiled(tmp_path, "http", ("rest",))) == []
    assert kind_change_warning(pipeline, None) == []  # a create has no old URL
