"""The bundle: built once without credentials, then read only if every digest still holds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from nami_action.cli import cli
from nami_action.config import load_config
from nami_action.package.bundle import BundleError, build_bundle, read_bundle

CONFIG = """\
version: 1
project: acme
artifacts: {bucket: acme-artifacts}
pipelines:
  hooks:
    verify: {scheme: none}
    consumer:
      code: consumer
  other:
    verify: {scheme: none}
    consumer:
      code: consumer
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "consumer").mkdir(parents=True)
    (root / "consumer" / "handler.py").write_text("def handle(w):\n    pass\n")
    (root / "nami.yaml").write_text(CONFIG)
    return root


def test_the_same_inputs_give_the_same_digest(project: Path, tmp_path: Path) -> None:
    config = load_config(project / "nami.yaml")
    first = build_bundle(config, tmp_path / "one")
    second = build_bundle(config, tmp_path / "two")
    assert first.digest == second.digest and len(first.digest) == 64
    assert set(first.artifacts) == {"hooks", "other"}
    assert first.artifacts["hooks"].sha256 == first.artifacts["other"].sha256  # one folder
    manifest = json.loads((tmp_path / "one" / "manifest.json").read_text())
    assert manifest["pipelines"]["hooks"]["template"]["path"] == (
        "templates/acme-hooks.template.json"
    )


@pytest.mark.parametrize("what", ["zip", "template"])
def test_an_altered_file_is_refused_by_name(project: Path, tmp_path: Path, what: str) -> None:
    config = load_config(project / "nami.yaml")
    bundle = build_bundle(config, tmp_path / "b")
    path = tmp_path / "b" / bundle.manifest["pipelines"]["hooks"][what]["path"]
    path.write_bytes(path.read_bytes() + b" ")
    with pytest.raises(BundleError, match=rf"hooks: {what} .* has SHA-256 [0-9a-f]{{12}}, not"):
        read_bundle(tmp_path / "b", config)


def test_a_bundle_of_another_config_is_refused(project: Path, tmp_path: Path) -> None:
    config = load_config(project / "nami.yaml")
    build_bundle(config, tmp_path / "b")
    (project / "nami.yaml").write_text(CONFIG.replace("acme-artifacts", "other-artifacts"))
    with pytest.raises(BundleError, match=r"built from another nami\.yaml than this checkout's"):
        read_bundle(tmp_path / "b", load_config(project / "nami.yaml"))
    with pytest.raises(BundleError, match="no readable bundle"):
        read_bundle(tmp_path / "missing", config)


def test_nami_package_prints_the_digests_and_plan_reads_the_bundle(
    project: Path, tmp_path: Path
) -> None:
    out = tmp_path / "bundle"
    result = CliRunner().invoke(cli, ["package", str(project / "nami.yaml"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    digest = read_bundle(out, load_config(project / "nami.yaml")).digest
    assert f"bundle {digest} in {out}" in result.output
    assert "hooks: zip " in result.output
    (out / "manifest.json").write_text("{}")
    refused = CliRunner().invoke(cli, ["plan", str(project / "nami.yaml"), "--bundle", str(out)])
    assert refused.exit_code == 1 and "is not a nami-bundle-v1 manifest" in refused.output
