"""The consumer zip is reproducible: it depends on paths, contents and exec bits only."""

from __future__ import annotations

import os
import shutil
import stat
import zipfile
from pathlib import Path

import pytest

from nami_action.errors import NamiError
from nami_action.package import ARTIFACT_PREFIX, Artifact, build_artifact, runtime_dir


def make_code(root: Path) -> Path:
    (root / "handlers").mkdir(parents=True)
    (root / "handlers" / "__init__.py").write_text("")
    (root / "handlers" / "github.py").write_text("def handle(webhook):\n    return None\n")
    (root / "app.py").write_text("from handlers.github import handle\n")
    (root / "data.json").write_bytes(b'{"k": 1}\n')
    return root


def build(code: Path, cache: Path, **kwargs: str) -> Artifact:
    options = {"architecture": "arm64", "python": "3.12", **kwargs}
    return build_artifact(code, cache_dir=cache, **options)  # type: ignore[arg-type]


def names(artifact: Artifact) -> list[str]:
    with zipfile.ZipFile(artifact.path) as zf:
        return zf.namelist()


def user_names(artifact: Artifact) -> list[str]:
    return [n for n in names(artifact) if not n.startswith("nami_runtime/")]


@pytest.fixture
def code(tmp_path: Path) -> Path:
    return make_code(tmp_path / "code")


def test_same_folder_twice_gives_identical_bytes(code: Path, tmp_path: Path) -> None:
    first = build(code, tmp_path / "cache1")
    first_bytes = first.path.read_bytes()
    second = build(code, tmp_path / "cache2")
    assert first.sha256 == second.sha256
    assert first_bytes == second.path.read_bytes()
    assert first.size == len(first_bytes)
    assert first.path.name == f"{first.sha256}.zip"
    assert first.s3_key == f"{ARTIFACT_PREFIX}{first.sha256}.zip"
    assert first.s3_key.startswith("nami/artifacts/")


def test_rebuild_into_same_cache_is_stable(code: Path, tmp_path: Path) -> None:
    first = build(code, tmp_path / "cache")
    second = build(code, tmp_path / "cache")
    assert first == second
    assert sorted(p.name for p in (tmp_path / "cache" / "artifacts").iterdir()) == [first.path.name]


def test_copy_elsewhere_gives_same_hash(code: Path, tmp_path: Path) -> None:
    other = tmp_path / "somewhere" / "else" / "entirely"
    shutil.copytree(code, other)  # new inodes, new mtimes, new absolute path
    assert build(code, tmp_path / "c1").sha256 == build(other, tmp_path / "c2").sha256


def test_mtime_alone_changes_nothing(code: Path, tmp_path: Path) -> None:
    before = build(code, tmp_path / "c1")
    os.utime(code / "app.py", (1_000_000_000, 1_000_000_000))
    os.utime(code / "handlers", (2_000_000_000, 2_000_000_000))
    assert build(code, tmp_path / "c2").sha256 == before.sha256


def test_one_byte_changes_the_hash(code: Path, tmp_path: Path) -> None:
    before = build(code, tmp_path / "c1")
    data = bytearray((code / "data.json").read_bytes())
    data[-2] ^= 1
    (code / "data.json").write_bytes(bytes(data))
    assert build(code, tmp_path / "c2").sha256 != before.sha256


def test_renaming_a_file_changes_the_hash(code: Path, tmp_path: Path) -> None:
    before = build(code, tmp_path / "c1")
    (code / "data.json").rename(code / "data2.json")
    assert build(code, tmp_path / "c2").sha256 != before.sha256


def test_exec_bit_changes_the_hash_and_is_recorded(code: Path, tmp_path: Path) -> None:
    before = build(code, tmp_path / "c1")
    script = code / "app.py"
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    after = build(code, tmp_path / "c2")
    assert after.sha256 != before.sha256
    with zipfile.ZipFile(after.path) as zf:
        modes = {i.filename: (i.external_attr >> 16) for i in zf.infolist()}
        assert modes["app.py"] == stat.S_IFREG | 0o755
        assert modes["data.json"] == stat.S_IFREG | 0o644
        assert all(i.create_system == 3 for i in zf.infolist())


def test_other_permission_bits_do_not_matter(code: Path, tmp_path: Path) -> None:
    before = build(code, tmp_path / "c1")
    (code / "data.json").chmod(0o600)
    (code / "app.py").chmod(0o664)
    assert build(code, tmp_path / "c2").sha256 == before.sha256


def test_entries_sorted_fixed_time_deflated(code: Path, tmp_path: Path) -> None:
    artifact = build(code, tmp_path / "cache")
    with zipfile.ZipFile(artifact.path) as zf:
        infos = zf.infolist()
        assert zf.testzip() is None
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.compress_type for i in infos} == {zipfile.ZIP_DEFLATED}
    assert not any(i.is_dir() for i in infos)


def test_builtin_exclusions(code: Path, tmp_path: Path) -> None:
    for junk in (
        "__pycache__/app.cpython-312.pyc",
        "handlers/__pycache__/x.pyc",
        ".git/HEAD",
        ".venv/bin/python",
        "sub/.venv/lib/x.py",
        ".DS_Store",
        "handlers/.DS_Store",
        "old.pyc",
        "handlers/stale.pyc",
    ):
        path = code / junk
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("junk")
    (code / "sub" / "keep.py").write_text("x = 1\n")
    assert user_names(build(code, tmp_path / "c")) == [
        "app.py",
        "data.json",
        "handlers/__init__.py",
        "handlers/github.py",
        "sub/keep.py",
    ]


