"""`produce` and `preview --from-topic` on a real broker (auto-creation off) and a real registry."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
import yaml
from confluent_kafka.admin import AdminClient

from connector import cli
from connector.emulator.server import EmulatorServer
from connector.records import TopicPartition
from tests.harness.kafka_broker import committed_offsets, consume_all, create_topic, end_offsets, produce
from tests.integration.ops.helpers import MAPPINGS, profile_messages, start_worker, wait_for, write_config

pytestmark = pytest.mark.integration


def _config(tmp_path: Path, bootstrap: str, name: str, registry: str | None = None) -> Path:
    path = write_config(
        tmp_path / "connector.yaml", bootstrap=bootstrap, group=f"{name}-group", topic=f"{name}-profiles",
        dlq=f"{name}-dlq", aep={"inlet_url": "http://127.0.0.1:9/collection/abc"},
        extra_mappings=[{"file": str(MAPPINGS / "loyalty-events-avro.yaml"), "topics": [f"{name}-avro"]}],
    )  # fmt: skip
    if registry:
        doc = yaml.safe_load(path.read_text())
        doc["schema_registry"] = {"url": registry}
        path.write_text(yaml.safe_dump(doc))
    return path


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_produce_refuses_a_missing_topic_unless_create(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing topic is exit 2 naming it; with --create it is made with N partitions and every line lands as given."""
    config = _config(tmp_path, kafka_bootstrap, unique_name)
    topic = f"{unique_name}-profiles"
    lines = [json.dumps(json.loads(v or b"")) for _, v in profile_messages(6)]
    lines[2] = lines[2].replace('{"', '{ "', 1)  # bytes are sent as given, not re-encoded
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(lines) + "\n")
    args = ("produce", "-c", str(config), "--topic", topic, "--input", str(source))
    code, _, err = _cli(capsys, *args, "--key-field", "_exchangeinternal.loyaltyID")
    assert code == 2 and f"topic '{topic}' does not exist" in err and "--create" in err
    assert topic not in AdminClient({"bootstrap.servers": kafka_bootstrap}).list_topics(timeout=10).topics
    code, out, _ = _cli(capsys, *args, "--key-field", "_exchangeinternal.loyaltyID", "--create", "--partitions", "2")
    assert code == 0 and "produced 6 record(s)" in out
    assert sorted(end_offsets(kafka_bootstrap, topic)) == [0, 1]
    got = consume_all(kafka_bootstrap, topic, 6)
    assert sorted(v or b"" for _, v in got) == sorted(line.encode() for line in lines)
    assert {k for k, _ in got} == {json.loads(line)["_exchangeinternal"]["loyaltyID"].encode() for line in lines}


def test_produce_reports_bad_records_and_keeps_the_rest(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Invalid JSON and a missing key field are named per record (exit 1); the good records are written."""
    config = _config(tmp_path, kafka_bootstrap, unique_name)
    topic = f"{unique_name}-profiles"
    create_topic(kafka_bootstrap, topic)
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": "a"}\n{not json\n{"other": 1}\n{"id": "b"}\n')
    code, out, err = _cli(capsys, "produce", "-c", str(config), "--topic", topic, "--input", str(source),
                          "--key-field", "id")  # fmt: skip
    assert code == 1 and "produced 2 record(s)" in out and "2 failed" in out
    assert "record 1: ERROR invalid JSON" in err and "record 2: ERROR key field 'id' is missing" in err
    assert sorted(k or b"" for k, _ in consume_all(kafka_bootstrap, topic, 2)) == [b"a", b"b"]


def test_avro_sample_goes_through_the_registry_and_previews_from_the_topic(
    kafka_bootstrap: str, schema_registry_url: str, unique_name: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """--sample loyalty-events-avro registers the schema (Confluent framing); preview decodes and maps every record."""
    config = _config(tmp_path, kafka_bootstrap, unique_name, registry=schema_registry_url)
    topic = f"{unique_name}-avro"
    code, out, err = _cli(capsys, "produce", "-c", str(config), "--sample", "loyalty-events-avro", "--topic", topic,
                          "--create")  # fmt: skip
    assert code == 0, err
    assert "produced 20 record(s)" in out and "Confluent framing" in out and f"{topic}-value" in out
    values = [v or b"" for _, v in consume_all(kafka_bootstrap, topic, 20)]
    assert all(v[0] == 0 and len(v) > 5 for v in values)
    code, out, err = _cli(capsys, "preview", "-c", str(config), "--from-topic", topic, "--limit", "20")
    assert code == 0, err
    assert "20 mapped, 0 failed" in err
    assert out.count('"xdmEntity"') == 20 and '"loyaltyLevel"' in out


def test_preview_reads_without_committing_or_disturbing_the_group(
    kafka_bootstrap: str, unique_name: str, emulator: EmulatorServer, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """preview never commits (for itself or the worker's group), never makes the worker rebalance, and
    --start committed shows exactly the records the group has not committed yet."""
    topic, group = f"{unique_name}-profiles", f"{unique_name}-group"
    create_topic(kafka_bootstrap, topic, partitions=2)
    produce(kafka_bootstrap, topic, profile_messages(10))
    config = write_config(
        tmp_path / "connector.yaml", bootstrap=kafka_bootstrap, group=group, topic=topic, dlq=f"{unique_name}-dlq",
        aep={"inlet_url": emulator.inlet_url(emulator.create_inlet())},
    )  # fmt: skip
    code, out, err = _cli(capsys, "preview", "-c", str(config), "--from-topic", topic, "--limit", "4")
    assert code == 0 and out.count('"xdmEntity"') == 4 and "4 mapped, 0 failed" in err
    assert committed_offsets(kafka_bootstrap, group, topic) == {}
    running = start_worker(config)
    revoked: list[object] = []
    original = running.worker.on_revoked

    def spy(parts: Sequence[TopicPartition]) -> None:
        revoked.append(parts)
        original(parts)

    running.worker.on_revoked = spy  # type: ignore[method-assign,assignment]
    try:
        wait_for(lambda: running.worker.status.delivered == 10, 60, "10 records delivered")
        wait_for(lambda: sum(committed_offsets(kafka_bootstrap, group, topic).values()) == 10, 30, "commits")
        code, out, err = _cli(capsys, "preview", "-c", str(config), "--from-topic", topic, "--start", "latest",
                              "--limit", "3")  # fmt: skip
        assert code == 0 and out.count('"xdmEntity"') == 3
        code, out, err = _cli(capsys, "preview", "-c", str(config), "--from-topic", topic, "--start", "committed")
        assert code == 0 and out.count('"xdmEntity"') == 0 and "no records" in err
        assert revoked == [] and running.worker.status.assigned == 2
    finally:
        running.stop()
    produce(kafka_bootstrap, topic, profile_messages(3, start=10))
    code, out, err = _cli(capsys, "preview", "-c", str(config), "--from-topic", topic, "--start", "committed")
    assert code == 0 and out.count('"xdmEntity"') == 3 and "3 mapped" in err
    assert committed_offsets(kafka_bootstrap, f"{group}.preview", topic) == {}
    assert sum(committed_offsets(kafka_bootstrap, group, topic).values()) == 10
