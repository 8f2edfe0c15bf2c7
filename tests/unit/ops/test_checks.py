"""check --connect's verdicts: exit codes by the worst finding, the DLQ probe's reading, an extensible routing table."""

from __future__ import annotations

from pathlib import Path

from confluent_kafka import KafkaError

from connector.config import load_settings
from connector.mapping import compile_mappings
from connector.ops.checks import Finding, exit_code, format_findings
from connector.ops.checks.kafka import _probe_verdict
from connector.ops.routing_table import COLUMNS, Column, format_routing

ROOT = Path(__file__).resolve().parents[3]


def test_config_problems_outrank_unreachable_services() -> None:
    """ok/warn/skipped exit 0; any unreachable exits 4; any config problem exits 2 whatever else failed."""
    ok, warn = Finding("kafka", "ok", "x"), Finding("topic", "warn", "y")
    down, wrong = Finding("dcs", "unreachable", "z"), Finding("ims", "config", "w")
    assert exit_code([ok, warn, Finding("dcs", "skipped", "")]) == 0
    assert exit_code([ok, down]) == 4
    assert exit_code([down, wrong, ok]) == 2
    text = format_findings([ok, down])
    assert "UNREACHABLE" in text and " ok " in text


def test_probe_verdict_reads_the_broker_answers() -> None:
    """INVALID_TIMESTAMP everywhere: writable, nothing written; an authorisation error is config; a timeout is
    unreachable; a stored probe is reported."""
    refused = KafkaError(KafkaError.INVALID_TIMESTAMP)
    assert _probe_verdict("dlq", [0, 1], {0: refused, 1: refused}).status == "ok"
    denied = KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED)
    assert _probe_verdict("dlq", [0, 1], {0: refused, 1: denied}).status == "config"
    timed_out = KafkaError(KafkaError._MSG_TIMED_OUT)
    assert _probe_verdict("dlq", [0], {0: timed_out}).status == "unreachable"
    assert _probe_verdict("dlq", [0, 1], {0: refused}).status == "unreachable"
    stored = _probe_verdict("dlq", [0], {0: None})
    assert stored.status == "warn" and "stored the probe" in stored.detail


def test_routing_table_grows_by_one_column() -> None:
    """One row per topic of each mapping; a new per-mapping setting is one more Column."""
    settings = load_settings(ROOT / "config" / "connector.example.yaml", environ={})
    compiled, problems = compile_mappings(settings.mappings, settings.aep)
    assert problems == []
    lines = format_routing(compiled, settings).splitlines()
    assert lines[0].split()[:4] == ["TOPIC", "MAPPING", "FORMAT", "XDM"]
    assert lines[1].split()[:4] == ["loyalty-profiles", "loyalty-profiles", "json", "profile"]
    wider = format_routing(compiled, settings, [*COLUMNS, Column("DESTINATION", lambda m, _: "dcs")]).splitlines()
    assert wider[0].endswith("DESTINATION") and wider[2].endswith("dcs")
