"""`preview --from-topic` applies run's own rules on a real broker: an envelope over 1 MB is too-large in
both, and a schema violation of a 300 KB value is xdm-invalid in both, in a short message, not the value."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from connector import cli
from connector.emulator.server import EmulatorServer
from tests.harness.kafka_broker import create_topic, produce
from tests.integration.ops.helpers import start_worker, wait_for

pytestmark = pytest.mark.integration

SCHEMA = {
    "$id": "https://ns.adobe.com/acme/schemas/blob",
    "type": "object",
    "properties": {
        "_acme": {
            "type": "object",
            "properties": {
                "note": {"type": "string"},
                "copy": {"type": "string"},
                "when": {"type": "string", "format": "date-time"},
            },
        },
        "identityMap": {"type": "object", "additionalProperties": {"type": "array"}},
    },
}
OK = {"email": "a@example.com", "note": "hi", "when": "2024-01-01T00:00:00Z"}
OVERSIZED = {"email": "b@example.com", "note": "n" * 600_000, "when": "2024-01-01T00:00:00Z"}  # mapped twice: 1.2 MB
BAD_WHEN = {"email": "c@example.com", "note": "hi", "when": "w" * 300_000}


def _config(tmp_path: Path, bootstrap: str, name: str, inlet_url: str) -> Path:
    (tmp_path / "schema.json").write_text(json.dumps(SCHEMA), encoding="utf-8")
    mapping: dict[str, Any] = {
        "name": "blobs", "topics": [f"{name}-in"], "xdm_class": "profile", "tenant": "acme",
        "schema_id": "https://ns.adobe.com/acme/schemas/blob", "dataset_id": "blob-dataset",
        "schema": "schema.json",
        "identities": [{"namespace": "Email", "value": "value.email", "primary": True}],
        "fields": {"_acme": {"note": "value.note", "copy": "value.note", "when": "value.when"}},
    }  # fmt: skip
    (tmp_path / "blobs.yaml").write_text(yaml.safe_dump(mapping), encoding="utf-8")
    doc = {
        "kafka": {"bootstrap_servers": bootstrap, "group_id": f"{name}-group", "topics": [f"{name}-in"]},
        "aep": {"inlet_url": inlet_url},
        "dead_letter": {"topic": f"{name}-dlq"},
        "batching": {"linger_ms": 20, "commit_interval_ms": 200},
        "mappings": [{"file": "blobs.yaml"}],
    }
    path = tmp_path / "connector.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def test_preview_reports_what_run_dead_letters_and_keeps_messages_short(
    kafka_bootstrap: str, unique_name: str, emulator: EmulatorServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 1.2 MB envelope: too-large in preview and in run; a bad date-time: xdm-invalid in both, one short line."""
    topic = f"{unique_name}-in"
    create_topic(kafka_bootstrap, topic)
    config = _config(tmp_path, kafka_bootstrap, unique_name, f"{emulator.url}/collection/blobinlet")
    produce(kafka_bootstrap, topic, [(b"a", json.dumps(v).encode()) for v in (OK, OVERSIZED, BAD_WHEN)])

    capsys.readouterr()
    code = cli.main(["preview", "-c", str(config), "--from-topic", topic, "--limit", "3"])
    out, err = capsys.readouterr()
    assert code == 1
    assert f"{topic}[0]@1: ERROR too-large: envelope is " in err
    assert "blobs: 1 mapped, 2 failed" in err
    schema_lines = [ln for ln in err.splitlines() if "xdm-invalid" in ln]
    assert len(schema_lines) == 1
    assert schema_lines[0].startswith(f'{topic}[0]@2: ERROR xdm-invalid: /_acme/when: format: "www')
    assert "(300000 chars)" in schema_lines[0] and "is not a valid date-time" in schema_lines[0]
    assert len(err) < 5_000, f"stderr is {len(err)} characters"
    assert out.count('"xdmEntity"') == 2  # OK, and the oversized envelope printed beside its too-large error

    running = start_worker(config)
    try:
        wait_for(lambda: running.worker.status.consumed >= 3, 60, "three records consumed")
        wait_for(lambda: running.worker.status.dead_letter_reasons.get("too-large") == 1, 60, "too-large dead letter")
        reasons = running.worker.status.dead_letter_reasons
        wait_for(lambda: reasons.get("xdm-invalid") == 1, 60, "xdm-invalid dead letter")
    finally:
        running.stop()