def test_exclusions_do_not_change_the_hash(code: Path, tmp_path: Path) -> None:
    before = build(code, tmp_path / "c1")
    (code / "__pycache__").mkdir()
    (code / "__pycache__" / "app.cpython-312.pyc").write_bytes(b"\x00bytecode")
    assert build(code, tmp_path / "c2").sha256 == before.sha256


def test_namiignore(code: Path, tmp_path: Path) -> None:
    (code / "tests").mkdir()
    (code / "tests" / "test_app.py").write_text("")
    (code / "notes.md").write_text("")
    (code / "docs" / "api").mkdir(parents=True)
    (code / "docs" / "api" / "keep.md").write_text("")
    (code / "docs" / "drop.md").write_text("")
    (code / "handlers" / "local_settings.py").write_text("")
    (code / "build").write_text("a file named like a directory pattern")
    (code / ".namiignore").write_text(
        "# tests never ship\ntests/\n\n*.md\n!docs/api/*.md\n/handlers/local_*\nbuild/\n"
    )
    assert user_names(build(code, tmp_path / "c")) == [
        "app.py",
        "build",
        "data.json",
        "docs/api/keep.md",
        "handlers/__init__.py",
        "handlers/github.py",
    ]


def test_runtime_is_shipped_as_nami_runtime(code: Path, tmp_path: Path) -> None:
    artifact = build(code, tmp_path / "c")
    root = runtime_dir()
    expected = {
        f"nami_runtime/{p.relative_to(root).as_posix()}": p.read_bytes()
        for p in root.rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert expected, "the runtime has no .py files"
    with zipfile.ZipFile(artifact.path) as zf:
        shipped = {n: zf.read(n) for n in zf.namelist() if n.startswith("nami_runtime/")}
        modes = {(zf.getinfo(n).external_attr >> 16) & 0o777 for n in shipped}
    assert shipped == expected
    assert modes == {0o644}


def test_zip_is_importable(code: Path, tmp_path: Path) -> None:
    """What Lambda does: put the unzipped root on sys.path and import the handler module."""
    artifact = build(code, tmp_path / "c")
    out = tmp_path / "unzipped"
    with zipfile.ZipFile(artifact.path) as zf:
        zf.extractall(out)
    assert (out / "handlers" / "github.py").read_text().startswith("def handle")


def test_architecture_and_python_do_not_change_code_only_zip(code: Path, tmp_path: Path) -> None:
    a = build(code, tmp_path / "c1", architecture="arm64", python="3.12")
    b = build(code, tmp_path / "c2", architecture="x86_64", python="3.13")
    assert a.sha256 == b.sha256  # no requirements.txt: nothing platform-specific inside


def test_missing_code_dir(tmp_path: Path) -> None:
    with pytest.raises(NamiError, match="does not exist"):
        build(tmp_path / "nope", tmp_path / "c")


def test_code_dir_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "file.py").write_text("")
    with pytest.raises(NamiError, match="is not a folder"):
        build(tmp_path / "file.py", tmp_path / "c")


def test_empty_code_dir(tmp_path: Path) -> None:
    (tmp_path / "code" / "__pycache__").mkdir(parents=True)
    (tmp_path / "code" / "__pycache__" / "x.pyc").write_bytes(b"")
    with pytest.raises(NamiError, match="no files to package"):
        build(tmp_path / "code", tmp_path / "c")


def test_everything_ignored_is_empty(code: Path, tmp_path: Path) -> None:
    (code / ".namiignore").write_text("*\n")
    with pytest.raises(NamiError, match="no files to package"):
        build(code, tmp_path / "c")


def test_symlink_is_refused_with_its_path(code: Path, tmp_path: Path) -> None:
    (code / "link.py").symlink_to(code / "app.py")
    with pytest.raises(NamiError, match=r"link\.py is a symbolic link"):
        build(code, tmp_path / "c")


def test_ignored_symlink_is_fine(code: Path, tmp_path: Path) -> None:
    (code / "shared").symlink_to(tmp_path, target_is_directory=True)
    (code / ".namiignore").write_text("shared\n")
    assert "shared" not in " ".join(user_names(build(code, tmp_path / "c")))


def test_user_nami_runtime_folder_is_refused(code: Path, tmp_path: Path) -> None:
    (code / "nami_runtime").mkdir()
    (code / "nami_runtime" / "x.py").write_text("")
    with pytest.raises(NamiError, match="clashes with the nami runtime"):
        build(code, tmp_path / "c")


@pytest.mark.parametrize(
    ("options", "message"),
    [({"architecture": "amd64"}, "unknown Lambda architecture"), ({"python": "312"}, "3.12")],
)
def test_bad_options(code: Path, tmp_path: Path, options: dict[str, str], message: str) -> None:
    with pytest.raises(NamiError, match=message):
        build(code, tmp_path / "c", **options)


def test_no_stray_temp_files_in_cache(code: Path, tmp_path: Path) -> None:
    build(code, tmp_path / "c")
    leftovers = [p.name for p in (tmp_path / "c").rglob("*") if p.name.startswith(".")]
    assert leftovers == []
