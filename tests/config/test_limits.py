"""AWS limits at validate time, counted with what the compiler adds, at the key to change."""

from __future__ import annotations

from pathlib import Path

import pytest

from nami_action.compile.consumer import CodeLocation
from nami_action.compile.limits import environment_bytes, resource_count
from nami_action.compile.names import resource_tags
from nami_action.compile.pipeline import build_template
from nami_action.config import Config, PipelineConfig
from nami_action.config import load_config as load_config_without_measure
from nami_action.config.limits import (
    FIXED_RESOURCES_AT_MOST,
    MAX_ENVIRONMENT_BYTES,
    MAX_RESOURCES,
    MAX_TAGS,
    NAMI_TAGS_AT_MOST,
    ROUTE_RESOURCES_AT_MOST,
    environment_bytes_at_most,
    resources_at_most,
)
from nami_action.config.models import bucket_name_problem
from nami_action.config.routes import logical_prefix
from nami_action.errors import ConfigError
from nami_action.measure import COMPILER

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "nami.yaml"
RICH = """version: 1
project: a-long-project-name-here
tags: {team: platform}
pipelines:
  rich:
    path: /a/b/c/d
    verify:
      scheme: hmac-sha256
      secret: secretsmanager:some/rather/long/secret-name-for-the-signature
      header: X-Signature-Of-The-Body
      prefix: "sha256="
    dedupe: {json_path: $.data.object.id, window: 3d}
    queue: {fifo: true}
    consumer:
      code: src
      environment:
        ONE_TOKEN: ssm:/a/b/c/one
        TWO_TOKEN: ssm:/a/b/c/two
        PLAIN: "ü€𝄞 text"
    alarms: {email: [a@x.io, b@x.io, c@x.io]}
    tags: {owner: me}
  bare:
    verify: {scheme: none}
    consumer: {code: src}
"""


def load_config(path: Path, display_name: str | None = None) -> Config:
    """As the commands and the Action load it: with the compiler's exact figures."""
    return load_config_without_measure(path, display_name, measure=COMPILER)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "nami.yaml"
    path.write_text(text)
    (tmp_path / "src").mkdir(exist_ok=True)
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), display_name="nami.yaml")
    return [str(p) for p in caught.value.problems]


def every_pipeline(tmp_path: Path) -> list[tuple[Config, PipelineConfig]]:
    everything = ROOT / "tests" / "compile" / "everything" / "nami.yaml"
    configs = [load_config(EXAMPLE), load_config(write(tmp_path, RICH)), load_config(everything)]
    return [(config, pipeline) for config in configs for pipeline in config.pipelines.values()]


def test_cheap_bounds_hold_for_the_compiled_pipelines(tmp_path: Path) -> None:
    for config, pipeline in every_pipeline(tmp_path):
        template = build_template(config, pipeline, CodeLocation(None, "artifact"))
        compiled = len(template.resources)
        assert resource_count(config, pipeline) == compiled
        emails = len(pipeline.spec.alarms.email)
        segments = len([s for s in pipeline.path.split("/") if s])
        routes = ROUTE_RESOURCES_AT_MOST * len(pipeline.spec.routes or {})
        assert compiled - emails - segments - routes <= FIXED_RESOURCES_AT_MOST, pipeline.name
        for route in pipeline.spec.routes or {}:
            own = [t for t in template.resources if t.startswith(logical_prefix(route))]
            assert 0 < len(own) <= ROUTE_RESOURCES_AT_MOST, (pipeline.name, route)
        assert resources_at_most(pipeline) >= compiled
        assert environment_bytes_at_most(pipeline) >= environment_bytes(config, pipeline)
        added = len(resource_tags(config, pipeline)) - len({**config.tags, **pipeline.spec.tags})
        assert 0 < added <= NAMI_TAGS_AT_MOST


