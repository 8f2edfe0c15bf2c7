"""JSON record values: bytes -> dict, with a precise dead-letter reason for every failure."""

from __future__ import annotations

from typing import Any

import orjson

from connector.errors import DecodeError
from connector.records import SourceRecord


def decode_json_bytes(data: bytes | None, what: str = "value") -> Any:
    """Parse JSON bytes, raising DecodeError with a stable reason code."""
    if data is None:
        raise DecodeError("tombstone", f"record {what} is null (tombstone); there is nothing to send")
    if not data:
        raise DecodeError("empty-value", f"record {what} is empty (0 bytes)")
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        text = str(exc)
        if "UTF-8" in text:
            raise DecodeError("invalid-utf8", f"record {what} is not valid UTF-8: {text}") from None
        if "depth limit" in text or "recursion" in text:
            raise DecodeError("too-deep", f"record {what} nests JSON deeper than 1024 levels: {text}") from None
        raise DecodeError("invalid-json", f"record {what} is not valid JSON: {text}") from None


class JsonDeserializer:
    """A JSON object per record value (anything else is dead-lettered)."""

    def __call__(self, record: SourceRecord) -> Any:
        value = decode_json_bytes(record.value)
        if not isinstance(value, dict):
            raise DecodeError("not-an-object", f"record value is JSON {type(value).__name__}, expected an object")
        return value
