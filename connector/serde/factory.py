"""Pick the decoder for each mapping's `format` (and `key_format: avro`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import requests

from connector.config import Settings
from connector.interfaces import Deserializer
from connector.serde.avro import AvroDeserializer, PlainAvroDeserializer
from connector.serde.json import JsonDeserializer
from connector.serde.keys import KEY_FORMATS, WithAvroKey
from connector.serde.registry import RegistryClient

FORMATS = ("json", "avro", "avro-plain")


def build_deserializers(
    mappings: Sequence[Any], settings: Settings, session: requests.Session | None = None
) -> tuple[dict[str, Deserializer], list[str]]:
    """One decoder per mapping name, plus every problem found (e.g. unreadable schema files).

    All mappings share one registry client, so each schema id is fetched once per process.
    No network request is made here.
    """
    out: dict[str, Deserializer] = {}
    problems: list[str] = []
    registry: RegistryClient | None = None

    def need_registry(name: str, what: str) -> RegistryClient | None:
        nonlocal registry
        if registry is None:
            try:
                registry = RegistryClient.from_settings(settings.schema_registry, session)
            except ValueError:
                problems.append(f"mapping {name}: {what} needs schema_registry.url to be set")
                return None
        return registry

    for mp in mappings:
        fmt = mp.format
        deserializer: Deserializer | None = None
        if fmt == "json":
            deserializer = JsonDeserializer()
        elif fmt == "avro":
            client = need_registry(mp.name, "format avro")
            deserializer = None if client is None else AvroDeserializer(client.writer_schema)
        elif fmt == "avro-plain":
            deserializer = _plain(mp, problems)
        else:
            problems.append(f"mapping {mp.name}: unknown format {fmt!r} (expected one of {', '.join(FORMATS)})")
        key_format = getattr(mp, "key_format", "string")
        if key_format not in KEY_FORMATS:
            problems.append(
                f"mapping {mp.name}: unknown key_format {key_format!r} (expected one of {', '.join(KEY_FORMATS)})"
            )
            deserializer = None
        elif key_format == "avro":
            client = need_registry(mp.name, "key_format avro")
            if client is None or deserializer is None:
                deserializer = None
            else:
                deserializer = WithAvroKey(deserializer, client.writer_schema)
        if deserializer is not None:
            out[mp.name] = deserializer
    return out, problems


def _plain(mp: Any, problems: list[str]) -> Deserializer | None:
    path: Path | None = getattr(mp, "avro_schema_path", None)
    if path is None:
        problems.append(f"mapping {mp.name}: format avro-plain needs avro_schema (the writer schema's .avsc file)")
        return None
    try:
        return PlainAvroDeserializer.from_file(Path(path))
    except ValueError as exc:
        problems.append(f"mapping {mp.name}: {exc}")
        return None