def test_environment_bytes_counts_what_the_template_sets(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, RICH))
    pipeline = config.pipelines["rich"]
    template = build_template(config, pipeline, CodeLocation(None, "artifact")).to_dict()
    variables = template["Resources"]["Consumer"]["Properties"]["Environment"]["Variables"]
    literal = sum(
        len(k.encode()) + len(v.encode()) for k, v in variables.items() if isinstance(v, str)
    )
    references = [k for k, v in variables.items() if not isinstance(v, str)]
    assert "NAMI_CONFIG" in variables and "PLAIN" in variables
    assert environment_bytes(config, pipeline) == literal + sum(len(k) + 160 for k in references)


def environment_config(value_bytes: int) -> str:
    return (
        "version: 1\nproject: acme\npipelines:\n  hook:\n    verify: {scheme: none}\n"
        f"    consumer:\n      code: src\n      environment:\n        BIG: {'x' * value_bytes}\n"
    )


def test_environment_of_exactly_4_kib_passes_and_one_byte_more_fails(tmp_path: Path) -> None:
    probe = load_config(write(tmp_path, environment_config(1)))
    others = environment_bytes(probe, probe.pipelines["hook"]) - 1
    fitting = MAX_ENVIRONMENT_BYTES - others
    config = load_config(write(tmp_path, environment_config(fitting)))
    assert environment_bytes(config, config.pipelines["hook"]) == MAX_ENVIRONMENT_BYTES
    found = problems(tmp_path, environment_config(fitting + 1))
    assert found == [
        "nami.yaml:8:7: pipeline `hook`: the consumer's environment would be 4,097 bytes "
        "(names and values, with what nami adds: NAMI_CONFIG holds the handler, verify and "
        "dedupe settings and the secret references); Lambda allows 4,096: move large values "
        "to SSM or Secrets Manager references"
    ]


def test_inherited_environment_is_blamed_on_defaults(tmp_path: Path) -> None:
    text = (
        "version: 1\nproject: acme\ndefaults:\n  consumer:\n    environment:\n"
        f"      BIG: {'x' * 4000}\n"
        "pipelines:\n  hook:\n    verify: {scheme: none}\n    consumer: {code: src}\n"
    )
    [found] = problems(tmp_path, text)
    assert found.startswith("nami.yaml:5:5: pipeline `hook`: the consumer's environment")


def tags_config(top: int, own: int) -> str:
    top_tags = "".join(f"\n  t{i}: v" for i in range(top)) or " {}"
    own_tags = "".join(f"\n      p{i}: v" for i in range(own)) or " {}"
    return (
        f"version: 1\nproject: acme\ntags:{top_tags}\npipelines:\n  hook:\n"
        f"    verify: {{scheme: none}}\n    consumer: {{code: src}}\n    tags:{own_tags}\n"
    )


def test_fifty_tags_with_nami_own_pass_and_one_more_fails(tmp_path: Path) -> None:
    probe = load_config(write(tmp_path, tags_config(1, 0)))
    added = len(resource_tags(probe, probe.pipelines["hook"])) - 1
    fitting = MAX_TAGS - added
    config = load_config(write(tmp_path, tags_config(fitting - 10, 10)))
    assert len(resource_tags(config, config.pipelines["hook"])) == MAX_TAGS
    found = problems(tmp_path, tags_config(fitting - 10, 11))
    own_line = 3 + (fitting - 10) + 5
    assert found == [
        f"nami.yaml:{own_line}:5: pipeline `hook`: its resources would carry 51 tags "
        f"({added} set by nami, the rest from `tags` and `pipelines.hook.tags`); AWS allows "
        "at most 50 per resource"
    ]


def test_too_many_project_tags_point_at_the_top_level_tags(tmp_path: Path) -> None:
    [found] = problems(tmp_path, tags_config(60, 0))
    assert found.startswith("nami.yaml:3:1: pipeline `hook`: its resources would carry 63 tags")


def emails_config(count: int) -> str:
    emails = "".join(f"\n          - oncall+{i}@acme.example" for i in range(count)) or " []"
    return (
        "version: 1\nproject: acme\npipelines:\n  hook:\n    verify: {scheme: none}\n"
        f"    consumer: {{code: src}}\n    alarms:\n        email:{emails}\n"
    )


