"""Records given on the command line: JSON lines or one JSON array, from a file or stdin."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO, Any

from connector.numbers import json_bytes
from connector.serde.json import loads_exact

_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def read_values(stream: IO[str]) -> Iterator[tuple[int, bytes, Any, str | None]]:
    """(index, raw bytes, decoded value or None, decode error or None) per input record.

    A JSON line's raw bytes are the line as given, so a producer can send exactly those bytes.
    """
    text = stream.read()
    if text.lstrip().startswith("["):
        try:
            values = loads_exact(text.encode())
        except (ValueError, RecursionError) as exc:
            yield 0, text.encode(), None, f"input is not a valid JSON array: {exc}"
            return
        for i, value in enumerate(values):
            yield i, json_bytes(value), value, None
        return
    index = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        raw = line.encode()
        try:
            yield index, raw, loads_exact(raw), None
        except (ValueError, RecursionError) as exc:
            yield index, raw, None, f"invalid JSON: {exc}"
        index += 1


def lookup_path(value: Any, path: str) -> Any:
    """`a.b[0].c` in nested dicts and lists; None when any step is missing."""
    current = value
    for name, index in _SEGMENT.findall(path):
        if name:
            current = current.get(name) if isinstance(current, dict) else None
        else:
            i = int(index)
            current = current[i] if isinstance(current, list) and i < len(current) else None
        if current is None:
            return None
    return current
