"""`environments`: each one's resolved view of the pipelines, and located errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from nami_action.config import load_config
from nami_action.errors import ConfigError

BASE = """\
version: 1
project: acme
region: eu-west-1
tags: {team: platform}
defaults:
  consumer: {memory: 512}
pipelines:
  github:
    verify: {scheme: github, secret: "ssm:/acme/github"}
    consumer: {code: consumers/github, max_concurrency: 5}
  stripe:
    verify: {scheme: stripe, secret: "ssm:/acme/stripe"}
    consumer: {code: consumers/stripe}
"""

ENVIRONMENTS = """\
environments:
  staging:
    region: eu-central-1
    account: "123456789012"
    pipelines: [github, stripe]
    tags: {stage: staging}
    overrides:
      defaults:
        consumer: {max_concurrency: 2, memory: 1024}
      pipelines:
        stripe:
          verify: {secret: "ssm:/acme/staging/stripe"}
  production:
    account: "210987654321"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "nami.yaml"
    path.write_text(text)
    return path


def problems(path: Path, env: str | None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path, env=env)
    return [f"{p.line}:{p.column} {p.message}" for p in caught.value.problems]


def test_without_environments_nothing_changes(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, BASE))
    assert config.project == "acme"
    assert config.environment is None and config.account is None
    assert [p.stack_name for p in config.pipelines.values()] == ["acme-github", "acme-stripe"]


def test_environment_view_merges_overrides(tmp_path: Path) -> None:
    path = write(tmp_path, BASE + ENVIRONMENTS)
    staging = load_config(path, env="staging")
    assert staging.environment == "staging"
    assert staging.environments == ("staging", "production")
    assert staging.account == "123456789012"
    assert staging.region == "eu-central-1"
    assert staging.tags == {"team": "platform", "stage": "staging"}
    github, stripe = staging.pipelines["github"], staging.pipelines["stripe"]
    assert github.stack_name == "acme-staging-github"
    # the pipeline's own key beats the environment's defaults; the rest comes from them
    assert github.spec.consumer.max_concurrency == 5
    assert github.spec.consumer.memory == 1024
    assert stripe.spec.consumer.max_concurrency == 2
    assert stripe.spec.verify.secret == "ssm:/acme/staging/stripe"
    assert stripe.spec.verify.scheme == "stripe"

    production = load_config(path, env="production")
    assert production.region == "eu-west-1"
    assert production.account == "210987654321"
    assert production.pipelines["stripe"].stack_name == "acme-production-stripe"
    assert production.pipelines["stripe"].spec.consumer.max_concurrency == 10
    assert production.pipelines["stripe"].spec.verify.secret == "ssm:/acme/stripe"


def test_pipeline_subset(tmp_path: Path) -> None:
    text = BASE + "environments:\n  staging:\n    pipelines: [stripe]\n"
    assert list(load_config(write(tmp_path, text), env="staging").pipelines) == ["stripe"]


def test_no_env_selected_names_the_environments(tmp_path: Path) -> None:
    found = problems(write(tmp_path, BASE + ENVIRONMENTS), None)
    assert found == [
        "14:1 this file defines environments (`staging`, `production`): choose one with "
        "--env NAME (or NAMI_ENV; in the GitHub Action, the `environment` input)"
    ]


def test_unknown_env_has_did_you_mean(tmp_path: Path) -> None:
    found = problems(write(tmp_path, BASE + ENVIRONMENTS), "prodution")
    assert len(found) == 1
    assert "no environment `prodution`; did you mean `production`?" in found[0]
    assert found[0].startswith("14:1 ")


def test_env_without_environments_is_an_error(tmp_path: Path) -> None:
    found = problems(write(tmp_path, BASE), "staging")
    assert len(found) == 1 and "defines no `environments`" in found[0]


def test_unknown_pipeline_in_subset_and_overrides(tmp_path: Path) -> None:
    text = BASE + (
        "environments:\n"
        "  staging:\n"
        "    pipelines: [github, strip]\n"
        "    overrides:\n"
        "      pipelines:\n"
        "        githb: {consumer: {memory: 1024}}\n"
    )
    found = problems(write(tmp_path, text), "staging")
    assert found == [
        "16:25 environment `staging`: no pipeline `strip`; did you mean `stripe`?",
        "19:9 environment `staging`: no pipeline `githb` to override; did you mean `github`?",
    ]


def test_override_errors_point_at_the_override(tmp_path: Path) -> None:
    text = BASE + (
        "environments:\n"
        "  staging:\n"
        "    account: 12345\n"
        "    region: europe\n"
        "    overrides:\n"
        "      defaults:\n"
        "        consumer: {max_concurency: 3}\n"
        "      pipelines:\n"
        "        stripe:\n"
        "          consumer: {memory: 64}\n"
    )
    found = problems(write(tmp_path, text), "staging")
    assert any(f.startswith("16:14 ") and "account" in f for f in found), found
    assert any(f.startswith("17:13 ") and "region" in f for f in found), found
    assert any(
        f.startswith("20:20 ")
        and "unknown key `max_concurency`; did you mean `max_concurrency`" in f
        for f in found
    ), found
    assert any(f.startswith("23:30 ") and "memory" in f for f in found), found