def test_resource_limit_is_counted_on_the_compiled_template(tmp_path: Path) -> None:
    probe = load_config(write(tmp_path, emails_config(0)))
    base = resource_count(probe, probe.pipelines["hook"])
    assert base is not None
    fitting = MAX_RESOURCES - base
    config = load_config(write(tmp_path, emails_config(fitting)))
    assert resource_count(config, config.pipelines["hook"]) == MAX_RESOURCES
    [found] = problems(tmp_path, emails_config(fitting + 1))
    assert found == (
        "nami.yaml:8:9: pipeline `hook`: its stack would hold more than 500 resources, the "
        "most CloudFormation allows (one resource per alarm e-mail and per path segment): "
        "send alarms to a mailing list instead of many addresses"
    )


def test_duplicate_alarm_emails_ignore_case(tmp_path: Path) -> None:
    text = (
        "version: 1\nproject: acme\ndefaults:\n  alarms:\n    email: [a@x.io, b@x.io, A@X.io]\n"
        "pipelines:\n  hook:\n    verify: {scheme: none}\n    consumer: {code: src}\n"
        "  two:\n    verify: {scheme: none}\n    consumer: {code: src}\n"
    )
    assert problems(tmp_path, text) == [
        "nami.yaml:5:29: duplicate alarm e-mail (also item 1 of this list): each address is "
        "subscribed once"
    ]


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("my-bucket", None),
        ("my.bucket.example", None),
        ("ab", "must be 3-63"),
        ("a" * 64, "must be 3-63"),
        ("My-Bucket", "must be 3-63"),
        ("my_bucket", "must be 3-63"),
        ("-bucket", "must be 3-63"),
        ("bucket-", "must be 3-63"),
        ("my..bucket", "two adjacent periods"),
        ("192.168.5.4", "IP address"),
        ("xn--bucket", "start with `xn--`"),
        ("sthree-bucket", "start with `sthree-`"),
        ("amzn-s3-demo-bucket", "start with `amzn-s3-demo-`"),
        ("bucket-s3alias", "end with `-s3alias`"),
        ("bucket--ol-s3", "end with `--ol-s3`"),
        ("bucket.mrap", "end with `.mrap`"),
        ("bucket--x-s3", "end with `--x-s3`"),
        ("bucket--table-s3", "end with `--table-s3`"),
    ],
)
def test_bucket_name_rules(name: str, problem: str | None) -> None:
    found = bucket_name_problem(name)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


@pytest.mark.parametrize("version", ["true", "1.0", "'1'", "2", "0x1 # hex is 1 too"])
def test_version_is_exactly_the_integer_one(tmp_path: Path, version: str) -> None:
    text = (
        f"version: {version}\nproject: acme\npipelines:\n  hook:\n"
        "    verify: {scheme: none}\n    consumer: {code: src}\n"
    )
    found = problems(tmp_path, text) if version != "0x1 # hex is 1 too" else None
    if found is None:  # YAML 1.2 reads 0x1 as the integer 1: that is `version: 1`
        assert load_config(write(tmp_path, text)).project == "acme"
        return
    assert found == ["nami.yaml:1:10: `version`: must be the integer 1 (`version: 1`)"]


def test_artifact_bucket_option_follows_the_same_rules(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from nami_action.cli import cli

    path = write(tmp_path, tags_config(0, 0))
    result = CliRunner().invoke(
        cli, ["compile", str(path), "--artifact-bucket", "bucket--ol-s3", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "`bucket--ol-s3` is not a valid S3 bucket name: must not end with `--ol-s3`" in (
        result.output
    )


def test_without_the_compilers_figures_only_those_limits_are_left_out(tmp_path: Path) -> None:
    """The language does not import the compiler: a caller that compiles passes its figures."""
    path = write(tmp_path, environment_config(5000))
    assert load_config_without_measure(path).pipelines["hook"]
    with pytest.raises(ConfigError):
        load_config(path)


def test_the_config_package_does_not_import_the_compiler() -> None:
    import ast

    for source in (ROOT / "nami_action" / "config").glob("*.py"):
        tree = ast.parse(source.read_text())
        imported = [
            node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
        ] + [
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        ]
        assert not [m for m in imported if m.startswith("nami_action.compile")], source.name
