"""How `dlq inspect` shows a dead letter's key, value and headers: never raw bytes on the terminal.

A value is decoded the way the worker reads its source topic when that needs a schema: Avro
through the schema registry (Confluent framing) or with the mapping's local .avsc (avro-plain).
A Confluent-framed value or key of a topic no Avro mapping reads is decoded through the registry
when one is configured. Everything else is shown as it is when it is UTF-8 text (JSON values
included), else as binary: hex in the text view, base64 in `--json`, each marked as such. Every
string printed is terminal-safe (control characters, C1 codes and other non-printables escaped
as \\uXXXX, which is also valid JSON) and long ones are shortened.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from connector.config import Settings
from connector.errors import ConfigError, DecodeError, FatalError, RetriableError
from connector.numbers import json_default
from connector.ops.dlq import DeadLetter
from connector.quoting import shorten
from connector.records import SourceRecord
from connector.serde.avro import HEADER_SIZE, MAGIC, PlainAvroDeserializer, decode_framed

TEXT_LIMIT = 500
HEX_BYTES = 64
Lookup = Callable[[int], Any]


def terminal_safe(text: str, *, keep_newlines: bool = False) -> str:
    """`text` with every non-printable character (C0/C1 controls, DEL, bidi overrides...) as \\uXXXX."""
    if text.isprintable():
        return text
    out: list[str] = []
    for ch in text:
        if ch.isprintable() or (keep_newlines and ch == "\n"):
            out.append(ch)
            continue
        code = ord(ch)
        if code > 0xFFFF:  # a surrogate pair, as JSON writes it
            code -= 0x10000
            out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
        else:
            out.append(f"\\u{code:04x}")
    return "".join(out)


def _default(v: Any) -> Any:
    if isinstance(v, bytes | bytearray):
        return "base64:" + base64.b64encode(bytes(v)).decode()
    return json_default(v)  # exact decimals


def to_json(v: Any, *, indent: bool = False) -> str:
    """Decoded values as JSON text (exact decimals, dates ISO 8601, bytes as base64:...), terminal-safe."""
    raw = orjson.dumps(v, default=_default, option=orjson.OPT_INDENT_2 if indent else None)
    return terminal_safe(raw.decode(), keep_newlines=indent)


@dataclass(frozen=True, slots=True)
class Shown:
    """One key, value or header as `dlq inspect` prints it."""

    encoding: str  # null | text | avro | binary
    size: int  # bytes as stored in the dead-letter topic
    text: str  # terminal-safe, shortened: what the text view prints
    data: Any  # for --json: the text, the decoded Avro, or {"base64": ...}
    note: str | None = None  # why a decode was not possible
    schema: str | None = None  # avro: which writer schema decoded it
    escaped: bool = False  # text with control characters, printed as \uXXXX

    def label(self) -> str:
        parts = [self.encoding, *([self.schema] if self.schema else []), f"{self.size} bytes"]
        if self.encoding == "binary":
            parts.append("hex")
        if self.escaped:
            parts.append("control characters as \\uXXXX")
        return ", ".join(parts)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"encoding": self.encoding, "bytes": self.size}
        if self.schema:
            out["schema"] = self.schema
        out["base64" if self.encoding == "binary" else "value"] = self.data
        if self.note:
            out["note"] = self.note
        return out


def raw(data: bytes | None, note: str | None = None) -> Shown:
    """Bytes shown as they are: UTF-8 text when they are text, else binary (hex / base64)."""
    if data is None:
        return Shown("null", 0, "null", None, note)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        more = f" ...[{len(data) - HEX_BYTES} more bytes]" if len(data) > HEX_BYTES else ""
        return Shown("binary", len(data), data[:HEX_BYTES].hex(" ") + more, base64.b64encode(data).decode(), note)
    shown = terminal_safe(shorten(text, TEXT_LIMIT))
    return Shown("text", len(data), shown, text, note, escaped=not text.isprintable())


def _avro(data: bytes, value: Any, schema: str, note: str | None = None) -> Shown:
    return Shown("avro", len(data), shorten(to_json(value), TEXT_LIMIT), value, note, schema)


def _framed(data: bytes | None) -> int | None:
    if data is None or len(data) <= HEADER_SIZE or data[0] != MAGIC:
        return None
    return int.from_bytes(data[1:HEADER_SIZE], "big")


class DeadLetterView:
    """Decoders for the source topics of the config's Avro mappings: the registry, or a local schema."""

    def __init__(self, settings: Settings, lookup: Lookup | None = None) -> None:
        self._mappings: list[Any] = []
        self._plain: dict[str, PlainAvroDeserializer] = {}
        self._lookup = lookup
        self._lookup_problem: str | None = None
        if lookup is None:
            self._lookup, self._lookup_problem = _registry_lookup(settings)
        with contextlib.suppress(ConfigError, FatalError, ValueError):  # shown anyway, without schema decoding
            self._load(settings)

    def _load(self, settings: Settings) -> None:
        from connector.mapping import compile_mappings

        compiled, _ = compile_mappings(settings.mappings, settings.aep)
        self._mappings = [m for m in compiled if m.format in ("avro", "avro-plain")]
        for m in self._mappings:
            if m.format == "avro-plain" and m.avro_schema_path is not None:
                with contextlib.suppress(ValueError):
                    self._plain[m.name] = PlainAvroDeserializer.from_file(m.avro_schema_path)

    def _mapping(self, topic: str | None) -> Any | None:
        from connector.ops.produce import mapping_for

        return mapping_for(topic, self._mappings) if topic else None

    def value(self, dl: DeadLetter) -> Shown:
        data = dl.value
        if data is None:
            return raw(None)
        mapping = self._mapping(dl.source_topic)
        plain = self._plain.get(mapping.name) if mapping is not None else None
        if plain is not None and mapping is not None:
            record = SourceRecord(dl.source_topic or "", dl.partition, dl.offset, dl.key, data, tuple(dl.headers))
            try:
                return _avro(data, plain(record), f"{mapping.name}'s avro_schema")
            except DecodeError as exc:
                return raw(data, f"does not decode with the avro_schema of mapping {mapping.name}: {_why(exc)}")
        if (mapping is not None and mapping.format == "avro") or _framed(data) is not None:
            return self._registry(data, "value")
        return raw(data)

    def key(self, dl: DeadLetter) -> Shown:
        return self._registry(dl.key, "key") if _framed(dl.key) is not None else raw(dl.key)

    def _registry(self, data: bytes | None, what: str) -> Shown:
        """Confluent-framed Avro through the registry; the bytes with the reason when that fails."""
        assert data is not None
        if self._lookup is None:
            return raw(data, f"looks like Confluent-framed Avro (schema id {_framed(data)}); {self._lookup_problem}")
        try:
            return _avro(data, decode_framed(data, self._lookup, what), f"schema id {_framed(data)}")
        except (DecodeError, RetriableError, FatalError) as exc:
            return raw(data, f"does not decode as Confluent-framed Avro: {_why(exc)}")


def header(value: bytes | None) -> Shown:
    return raw(value)


def _why(exc: Exception) -> str:
    reason = getattr(exc, "reason", None)
    return shorten(f"{reason}: {exc}" if reason else str(exc), 300)


def _registry_lookup(settings: Settings) -> tuple[Lookup | None, str | None]:
    if not settings.schema_registry.url:
        return None, "set schema_registry.url to decode it"
    from connector.serde.registry import RegistryClient

    try:
        return RegistryClient.from_settings(settings.schema_registry).writer_schema, None
    except ValueError as exc:
        return None, str(exc)
