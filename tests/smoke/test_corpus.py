"""The smoke check's deployable config and request corpus, checked without AWS: the config
passes `nami validate`, every probe verifies (or fails to) with the runtime's own verify(),
and the sizes sit on the right side of the queue's limit."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from nami_action.config import Config, load_config
from nami_action.envelope import IncomingRequest, encode_envelope
from nami_action.runtime.verify import verify
from nami_action.runtime.webhook import Headers

from .aws_smoke import EXAMPLES, prepare, targets
from .corpus import (
    GROUP_HEADER,
    HTTP_PIPELINE,
    MIB,
    PROBE_HANDLER,
    Probe,
    build_corpus,
    smoke_config,
)
from .smoke_probe import PROBE_HEADER

PROJECT = "nami-smoke-abc123"
NOW = 1_760_000_000.0


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Config, dict[str, str]]:
    path, wanted = prepare(tmp_path_factory.mktemp("smoke") / "project", PROJECT)
    return load_config(path), wanted


@pytest.fixture(scope="module")
def corpus(prepared: tuple[Config, dict[str, str]]) -> list[Probe]:
    config, wanted = prepared
    return build_corpus(targets(config, wanted), PROJECT, NOW)


def test_config_is_the_example_made_safe(prepared: tuple[Config, dict[str, str]]) -> None:
    config, wanted = prepared
    original = load_config(EXAMPLES / "nami.yaml")
    assert config.project == PROJECT
    # Plus an `ingress: http` copy of the github pipeline, for the HTTP API's cases.
    assert set(config.pipelines) == {*original.pipelines, HTTP_PIPELINE}
    http = config.pipelines[HTTP_PIPELINE].spec
    assert (http.ingress, http.verify, http.dedupe) == (
        "http",
        config.pipelines["github"].spec.verify,
        config.pipelines["github"].spec.dedupe,
    )
    for name, pipeline in config.pipelines.items():
        if name == HTTP_PIPELINE:
            continue
        assert pipeline.spec.consumer.handler == PROBE_HANDLER
        assert pipeline.spec.alarms.email == []
        assert pipeline.spec.queue.fifo == original.pipelines[name].spec.queue.fifo
        if pipeline.spec.queue.fifo:
            assert pipeline.spec.queue.group_by == f"header:{GROUP_HEADER}"
        code = config.base_dir / pipeline.spec.consumer.code
        assert (code / "smoke_probe.py").is_file()
    text = Path(config.file).read_text()
    assert "oncall@" not in text
    assert text.count("ssm:/") == text.count(f"ssm:/{PROJECT}/")
    assert text.count("secretsmanager:") == text.count(f"secretsmanager:{PROJECT}/")
    assert wanted and all(PROJECT in reference for reference in wanted)
    assert all(reference in text for reference in wanted)
    assert len(set(wanted.values())) == len(wanted)  # one fresh secret each


def test_references_are_renamed_once_each() -> None:
    text = (
        "version: 1\nproject: p\npipelines:\n  a:\n    verify: {scheme: github, secret: ssm:/x}\n"
        "    consumer: {code: c, environment: {T: 'ssm:/x', U: secretsmanager:y/z}}\n"
    )
    made: list[str] = []
    new, wanted = smoke_config(text, "run", lambda ref: made.append(ref) or f"v{len(made)}")
    assert wanted == {"ssm:/run/x": "v1", "secretsmanager:run/y/z": "v2"}
    assert "ssm:/run/x" in new and "secretsmanager:run/y/z" in new


def headers_of(probe: Probe) -> Headers:
    return Headers(probe.headers)


def test_every_probe_verifies_except_the_forged_one(
    prepared: tuple[Config, dict[str, str]], corpus: list[Probe]
) -> None:
    settings = {t.pipeline: t.verify for t in targets(*prepared)}
    for probe in corpus:
        result = verify(settings[probe.pipeline], headers_of(probe), probe.body, NOW)
        assert result.ok == (not probe.name.endswith("bad-signature")), probe.name


def test_probes_are_distinct_and_cover_the_adversarial_cases(corpus: list[Probe]) -> None:
    by_name = {p.name.removeprefix(PROJECT + "-"): p for p in corpus}
    assert len(by_name) == len(corpus)
    assert {p.headers[PROBE_HEADER] for p in corpus} == {p.name for p in corpus}
    assert by_name["no-content-type"].content_type is None
    assert by_name["json-charset"].content_type == "application/json; charset=utf-8"
    assert "boundary=" in str(by_name["multipart"].content_type)
    assert by_name["binary"].body == bytes(range(256)) * 64
    assert (by_name["800KiB"].status, by_name["image"].status) == (413, 415)
    first, second = by_name["dup-1"], by_name["dup-2"]
    assert first.headers["x-amzn-RequestId"] == second.headers["x-amzn-RequestId"]
    assert first.body != second.body and first.pipeline == second.pipeline
    assert GROUP_HEADER not in by_name["no-group"].headers


def envelope_size(probe: Probe) -> int:
    request = IncomingRequest(
        method="POST",
        path="/live/partners/warehouse",
        headers=probe.headers,
        body=probe.body,
        source_ip="203.0.113.10",
        request_id="Zx1aGEaboAMF0aQ=",
        received_at_ms=1_760_000_000_000,
    )
    return len(encode_envelope(request).encode())


def test_sizes_sit_on_either_side_of_the_queue_limit(corpus: list[Probe]) -> None:
    by_name = {p.name.removeprefix(PROJECT + "-"): p for p in corpus}
    assert len(by_name["largest"].body) > 700 * 1024
    assert envelope_size(by_name["largest"]) <= MIB
    assert envelope_size(by_name["800KiB"]) > MIB


def test_prepare_copies_without_touching_the_example(tmp_path: Path) -> None:
    before = (EXAMPLES / "nami.yaml").read_bytes()
    prepare(tmp_path / "p", PROJECT)
    assert (EXAMPLES / "nami.yaml").read_bytes() == before
    assert not list(EXAMPLES.rglob("smoke_probe.py"))
    shutil.rmtree(tmp_path / "p")


def test_bodies_carry_raw_utf8_and_headers_stay_ascii(corpus: list[Probe]) -> None:
    by_name = {p.name.removeprefix(PROJECT + "-"): p for p in corpus}
    assert "caf\u00e9".encode() in by_name["json-charset"].body
    for probe in corpus:
        assert all(f"{k}{v}".isascii() for k, v in probe.headers.items()), probe.name
