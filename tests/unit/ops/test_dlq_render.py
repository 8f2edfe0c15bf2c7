"""`dlq inspect` rendering: terminal-safe text, binary as hex/base64, Avro decoded by registry or local schema."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import fastavro
import pytest

from connector.config import parse_settings
from connector.errors import DecodeError
from connector.ops.dlq import DeadLetter
from connector.ops.dlq_render import DeadLetterView, raw, terminal_safe, to_json

REPO = Path(__file__).resolve().parents[3]
AVSC = REPO / "connector" / "samples" / "loyalty-event.avsc"
SCHEMA = fastavro.parse_schema(json.loads(AVSC.read_text()))
EVENT = {"event_id": 1, "event_type": "loyaltyBalanceUpdate", "event_time": 1_700_000_000_000,
         "loyalty_id": "a@b.c", "points_earned": 5, "total_points": 10, "loyalty_level": "Gold"}  # fmt: skip


def avro(record: dict[str, Any]) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, SCHEMA, record)
    return out.getvalue()


def settings(fmt: str, registry: str | None = None) -> Any:
    mapping = {
        "name": "events", "topics": ["events"], "format": fmt, "xdm_class": "experienceevent",
        "schema_id": "s", "dataset_id": "d", "allow_no_identity": True, "fields": {"timestamp": "value.event_time"},
        **({"avro_schema": str(AVSC)} if fmt == "avro-plain" else {}),
    }  # fmt: skip
    doc: dict[str, Any] = {
        "kafka": {"bootstrap_servers": "127.0.0.1:9", "topics": ["events"]},
        "aep": {"inlet_url": "https://dcs.adobedc.net/collection/x"},
        "dead_letter": {"topic": "dlq"},
        "mappings": [mapping],
    }
    if registry:
        doc["schema_registry"] = {"url": registry}
    found, problems = parse_settings(doc, {}, REPO)
    assert problems == []
    return found


def dead_letter(value: bytes | None, key: bytes | None = None, topic: str = "events") -> DeadLetter:
    return DeadLetter(0, 5, key, value, [("__connect.errors.topic", topic.encode())], None)


@pytest.mark.parametrize(
    ("text", "safe"),
    [
        ("plain é ü 漢字", "plain é ü 漢字"),
        ("\x1b[31mred", "\\u001b[31mred"),
        ("csi\x9b2J", "csi\\u009b2J"),
        ("tab\tdel\x7f", "tab\\u0009del\\u007f"),
        ("rtl\u202eevil", "rtl\\u202eevil"),
        ("tag\U000e0041", "tag\\udb40\\udc41"),
    ],
)
def test_terminal_safe_escapes_every_non_printable_as_json_does(text: str, safe: str) -> None:
    """Controls (C0, C1, DEL), bidi overrides and invisible astral characters become \\uXXXX; JSON reads them back."""
    assert terminal_safe(text) == safe
    assert json.loads(f'"{safe}"') == text


def test_raw_bytes_are_text_or_marked_binary() -> None:
    """UTF-8 is text (escaped when needed); anything else is hex in the text view and base64 for --json."""
    assert raw(b'{"a": 1}').text == '{"a": 1}' and raw(b'{"a": 1}').encoding == "text"
    shown = raw(b"\x00\xff" * 40)
    assert shown.encoding == "binary" and shown.text.startswith("00 ff 00 ff") and "[16 more bytes]" in shown.text
    assert base64.b64decode(shown.as_json()["base64"]) == b"\x00\xff" * 40
    assert shown.label() == "binary, 80 bytes, hex"
    assert raw(None).encoding == "null"


def test_local_schema_decodes_an_avro_plain_dead_letter() -> None:
    """A value of an avro-plain topic is decoded with the mapping's .avsc; JSON output keeps its types."""
    view = DeadLetterView(settings("avro-plain"))
    shown = view.value(dead_letter(avro(EVENT)))
    assert shown.encoding == "avro" and shown.schema == "events's avro_schema"
    assert '"loyalty_id":"a@b.c"' in shown.text and '"event_time":"2023-11-14T22:13:20+00:00"' in shown.text
    assert json.loads(to_json(shown.as_json()))["value"]["loyalty_level"] == "Gold"


def test_registry_decodes_framed_values_and_keys_of_any_topic() -> None:
    """Confluent-framed bytes are decoded through the registry, for a mapped Avro topic or not, key too."""
    framed = b"\x00\x00\x00\x00\x07" + avro(EVENT)

    def lookup(schema_id: int) -> Any:
        if schema_id != 7:
            raise DecodeError("unknown-schema-id", f"schema registry does not know schema id {schema_id}")
        return SCHEMA

    view = DeadLetterView(settings("avro", registry="http://127.0.0.1:9"), lookup=lookup)
    assert view.value(dead_letter(framed)).schema == "schema id 7"
    assert view.value(dead_letter(framed, topic="unmapped")).encoding == "avro"
    assert view.key(dead_letter(None, key=framed)).encoding == "avro"
    unknown = view.value(dead_letter(b"\x00\x00\x00\x00\x08" + avro(EVENT), topic="unmapped"))
    assert unknown.encoding == "binary" and unknown.note is not None and "schema id 8" in unknown.note


def test_corrupt_avro_is_shown_as_binary_with_the_reason() -> None:
    """A value that does not decode keeps its bytes (hex) and says why, with the field it breaks in."""
    view = DeadLetterView(settings("avro-plain"))
    shown = view.value(dead_letter(avro(EVENT)[:-3]))
    assert shown.encoding == "binary"
    assert shown.note is not None and "corrupt-avro" in shown.note and "truncated" in shown.note


def test_framed_avro_without_a_registry_says_what_to_set() -> None:
    """Without schema_registry.url, framed bytes are binary with a note naming the setting."""
    shown = DeadLetterView(settings("json")).value(dead_letter(b"\x00\x00\x00\x00\x07" + avro(EVENT)))
    assert shown.encoding == "binary" and shown.note is not None and "schema_registry.url" in shown.note
