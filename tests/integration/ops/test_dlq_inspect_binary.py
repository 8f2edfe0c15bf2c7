"""`dlq inspect` on dead letters the worker wrote on a real broker, with a real registry: Avro decoded,
binary shown as hex/base64, nothing raw on the terminal, and corrupt-avro saying what is wrong."""

from __future__ import annotations

import base64
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fastavro
import pytest
import yaml

from connector import cli
from connector.emulator.server import EmulatorServer
from tests.harness.kafka_broker import consume_all, create_topic, produce
from tests.integration.ops.helpers import MAPPINGS, SAMPLES, start_worker, wait_for, write_config

pytestmark = pytest.mark.integration

GARBAGE_VALUE = b"\x1b[31mred\xc2\x9b\x00\xff\xfe"  # ANSI escape, a C1 CSI, NUL, invalid UTF-8
GARBAGE_KEY = b"\x1b]0;title\x07"  # an xterm title-setting sequence


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    code = cli.main(list(argv))
    out, _ = capsys.readouterr()
    return code, out


def _future_event(schema_id_header: bytes) -> bytes:
    schema = fastavro.parse_schema(json.loads((SAMPLES / "loyalty-event.avsc").read_text()))
    event: dict[str, Any] = {
        "event_id": 77, "event_type": "loyaltyLevelUpdate", "event_time": datetime(2999, 1, 1, tzinfo=UTC),
        "loyalty_id": "future@example.com", "points_earned": 5, "total_points": 10, "loyalty_level": "Gold",
    }  # fmt: skip
    body = io.BytesIO()
    fastavro.schemaless_writer(body, schema, event)
    return schema_id_header + body.getvalue()


def test_inspect_decodes_avro_and_never_prints_raw_bytes(
    *,
    kafka_bootstrap: str, schema_registry_url: str, unique_name: str, emulator: EmulatorServer, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """A future-dated Avro event (decoded through the registry), a truncated one (corrupt-avro naming the field)
    and escape-laden JSON-topic bytes (hex / base64, marked): the terminal gets no control characters."""
    json_topic, avro_topic, dlq = f"{unique_name}-json", f"{unique_name}-avro", f"{unique_name}-dlq"
    config = write_config(
        tmp_path / "connector.yaml", bootstrap=kafka_bootstrap, group=f"{unique_name}-group", topic=json_topic,
        dlq=dlq, aep={"inlet_url": emulator.inlet_url(emulator.create_inlet())},
        extra_mappings=[{"file": str(MAPPINGS / "loyalty-events-avro.yaml"), "topics": [avro_topic]}],
    )  # fmt: skip
    doc = yaml.safe_load(config.read_text())
    doc["schema_registry"] = {"url": schema_registry_url}
    config.write_text(yaml.safe_dump(doc))
    create_topic(kafka_bootstrap, json_topic)
    code, _ = _cli(capsys, "produce", "-c", str(config), "--sample", "loyalty-events-avro", "--topic", avro_topic,
                   "--create")  # fmt: skip
    assert code == 0
    good = consume_all(kafka_bootstrap, avro_topic, 20)[0][1] or b""
    produce(kafka_bootstrap, avro_topic, [(b"future", _future_event(good[:5])), (b"cut", good[:-4])])
    produce(kafka_bootstrap, json_topic, [(GARBAGE_KEY, GARBAGE_VALUE)])

    running = start_worker(config)
    try:
        wait_for(lambda: running.worker.status.dead_lettered == 3, 60, "three dead letters")
    finally:
        running.stop()

    code, text = _cli(capsys, "dlq", "inspect", "-c", str(config), "--limit", "10")
    assert code == 0
    assert not any(not ch.isprintable() and ch != "\n" for ch in text), repr(text)
    schema_id = int.from_bytes(good[1:5], "big")
    assert f"value (avro, schema id {schema_id}, " in text and '"loyalty_id":"future@example.com"' in text
    assert '"event_time":"2999-01-01T00:00:00+00:00"' in text
    assert "__aep.errors.reason: corrupt-avro" in text
    assert f"is not valid Avro for schema id {schema_id}: truncated" in text and "field " in text
    assert "EOFError" not in text
    assert "value (binary, 13 bytes, hex): 1b 5b 33 31 6d 72 65 64 c2 9b 00 ff fe" in text
    assert "key (text, 10 bytes, control characters as \\uXXXX): \\u001b]0;title\\u0007" in text

    code, out = _cli(capsys, "dlq", "inspect", "-c", str(config), "--limit", "10", "--json")
    assert code == 0
    assert not any(not ch.isprintable() and ch != "\n" for ch in out)
    report = json.loads(out)
    values = {s["headers"]["__aep.errors.reason"]: s["value"] for s in report["samples"]}
    assert values["future-timestamp"]["encoding"] == "avro"
    assert values["future-timestamp"]["value"]["loyalty_id"] == "future@example.com"
    garbage = next(s["value"] for s in report["samples"] if s["headers"]["__connect.errors.topic"] == json_topic)
    assert garbage["encoding"] == "binary" and base64.b64decode(garbage["base64"]) == GARBAGE_VALUE
    keys = [s["key"] for s in report["samples"]]
    assert {"encoding": "text", "bytes": len(GARBAGE_KEY), "value": GARBAGE_KEY.decode()} in keys
