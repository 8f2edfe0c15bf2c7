"""Values quoted in messages are shortened: a 1 MB field must not become a 1 MB error, log line or header.

Every message that shows a record's value (a schema violation, a timestamp that does not parse,
a function's bad input) goes through `quote`; free text of unknown length through `shorten`.
"""

from __future__ import annotations

from typing import Any

QUOTE_LIMIT = 80


def _split(limit: int) -> tuple[int, int]:
    keep = max(limit - 20, 8)
    return keep - keep // 4, keep // 4


def shorten(text: str, limit: int = QUOTE_LIMIT) -> str:
    """`text` when at most `limit` characters, else its start and end around `...[N chars]...`."""
    if len(text) <= limit:
        return text
    head, tail = _split(limit)
    return f"{text[:head]}...[{len(text) - head - tail} chars]...{text[len(text) - tail :]}"


def quote(value: Any, limit: int = QUOTE_LIMIT) -> str:
    """`repr(value)`, shortened; a long string or bytes is cut before it is repr'd (no 1 MB copy)."""
    if isinstance(value, str | bytes) and len(value) > limit:
        head, tail = _split(limit)
        unit = "chars" if isinstance(value, str) else "bytes"
        return f"{value[:head]!r}...[{len(value) - head - tail} {unit}]...{value[len(value) - tail :]!r}"
    return shorten(repr(value), limit)
