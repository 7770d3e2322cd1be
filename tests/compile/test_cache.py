"""The template cache: a hit is byte-identical, every input misses, a bad entry is recompiled."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from nami_action.compile import CodeLocation, cache, compile_config
from nami_action.compile import render as compile_step
from nami_action.compile.pipeline import render_template
from nami_action.config import Config, PipelineConfig, load_config

ROOT = Path(__file__).parents[2]
CODE = CodeLocation("artifacts-bucket", "nami/artifacts/" + "0" * 64 + ".zip")


@pytest.fixture(autouse=True)
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This user's cache folder (where the cache's secret lives), in a temporary folder."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home-cache"))
    return tmp_path / "home-cache"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the example project, so the cache lands in a temporary folder."""
    shutil.copytree(ROOT / "examples", tmp_path / "project", ignore=shutil.ignore_patterns(".nami"))
    return tmp_path / "project" / "nami.yaml"


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The stack names compile_config actually rendered (the others came from the cache)."""
    rendered: list[str] = []

    def counting(config: Config, pipeline: PipelineConfig, code: CodeLocation) -> str:
        rendered.append(pipeline.stack_name)
        return render_template(config, pipeline, code)

    monkeypatch.setattr(compile_step, "render_template", counting)
    return rendered


def compile_file(path: Path, code: CodeLocation = CODE) -> dict[str, str]:
    config = load_config(path)
    return compile_config(config, dict.fromkeys(config.pipelines, code))


def packs(path: Path) -> list[Path]:
    return sorted((path.parent / ".nami" / "cache" / "templates").glob("*.pack"))


def pack_entries(pack: Path) -> list[tuple[bytes, str, bytes]]:
    """(signature, key, template) of each entry, read as the module docstring describes."""
    data, found = pack.read_bytes(), []
    while data:
        header, _, rest = data.partition(b"\n")
        signature, key, length = header.split(b" ")
        found.append((signature, key.decode(), rest[: int(length)]))
        data = rest[int(length) :]
    return found


def test_a_hit_is_byte_identical_to_a_fresh_compile(project: Path, renders: list[str]) -> None:
    config = load_config(project)
    uncached = compile_config(config, dict.fromkeys(config.pipelines, CODE), use_cache=False)
    first = compile_file(project)
    renders.clear()
    second = compile_file(project)
    assert renders == []
    assert second == first == uncached
    (pack,) = packs(project)
    # Entries are stored by key (the same bytes whatever rendered first).
    assert sorted(body.decode() for _, _, body in pack_entries(pack)) == sorted(first.values())


def test_only_the_changed_pipeline_is_rendered(project: Path, renders: list[str]) -> None:
    compile_file(project)
    renders.clear()
    text = project.read_text()
    # A comment at the top moves every line, which is not an input of any template.
    project.write_text("# moved\n" + text.replace("max_concurrency: 5 ", "max_concurrency: 6 ", 1))
    after = compile_file(project)
    assert renders == ["acme-webhooks-github"]
    assert '"MaximumConcurrency": 6' in after["acme-webhooks-github"]


def _edit(old: str, new: str) -> Callable[[Path], None]:
    def edit(path: Path) -> None:
        text = path.read_text()
        assert old in text, old
        path.write_text(text.replace(old, new, 1))

    return edit


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(_edit("project: acme-webhooks", "project: acme-hooks"), id="project"),
        pytest.param(_edit("region: eu-west-1", "region: eu-central-1"), id="region"),
        pytest.param(_edit("team: platform", "team: payments"), id="tags"),
        pytest.param(
            _edit("region: eu-west-1", "region: eu-west-1\nartifacts:\n  bucket: other-bucket"),
            id="artifacts",
        ),
        pytest.param(_edit("timeout: 30s", "timeout: 25s"), id="defaults"),
        pytest.param(_edit("backlog_age: 15m", "backlog_age: 20m"), id="defaults alarms"),
        pytest.param(_edit("max_receive_count: 8", "max_receive_count: 9"), id="pipeline"),
    ],
)
def test_an_edit_rerenders_every_template_it_changes(
    project: Path, renders: list[str], edit: Callable[[Path], None]
) -> None:
    before = compile_file(project)
    renders.clear()
    edit(project)
    after = compile_file(project)
    config = load_config(project)
    fresh = compile_config(config, dict.fromkeys(config.pipelines, CODE), use_cache=False)
    assert after == fresh
    changed = {stack for stack, text in after.items() if before.get(stack) != text}
    assert renders, "the edit did not reach the key"
    assert changed <= set(renders)


@pytest.mark.parametrize(
    "code",
    [
        CodeLocation("artifacts-bucket", "nami/artifacts/" + "1" * 64 + ".zip"),
        CodeLocation("another-bucket", CODE.key),
        CodeLocation(None, CODE.key),
    ],
    ids=["code hash", "bucket", "bucket parameter"],
)
def test_the_code_location_is_in_the_key(
    project: Path, renders: list[str], code: CodeLocation
) -> None:
    compile_file(project)
    renders.clear()
    changed = compile_file(project, code)
    assert len(renders) == len(changed)
    assert changed == compile_config(
        load_config(project), dict.fromkeys(load_config(project).pipelines, code), use_cache=False
    )


@pytest.mark.parametrize(
    ("module", "name", "value"),
    [
        (cache, "__version__", "99.0.0"),
        (cache.troposphere, "__version__", "0.0.1"),
        (cache, "_sources_digest", lambda: "edited nami sources"),
    ],
    ids=["nami version", "troposphere version", "nami sources"],
)
def test_the_rendering_code_is_in_the_key(
    project: Path, monkeypatch: pytest.MonkeyPatch, module: object, name: str, value: object
) -> None:
    config = load_config(project)
    pipeline = next(iter(config.pipelines.values()))
    before = cache.key(cache.config_key(config), pipeline, CODE)
    monkeypatch.setattr(module, name, value)
    assert cache.key(cache.config_key(config), pipeline, CODE) != before


def test_each_pipeline_setting_is_in_the_key(project: Path) -> None:
    config = load_config(project)
    pipeline = next(iter(config.pipelines.values()))
    shared = cache.config_key(config)
    before = cache.key(shared, pipeline, CODE)
    spec = pipeline.spec
    variants = [
        spec.model_copy(update={"description": "changed"}),
        spec.model_copy(
            update={
                "consumer": spec.consumer.model_copy(update={"memory": spec.consumer.memory + 64})
            }
        ),
        spec.model_copy(
            update={"queue": spec.queue.model_copy(update={"fifo": not spec.queue.fifo})}
        ),
        spec.model_copy(update={"tags": {"extra": "tag"}}),
    ]
    keys = {
        cache.key(shared, PipelineConfig(**{**pipeline.__dict__, "spec": s}), CODE)
        for s in variants
    }
    for field, value in [("name", "other"), ("stack_name", "shop-other"), ("path", "/x")]:
        keys.add(cache.key(shared, PipelineConfig(**{**pipeline.__dict__, field: value}), CODE))
    assert before not in keys
    assert len(keys) == len(variants) + 3


def test_the_cache_holds_only_the_last_compile(project: Path, renders: list[str]) -> None:
    compile_file(project)
    (pack,) = packs(project)
    keys = {key for _, key, _ in pack_entries(pack)}
    _edit("max_concurrency: 5 ", "max_concurrency: 6 ")(project)
    compile_file(project)
    after = {key for _, key, _ in pack_entries(pack)}
    assert len(after) == len(keys) == len(load_config(project).pipelines)
    assert len(after - keys) == 1
    before = pack.stat().st_mtime_ns
    renders.clear()
    compile_file(project)
    assert renders == []
    assert pack.stat().st_mtime_ns == before  # nothing changed: nothing written


EVERY_PIPELINE = -1


@pytest.mark.parametrize(
    ("damage", "rerendered"),
    [
        (lambda data: data[: len(data) // 2], None),
        (lambda data: data.replace(b'"Resources"', b'"Resourcez"', 1), 1),
        (lambda data: b"", EVERY_PIPELINE),
        (lambda data: b"\xff\xfe" + data, 1),  # the first signature is garbage
        (lambda data: data.replace(b"\n", b"9\n", 1), EVERY_PIPELINE),  # length runs past the end
    ],
    ids=["truncated", "edited", "empty", "garbage", "bad length"],
)
def test_a_damaged_cache_is_recompiled_and_rewritten(
    project: Path, renders: list[str], damage: Callable[[bytes], bytes], rerendered: int | None
) -> None:
    first = compile_file(project)
    (pack,) = packs(project)
    good = pack.read_bytes()
    pack.write_bytes(damage(good))
    renders.clear()
    assert compile_file(project) == first
    assert renders
    if rerendered == EVERY_PIPELINE:
        assert len(renders) == len(first)
    elif rerendered is not None:
        assert len(renders) == rerendered
    assert pack.read_bytes() == good


def test_an_entry_not_written_on_this_machine_is_not_trusted(
    project: Path, renders: list[str], cache_home: Path
) -> None:
    """E.g. a cache committed to the repository: signed with another secret."""
    honest = compile_file(project)
    (pack,) = packs(project)
    planted = cache.TemplateCache(pack, secret=b"x" * cache.SECRET_BYTES)
    for _, key, body in pack_entries(pack):
        planted.render(key, lambda body=body: body.decode().replace("Nami", "Evil"))
    planted.save()
    assert b"Evil" in pack.read_bytes()
    renders.clear()
    assert compile_file(project) == honest
    assert len(renders) == len(honest)
    assert b"Evil" not in pack.read_bytes()
    assert (cache_home / "nami" / cache.SECRET_FILE).stat().st_mode & 0o077 == 0


def test_without_a_place_for_the_secret_nothing_is_cached(
    project: Path, renders: list[str], cache_home: Path
) -> None:
    cache_home.write_text("a file where the folder should be")
    first = compile_file(project)
    assert compile_file(project) == first
    assert len(renders) == 2 * len(first)
    assert packs(project) == []


def test_an_unwritable_cache_still_compiles(project: Path, renders: list[str]) -> None:
    (project.parent / ".nami").mkdir()
    (project.parent / ".nami" / "cache").write_text("a file where the folder should be")
    first = compile_file(project)
    second = compile_file(project)
    assert first == second
    assert len(renders) == 2 * len(first)
