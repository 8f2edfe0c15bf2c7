"""`check --connect` against a real broker, registry and emulator: what it finds, what it never writes, exit codes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from connector import cli
from connector.emulator import EmulatorOptions
from connector.emulator.server import EmulatorServer
from connector.ops.checks.kafka import PROBE_KEY
from connector.serde.registry_write import RegistryWriter
from tests.harness.kafka_broker import consume_all, create_topic, end_offsets
from tests.harness.ports import free_port
from tests.integration.ops.helpers import MAPPINGS, write_config

pytestmark = pytest.mark.integration

CLIENT_ID, SECRET = "check-client", "check-secret-value"
AVSC = Path(__file__).resolve().parents[3] / "connector" / "samples" / "loyalty-event.avsc"


def _config(tmp_path: Path, bootstrap: str, name: str, aep: dict[str, Any], **extra: Any) -> Path:
    path = write_config(
        tmp_path / "connector.yaml", bootstrap=bootstrap, group=f"{name}-group", topic=f"{name}-profiles",
        dlq=f"{name}-dlq", aep=aep,
        extra_mappings=[{"file": str(MAPPINGS / "loyalty-events-avro.yaml"), "topics": [f"^{name}-avro-.*"]}],
    )  # fmt: skip
    doc = yaml.safe_load(path.read_text())
    doc.update(extra)
    path.write_text(yaml.safe_dump(doc))
    return path


def _check(capsys: pytest.CaptureFixture[str], config: Path) -> tuple[int, list[str]]:
    capsys.readouterr()
    code = cli.main(["check", "-c", str(config), "--connect"])
    captured = capsys.readouterr()
    return code, (captured.out + captured.err).splitlines()


def _line(lines: list[str], *parts: str) -> str:
    found = [line for line in lines if all(p in line for p in parts)]
    assert found, f"no line with {parts} in:\n" + "\n".join(lines)
    return found[0]


def test_everything_reachable_writes_nothing_and_exits_0(
    *, kafka_bootstrap: str, schema_registry_url: str, unique_name: str, emulator: EmulatorServer, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """Topics (names and a ^regex), group, DLQ probe, IMS token, authenticated inlet and registry subject are ok;
    the DLQ and the inlet receive nothing; the routing table shows each topic's route."""
    name = unique_name
    create_topic(kafka_bootstrap, f"{name}-profiles", partitions=2)
    create_topic(kafka_bootstrap, f"{name}-avro-a", partitions=3)
    create_topic(kafka_bootstrap, f"{name}-dlq", partitions=2)
    RegistryWriter(schema_registry_url).register(f"{name}-avro-a-value", AVSC.read_text())
    emulator.add_client(CLIENT_ID, SECRET)
    inlet = emulator.create_inlet(authenticated=True)
    aep = {
        "inlet_url": emulator.inlet_url(inlet), "sandbox": "prod", "flow_id": "flow-1",
        "auth": {"enabled": True, "client_id": CLIENT_ID, "client_secret": SECRET,
                 "token_url": f"{emulator.url}/ims/token/v3"},
    }  # fmt: skip
    config = _config(tmp_path, kafka_bootstrap, name, aep, schema_registry={"url": schema_registry_url})
    code, lines = _check(capsys, config)
    assert code == 0, "\n".join(lines)
    assert "2 partition(s)" in _line(lines, "topic", f"{name}-profiles")
    assert f"{name}-avro-a (3)" in _line(lines, "topic", f"^{name}-avro-.*", "matches")
    assert "no such group yet" in _line(lines, "group", f"{name}-group")
    assert "kafka.group_protocol auto (KIP-848" in _line(lines, "group", f"{name}-group")
    assert "nothing written" in _line(lines, "dead-letter", "writable with acks=all on 2 partition(s)")
    assert _line(lines, "ims", "ok", "token obtained")
    assert "refused the empty batch" in _line(lines, "dcs", "ok", inlet) or "accepted an empty batch" in _line(
        lines, "dcs", inlet
    )
    assert _line(lines, "registry", "ok", f"{name}-avro-a-value found")
    route = _line(lines, f"{name}-profiles", "loyalty-profiles", "profile", inlet)
    assert "flow-1" in route and "prod" in route and "5e30d7986c0cc218a85cee64" in route
    assert _line(lines, f"^{name}-avro-.*", "loyalty-events-avro", "avro", "experienceevent")
    assert end_offsets(kafka_bootstrap, f"{name}-dlq") == {0: 0, 1: 0}
    assert emulator.store.records() == []
    stats = emulator.store.stats()["inlets"][inlet]
    assert stats["requests"] == 1 and stats["messages"] == 0


