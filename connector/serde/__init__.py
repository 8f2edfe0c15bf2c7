"""Record value decoding: the one place that picks a decoder for a mapping's `format`."""

from __future__ import annotations

from connector.serde.json import JsonDeserializer

__all__ = ["JsonDeserializer"]