def test_rule_on_merged_value_points_at_the_override(tmp_path: Path) -> None:
    text = BASE + (
        "environments:\n"
        "  staging:\n"
        "    overrides:\n"
        "      pipelines:\n"
        "        stripe:\n"
        "          consumer: {batch_size: 50}\n"
    )
    found = problems(write(tmp_path, text), "staging")
    assert found == [
        "19:34 pipeline `stripe`: batch_size above 10 needs consumer.batching_window of at "
        "least 1s (an AWS rule)"
    ]


def test_other_environments_are_checked_too(tmp_path: Path) -> None:
    text = BASE + (
        "environments:\n"
        "  staging: {}\n"
        "  production:\n"
        "    overrides:\n"
        "      pipelines:\n"
        "        stripe: {consumer: {batch_size: 50}}\n"
    )
    found = problems(write(tmp_path, text), "staging")
    assert len(found) == 1 and found[0].startswith("19:41 ")


def test_override_verify_may_change_the_scheme(tmp_path: Path) -> None:
    text = BASE + (
        "environments:\n"
        "  staging:\n"
        "    overrides:\n"
        "      pipelines:\n"
        "        github: {verify: {scheme: none}}\n"
    )
    found = problems(write(tmp_path, text), "staging")
    # `none` takes no secret: the merged pipeline's error is at the pipeline's own secret
    assert any(f.startswith("9:30 ") and "unknown key `secret`" in f for f in found), found


def test_queue_name_length_with_the_environment(tmp_path: Path) -> None:
    project = "p" * 30
    pipeline = "q" * 40
    text = (
        f"version: 1\nproject: {project}\npipelines:\n  {pipeline}:\n"
        "    verify: {scheme: none}\n    queue: {fifo: true}\n    consumer: {code: c}\n"
        "environments:\n  stage:\n    account: '123456789012'\n"
    )
    path = write(tmp_path, text)
    found = problems(path, "stage")
    assert len(found) == 1
    assert found[0].startswith("9:3 environment `stage`: pipeline `" + pipeline)
    assert "(86 characters); SQS allows 80" in found[0]


def test_environment_tags_count_towards_the_limit(tmp_path: Path) -> None:
    tags = "".join(f"      t{i}: v\n" for i in range(35))
    text = BASE + "environments:\n  staging:\n    tags:\n" + tags
    load_config(write(tmp_path, text), env="staging")  # 36 + nami's own: within 50
    more = "".join(f"      u{i}: v\n" for i in range(15))
    found = problems(write(tmp_path, text + more), "staging")
    # each pipeline's error is at the environment's tags, which pushed it over
    assert len(found) == 2 and all(f.startswith("16:5 ") for f in found), found
    assert all("AWS allows at most 50" in f for f in found), found


def test_reserved_tag_key_in_environment(tmp_path: Path) -> None:
    text = BASE + "environments:\n  staging:\n    tags: {'nami:x': y}\n"
    found = problems(write(tmp_path, text), "staging")
    assert any("keys starting with `nami:` are set by nami" in f for f in found), found


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "nami-environments.yaml"


def test_the_environments_example_validates_for_each_environment() -> None:
    staging = load_config(EXAMPLE, env="staging")
    production = load_config(EXAMPLE, env="production")
    assert staging.pipelines["stripe"].stack_name == "acme-webhooks-staging-stripe"
    assert staging.pipelines["stripe"].spec.consumer.max_concurrency == 2
    assert production.pipelines["stripe"].spec.consumer.max_concurrency == 20
    assert (staging.account, production.account) == ("111111111111", "222222222222")


def test_an_empty_subset_is_refused(tmp_path: Path) -> None:
    text = BASE + "environments:\n  staging:\n    pipelines: []\n"
    found = problems(write(tmp_path, text), "staging")
    assert len(found) == 1 and found[0].startswith("16:16 "), found


def test_a_problem_of_some_environments_names_them(tmp_path: Path) -> None:
    """`--env production` reported staging's `fifo: true` as if it were production's."""
    text = BASE.replace(
        "consumer: {code: consumers/stripe}",
        "consumer: {code: consumers/stripe, batch_size: 50, batching_window: 5s}",
    )
    text += ENVIRONMENTS.replace(
        '          verify: {secret: "ssm:/acme/staging/stripe"}',
        "          queue: {fifo: true}",
    )
    text += "  qa: {}\n"
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, display_name="nami.yaml", env="production")
    assert [str(p) for p in caught.value.problems] == [
        "nami.yaml:13:52: environment `staging`: pipeline `stripe`: FIFO queues deliver at "
        "most 10 records per batch",
        "nami.yaml:13:73: environment `staging`: pipeline `stripe`: FIFO queues do not "
        "support a batching window",
    ]


def test_a_problem_of_every_environment_names_none(tmp_path: Path) -> None:
    text = BASE.replace(
        "consumer: {code: consumers/stripe}", "consumer: {code: consumers/stripe, batch_size: 50}"
    )
    path = write(tmp_path, text + ENVIRONMENTS)
    with pytest.raises(ConfigError) as caught:
        load_config(path, display_name="nami.yaml", env="production")
    assert [p.message for p in caught.value.problems] == [
        "pipeline `stripe`: batch_size above 10 needs consumer.batching_window of at least 1s "
        "(an AWS rule)"
    ]