def test_wrong_configuration_exits_2_naming_each_problem(
    kafka_bootstrap: str, schema_registry_url: str, unique_name: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """A missing subscribed topic, a refused IMS secret and an unknown inlet are configuration problems (exit 2)."""
    name = unique_name
    create_topic(kafka_bootstrap, f"{name}-dlq")
    with EmulatorServer(port=0, options=EmulatorOptions(strict_inlets=True)) as strict:
        strict.add_client(CLIENT_ID, SECRET)
        aep = {
            "inlet_url": strict.inlet_url("ab" * 32),
            "auth": {"enabled": True, "client_id": CLIENT_ID, "client_secret": "wrong-secret",
                     "token_url": f"{strict.url}/ims/token/v3"},
        }  # fmt: skip
        registry = {"url": schema_registry_url}
        code, lines = _check(capsys, _config(tmp_path, kafka_bootstrap, name, aep, schema_registry=registry))
        assert code == 2, "\n".join(lines)
        assert _line(lines, "topic", "CONFIG", f"{name}-profiles", "does not exist")
        assert "matches no topic" in _line(lines, "topic", "warn", f"^{name}-avro-.*")
        assert "rejected the credentials" in _line(lines, "ims", "CONFIG")
        assert _line(lines, "dcs", "skipped")
        (tmp_path / "b").mkdir()
        aep_open = {"inlet_url": strict.inlet_url("cd" * 32)}
        code, lines = _check(capsys, _config(tmp_path / "b", kafka_bootstrap, name, aep_open, schema_registry=registry))
        assert code == 2
        assert "no such inlet" in _line(lines, "dcs", "CONFIG", "cd" * 32)
    assert "configuration problems (exit 2)" in lines[-1]


def test_unreachable_services_exit_4(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Kafka and DCS on closed ports, the registry too: exit 4, one line each, no librdkafka noise."""
    closed = [free_port() for _ in range(3)]
    aep = {"inlet_url": f"http://127.0.0.1:{closed[1]}/collection/{'ef' * 32}"}
    config = _config(tmp_path, f"127.0.0.1:{closed[0]}", "down", aep,
                     schema_registry={"url": f"http://127.0.0.1:{closed[2]}"})  # fmt: skip
    code, lines = _check(capsys, config)
    assert code == 4, "\n".join(lines)
    assert _line(lines, "kafka", "UNREACHABLE", f"127.0.0.1:{closed[0]}")
    assert "Connection refused" in _line(lines, "dcs", "UNREACHABLE")
    assert _line(lines, "registry", "UNREACHABLE")
    assert not any("%3|" in line or "FAIL" in line for line in lines)
    assert len(lines) < 20


def test_dead_letter_topic_that_cannot_refuse_the_probe_is_not_written(
    *, kafka_bootstrap: str, schema_registry_url: str, unique_name: str, emulator: EmulatorServer, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """With LogAppendTime a probe would be stored, so none is sent: a warning, exit 0, the topic stays empty."""
    name = unique_name
    create_topic(kafka_bootstrap, f"{name}-profiles")
    create_topic(kafka_bootstrap, f"{name}-dlq", config={"message.timestamp.type": "LogAppendTime"})
    aep = {"inlet_url": emulator.inlet_url(emulator.create_inlet())}
    config = _config(tmp_path, kafka_bootstrap, name, aep, schema_registry={"url": schema_registry_url})
    code, lines = _check(capsys, config)
    assert code == 0, "\n".join(lines)
    assert "writability not probed" in _line(lines, "dead-letter", "warn")
    assert end_offsets(kafka_bootstrap, f"{name}-dlq") == {0: 0}
    assert all(key != PROBE_KEY for key, _ in consume_all(kafka_bootstrap, f"{name}-dlq", 0, timeout_s=1))
