"""What a consumer folder can hold that nami must refuse at a location, or package anyway,
without a traceback, a hang or unbounded memory (issue 22's held-out cases)."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from nami_action.errors import ConfigError, NamiError
from nami_action.package import MAX_UNZIPPED_BYTES, Artifact, build_artifact
from nami_action.package.archive import Entry, PackageError, write_zip

FAILING_PIP = ("false",)  # pip must not run in these tests: reaching it fails them
SECRET_LINE = "root:x:0:0:not-to-be-echoed"


def build(code: Path, cache: Path) -> Artifact:
    return build_artifact(
        code, architecture="arm64", python="3.12", cache_dir=cache, pip_command=FAILING_PIP
    )


@pytest.fixture
def code(tmp_path: Path) -> Path:
    folder = tmp_path / "repo" / "code"
    folder.mkdir(parents=True)
    (folder / "handler.py").write_text("def handle(webhook):\n    return None\n")
    return folder


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A file outside the repository, as /etc/passwd would be."""
    path = tmp_path / "passwd"
    path.write_text(f"{SECRET_LINE}\n")
    return path


def user_names(artifact: Artifact) -> list[str]:
    with zipfile.ZipFile(artifact.path) as archive:
        return [n for n in archive.namelist() if not n.startswith("nami_runtime/")]


def test_a_folder_a_thousand_levels_deep_is_packaged(code: Path, tmp_path: Path) -> None:
    """The recursive walk raised RecursionError (exit 70)."""
    folder = code
    for _ in range(1000):
        folder = folder / "d"
        folder.mkdir()
    (folder / "leaf.txt").write_text("x")
    try:
        names = user_names(build(code, tmp_path / "cache"))
        assert "/".join(["d"] * 1000) + "/leaf.txt" in names
    finally:  # shutil.rmtree (pytest's cleanup) recurses too: take the tree down from below
        (folder / "leaf.txt").unlink()
        while folder != code:
            folder.rmdir()
            folder = folder.parent


def test_a_file_name_that_is_not_utf8_is_refused_with_its_bytes(code: Path, tmp_path: Path) -> None:
    """A surrogate-escaped name reached the zip writer (UnicodeEncodeError, exit 70)."""
    os.close(os.open(os.fsencode(code) + b"/bad\xff.txt", os.O_CREAT | os.O_WRONLY))
    with pytest.raises(PackageError) as raised:
        build(code, tmp_path / "cache")
    assert "bad\\xff.txt has a name that is not UTF-8" in str(raised.value)
    (code / ".namiignore").write_text("bad*\n")
    assert user_names(build(code, tmp_path / "cache")) == ["handler.py"]


def test_requirements_that_are_not_utf8_are_an_error_at_their_line(
    code: Path, tmp_path: Path
) -> None:
    (code / "requirements.txt").write_bytes(b"# pinned\nsix==1.16.0 \xff\n")
    with pytest.raises(ConfigError) as raised:
        build(code, tmp_path / "cache")
    assert [str(p) for p in raised.value.problems] == [
        f"{code / 'requirements.txt'}:2:13: requirements.txt is not valid UTF-8 (byte 0xff)"
    ]


@pytest.mark.parametrize("ignored", [False, True])
def test_a_requirements_link_is_refused_and_never_read(
    code: Path, tmp_path: Path, outside: Path, ignored: bool
) -> None:
    """It was read (and handed to pip) even when .namiignore excluded it."""
    (code / "requirements.txt").symlink_to(outside)
    if ignored:
        (code / ".namiignore").write_text("requirements.txt\n")
    with pytest.raises(ConfigError) as raised:
        build(code, tmp_path / "cache")
    text = str(raised.value)
    assert "requirements.txt is a symbolic link" in text
    assert "root:" not in text


def test_a_namiignore_link_is_refused_and_never_read(
    code: Path, tmp_path: Path, outside: Path
) -> None:
    (code / ".namiignore").symlink_to(outside)
    with pytest.raises(ConfigError) as raised:
        build(code, tmp_path / "cache")
    assert str(raised.value) == (
        f"{code / '.namiignore'}:1:1: .namiignore is a symbolic link: nami reads only the "
        "consumer folder's own files; replace it with a copy of the file"
    )


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
@pytest.mark.parametrize("name", ["requirements.txt", ".namiignore"])
def test_a_fifo_in_place_of_a_read_file_is_refused_without_blocking(
    code: Path, tmp_path: Path, name: str
) -> None:
    os.mkfifo(code / name)
    with pytest.raises(ConfigError, match=rf"{name} is a named pipe \(FIFO\), not a regular"):
        build(code, tmp_path / "cache")


def test_a_folder_named_requirements_txt_is_only_packaged(code: Path, tmp_path: Path) -> None:
    (code / "requirements.txt").mkdir()
    (code / "requirements.txt" / "notes.md").write_text("x")
    assert "requirements.txt/notes.md" in user_names(build(code, tmp_path / "cache"))


def test_code_past_lambdas_unzipped_limit_is_refused_before_it_is_read(
    code: Path, tmp_path: Path
) -> None:
    """A 1 GiB file was read whole (1,094 MB RSS) and zipped. The file here is sparse and
    unreadable past its first byte if read (it is a hole): the refusal names it."""
    with (code / "model.bin").open("wb") as stream:
        stream.truncate(1024**3)
    with pytest.raises(PackageError) as raised:
        build(code, tmp_path / "cache")
    message = str(raised.value)
    assert f"Lambda allows {MAX_UNZIPPED_BYTES:,} (250 MB)" in message
    assert "The largest is model.bin (1,073,741,824 bytes)" in message
    assert not (tmp_path / "cache" / "artifacts").exists()  # nothing was zipped


def test_code_at_the_limit_is_packaged(code: Path, tmp_path: Path) -> None:
    size = MAX_UNZIPPED_BYTES - 200_000  # the handler and the runtime fit beside it
    with (code / "zeros.bin").open("wb") as stream:
        stream.truncate(size)
    artifact = build(code, tmp_path / "cache")
    with zipfile.ZipFile(artifact.path) as archive:
        assert archive.getinfo("zeros.bin").file_size == size
    assert artifact.size < 2_000_000  # zeros compress: the zip limit is not the unzipped one


def test_the_zip_holds_no_more_than_the_listed_size(tmp_path: Path) -> None:
    """A file that grows after the walk listed it (and was size-checked) is not zipped."""
    source = tmp_path / "grows.txt"
    source.write_bytes(b"x" * 10)
    entry = Entry("grows.txt", source, executable=False, size=10)
    write_zip([entry], tmp_path / "ok.zip")
    source.write_bytes(b"x" * 11)
    with pytest.raises(NamiError, match="changed while it was packaged"):
        write_zip([entry], tmp_path / "grown.zip")
