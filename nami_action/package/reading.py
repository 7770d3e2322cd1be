"""The files nami itself reads from a consumer folder: `.namiignore` and `requirements.txt`.

Each must be the folder's own regular file. A symbolic link is refused, not followed: it could
name /etc/passwd or a file outside the repository, and nami must neither read that nor echo
it (the zip refuses links the same way). Anything but a regular file is refused too (a FIFO
would block), reads are bounded, and text that is not UTF-8 is an error at its line. Errors
name the file and the reason, never its content.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from nami_action.errors import ConfigError, Problem
from nami_action.files import NO_FOLLOW, OPEN_FLAGS, file_kind, read_at_most


def read_folder_file(path: Path, limit: int, display: str | None = None) -> bytes | None:
    """The bytes of `path`, or None when there is no such file (or a folder of that name);
    a ConfigError at `display`:1:1 when it is refused."""
    name = display or str(path)
    try:
        fd = os.open(path, OPEN_FLAGS | NO_FOLLOW)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP or path.is_symlink():
            raise _refused(
                name,
                f"{path.name} is a symbolic link: nami reads only the consumer folder's own "
                "files; replace it with a copy of the file",
            ) from None
        raise _refused(name, f"cannot read {path.name}: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            return None
        if not stat.S_ISREG(info.st_mode):
            raise _refused(name, f"{path.name} is {file_kind(info.st_mode)}, not a regular file")
        raw = read_at_most(fd, limit + 1)
    except OSError as exc:
        raise _refused(name, f"cannot read {path.name}: {exc.strerror}") from None
    finally:
        os.close(fd)
    if len(raw) > limit:
        raise _refused(name, f"{path.name} is larger than {limit // 1024} KiB")
    return raw


def decode_text(raw: bytes, display: str, what: str) -> str:
    """`raw` as UTF-8 (a BOM allowed); otherwise a ConfigError at the first bad byte."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        problem = f"{what} is not valid UTF-8 (byte 0x{raw[exc.start]:02x})"
        raise ConfigError([Problem(display, line, column, problem)]) from None


def _refused(name: str, message: str) -> ConfigError:
    return ConfigError([Problem(name, 1, 1, message)])
