"""Reading a file named by user input without blocking, following what it should not, or
reading more than a bound: shared by the loader (nami.yaml) and the package step (the files
nami reads from a consumer folder)."""

from __future__ import annotations

import os
import stat

# Opened without blocking (a FIFO with no writer would wait forever), never as a terminal.
OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
)
# ...and, for a file that must be the folder's own, without following a final symbolic link.
NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0)


def read_at_most(fd: int, limit: int) -> bytes:
    """Up to `limit` bytes, whatever fstat said (a file may grow, /proc files say 0)."""
    chunks: list[bytes] = []
    left = limit
    while left > 0:
        chunk = os.read(fd, min(left, 256 * 1024))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def file_kind(mode: int) -> str:
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((text for test, text in kinds if test(mode)), "a special file")
