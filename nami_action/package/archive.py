"""Walk a folder into archive entries and write them as a byte-for-byte reproducible zip.

The bytes of the zip depend only on each entry's archive path, content and executable bit:
entries are sorted, every timestamp is 1980-01-01 00:00 (the zip epoch), permissions are
0644 or 0755, the "made by" system is always Unix, and the deflate level is fixed.
"""

from __future__ import annotations

import os
import stat
import sys
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, BinaryIO

from nami_action.errors import NamiError
from nami_action.package.ignore import IGNORE_FILE, IgnoreRules

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
COMPRESSION = zipfile.ZIP_DEFLATED
COMPRESS_LEVEL = 9
FILE_MODE = 0o644
EXEC_MODE = 0o755
UNIX = 3  # ZipInfo.create_system: 3 = Unix, so unzip and Lambda honour the mode bits

# Never shipped, at any depth: build leftovers, VCS data, local virtualenvs, tool caches
# (nami's own `.nami` among them: they change between runs, and would change the zip's key),
# Finder litter.
EXCLUDED_NAMES = frozenset(
    {
        "__pycache__",
        ".git",
        ".venv",
        ".nami",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".hypothesis",
        ".DS_Store",
    }
)
EXCLUDED_SUFFIXES = (".pyc", ".pyo")


class PackageError(NamiError):
    """The consumer code cannot be packaged."""


@dataclass(frozen=True, order=True)
class Entry:
    """One file of the archive: where it goes, where it comes from, its exec bit and its size
    when it was listed (the zip holds exactly that many bytes of it)."""

    name: str
    source: Path
    executable: bool
    size: int = field(default=0, compare=False)


def collect_tree(
    root: Path,
    *,
    prefix: str = "",
    rules: IgnoreRules | None = None,
    label: str = "",
    skip: frozenset[Path] = frozenset(),
) -> list[Entry]:
    """Every file under `root` that should ship, as entries named `prefix` + relative path.

    Symbolic links are refused rather than followed: following one can pull in files from
    outside the folder (so the archive would depend on the machine), and Lambda needs none.
    Folders in `skip` (absolute, resolved paths like `root`'s) are left out whole. The walk
    keeps its own stack (a folder 1,000 levels deep is as good as any) and reads no content.
    """
    rules = rules or IgnoreRules()
    label = label or str(root)
    entries: list[Entry] = []
    pending: list[tuple[Path, str]] = [(root, "")]
    while pending:
        directory, rel_dir = pending.pop()
        folders: list[tuple[Path, str]] = []
        for item in _listing(directory, label, rel_dir):
            rel = f"{rel_dir}{item.name}"
            if item.name in EXCLUDED_NAMES or item.name.endswith(EXCLUDED_SUFFIXES):
                continue
            if not rel_dir and item.name == IGNORE_FILE:
                continue
            is_dir = item.is_dir(follow_symlinks=False)
            if rules.ignored(rel, is_dir):
                continue
            _check_name(label, rel)
            if item.is_symlink():
                raise PackageError(
                    f"{label}/{rel} is a symbolic link: nami does not follow links, so that a "
                    "zip only depends on the folder's own files. Replace it with a copy of "
                    f"what it points to, or exclude it in {IGNORE_FILE}."
                )
            if is_dir:
                if Path(item.path) not in skip:
                    folders.append((Path(item.path), f"{rel}/"))
            elif item.is_file(follow_symlinks=False):
                info = item.stat(follow_symlinks=False)
                executable = bool(info.st_mode & 0o111)
                entries.append(Entry(prefix + rel, Path(item.path), executable, info.st_size))
            else:
                raise PackageError(
                    f"{label}/{rel} is not a regular file ({stat.filemode(item.stat().st_mode)}); "
                    f"remove it or exclude it in {IGNORE_FILE}"
                )
        pending.extend(reversed(folders))  # depth first, in name order, as a recursion would
    return entries


def _listing(directory: Path, label: str, rel_dir: str) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(directory) as scan:
            return sorted(scan, key=lambda item: item.name)
    except OSError as exc:
        raise PackageError(f"cannot read {label}/{_shown(rel_dir)}: {exc.strerror}") from None


def _check_name(label: str, rel: str) -> None:
    """A zip entry name is UTF-8 text; a name the file system holds as other bytes has none."""
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        raise PackageError(
            f"{label}/{_shown(rel)} has a name that is not UTF-8: rename it, or exclude it in "
            f"{IGNORE_FILE}"
        ) from None


def _shown(rel: str) -> str:
    """A path as text, its undecodable bytes written `\\xff`."""
    return os.fsencode(rel).decode("utf-8", "backslashreplace")


def check_unique(groups: Iterable[tuple[str, list[Entry]]]) -> None:
    """Refuse two sources for the same archive path, naming both sides."""
    owner: dict[str, str] = {}
    clashes: list[str] = []
    for group, entries in groups:
        for entry in entries:
            if entry.name in owner:
                clashes.append(f"{entry.name} (from {owner[entry.name]} and {group})")
            else:
                owner[entry.name] = group
    if clashes:
        more = f" and {len(clashes) - 5} more" if len(clashes) > 5 else ""
        shown = ", ".join(clashes[:5]) + more
        raise PackageError(f"the same path would be in the zip twice: {shown}")


def write_zip(entries: Iterable[Entry], dest: Path) -> None:
    """Write `entries` to `dest`, reproducibly (see the module docstring), a chunk at a time:
    each file is read as it is compressed, never whole, and no more than its listed size."""
    with zipfile.ZipFile(dest, "w", compression=COMPRESSION, compresslevel=COMPRESS_LEVEL) as zf:
        for entry in sorted(entries):
            info = zipfile.ZipInfo(entry.name, date_time=ZIP_EPOCH)
            info.create_system = UNIX
            mode = EXEC_MODE if entry.executable else FILE_MODE
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.compress_type = COMPRESSION
            info.file_size = entry.size
            setattr(info, _LEVEL_ATTRIBUTE, COMPRESS_LEVEL)  # what writestr(compresslevel=) sets
            with entry.source.open("rb") as source, zf.open(info, "w") as target:
                _copy(source, target, entry)


# ZipInfo's compression level: `_compresslevel` until Python 3.13 named it `compress_level`.
_LEVEL_ATTRIBUTE = "compress_level" if sys.version_info >= (3, 13) else "_compresslevel"
_CHUNK = 1024 * 1024


def _copy(source: BinaryIO, target: IO[bytes], entry: Entry) -> None:
    left = entry.size
    while left > 0:
        chunk = source.read(min(left, _CHUNK))
        if not chunk:
            break
        target.write(chunk)
        left -= len(chunk)
    if left or source.read(1):
        raise PackageError(f"{entry.source} changed while it was packaged; run again")
