"""`nami bootstrap` deploys to the region nami.yaml names, as `nami deploy` will (moto server)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from nami_action.aws.artifacts import bootstrap_bucket
from nami_action.aws.session import Aws, AwsTarget
from nami_action.cli import cli
from nami_action.compile.bootstrap import DEFAULT_STACK_NAME

pytestmark = pytest.mark.emulator

CONFIG = (
    "version: 1\nproject: acme\nregion: {region}\npipelines:\n"
    "  gh:\n    verify: {{scheme: none}}\n    consumer: {{code: src}}\n"
)


def bucket_in(emulator: str, region: str) -> str | None:
    return bootstrap_bucket(
        Aws(AwsTarget(region=region, endpoint_url=emulator)), DEFAULT_STACK_NAME
    )


def write_config(folder: Path, region: str) -> Path:
    (folder / "src").mkdir(exist_ok=True)
    path = folder / "nami.yaml"
    path.write_text(CONFIG.format(region=region))
    return path


def test_region_from_dot_nami_yaml(
    emulator: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(tmp_path, "eu-west-2")
    monkeypatch.chdir(tmp_path)  # the environment says us-east-1 (fixture)
    result = CliRunner().invoke(cli, ["bootstrap"])
    assert result.exit_code == 0, result.output
    assert "(eu-west-2)" in result.output
    assert bucket_in(emulator, "eu-west-2")
    assert bucket_in(emulator, "us-east-1") is None


def test_region_from_a_config_argument_and_region_option_wins(
    emulator: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path, "ap-southeast-2")
    monkeypatch.chdir(tmp_path.parent)
    assert CliRunner().invoke(cli, ["bootstrap", str(config)]).exit_code == 0
    assert bucket_in(emulator, "ap-southeast-2")
    result = CliRunner().invoke(cli, ["bootstrap", str(config), "--region", "eu-north-1"])
    assert result.exit_code == 0, result.output
    assert bucket_in(emulator, "eu-north-1")


def test_without_nami_yaml_the_environment_region(
    emulator: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["bootstrap"])
    assert result.exit_code == 0, result.output
    assert bucket_in(emulator, "us-east-1")


def test_a_named_config_that_is_missing_or_broken_is_one_clear_error(
    emulator: str, tmp_path: Path
) -> None:
    result = CliRunner().invoke(cli, ["bootstrap", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 1 and "file not found" in result.output
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\nproject: acme\nregion: nowhere\npipelines: {}\n")
    result = CliRunner().invoke(cli, ["bootstrap", str(broken)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert bucket_in(emulator, "us-east-1") is None
