"""Durations (`30s`, `15m`, `4d`, or seconds) and sizes (`256KiB`, `1MiB`, or bytes)."""

from __future__ import annotations

import re

DURATION_PATTERN = r"^[0-9]+(s|m|h|d)$"
SIZE_PATTERN = r"^[0-9]+(B|KiB|MiB)$"

_DURATION = re.compile(DURATION_PATTERN)
_SIZE = re.compile(SIZE_PATTERN)
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_BYTES = {"B": 1, "KiB": 1024, "MiB": 1024 * 1024}


def parse_duration(value: object) -> object:
    """Seconds as an int; anything unparseable is returned unchanged for the type check to name."""
    if isinstance(value, str):
        match = _DURATION.fullmatch(value)  # as the schema's pattern: no spaces, no newline
        if not match:
            raise ValueError(f"`{value}` is not a duration: write 30s, 15m, 12h, 4d or seconds")
        return int(value[:-1]) * _SECONDS[match.group(1)]
    return value


def parse_size(value: object) -> object:
    """Bytes as an int; accepts `256KiB`, `1MiB`, `512B` or a plain integer."""
    if isinstance(value, str):
        match = _SIZE.fullmatch(value)
        if not match:
            raise ValueError(f"`{value}` is not a size: write 256KiB, 1MiB or bytes")
        unit = match.group(1)
        return int(value[: -len(unit)]) * _BYTES[unit]
    return value


def format_duration(seconds: int) -> str:
    """The shortest exact spelling: 86400 -> `1d`, 90 -> `90s`."""
    for unit in ("d", "h", "m"):
        if seconds and seconds % _SECONDS[unit] == 0:
            return f"{seconds // _SECONDS[unit]}{unit}"
    return f"{seconds}s"


def format_size(size: int) -> str:
    for unit in ("MiB", "KiB"):
        if size and size % _BYTES[unit] == 0:
            return f"{size // _BYTES[unit]}{unit}"
    return f"{size}B"


def format_about(seconds: int) -> str:
    """A rough duration for people, two units at most: 15300 -> `4 h 15 m`, 90 -> `1 m 30 s`."""
    units = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
    for index, (name, size) in enumerate(units[:-1]):
        if seconds >= size:
            smaller, small_size = units[index + 1]
            whole, rest = divmod(round(seconds / small_size) * small_size, size)
            return f"{whole} {name}" + (f" {rest // small_size} {smaller}" if rest else "")
    return f"{seconds} s"
