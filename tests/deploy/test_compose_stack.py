"""The docker-compose stack's parts, run for real without Docker (none runs on these machines).

The compose connector config and mappings, the sample producer with its Avro twin through the
registry, the real broker, a real Apicurio and the emulator: the pipeline docker-compose wires up.
The registry's compose healthcheck command runs against the real Apicurio.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from connector.emulator import EmulatorServer
from connector.ops import sample_producer
from tests.deploy.context import ROOT
from tests.harness.ports import free_port
from tests.integration.ops.helpers import start_worker, wait_for

pytestmark = pytest.mark.integration

COMPOSE = ROOT / "docker-compose.yml"
COMPOSE_CONFIG = ROOT / "deploy" / "connector.compose.yaml"


def _service(name: str) -> dict[str, Any]:
    service: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())["services"][name]
    return service


def _registry_healthcheck(port: int) -> str:
    test = _service("schema-registry")["healthcheck"]["test"]
    assert test[0] == "CMD-SHELL"
    command = str(test[1])
    assert "127.0.0.1:8080" in command
    return command.replace("127.0.0.1:8080", f"127.0.0.1:{port}").replace("/127.0.0.1/8080", f"/127.0.0.1/{port}")


def _no_curl_path(tmp_path: Path) -> str:
    """A PATH with what the fallback needs (bash, head, grep) and no curl."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "head", "grep", "sh"):
        found = shutil.which(tool)
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    return str(bin_dir)


@pytest.mark.parametrize("with_curl", [True, False])
def test_registry_healthcheck_passes_against_apicurio(
    schema_registry_url: str, tmp_path: Path, with_curl: bool
) -> None:
    """The compose healthcheck of the schema registry is healthy on a ready Apicurio, with or without curl."""
    port = urlsplit(schema_registry_url).port
    assert port is not None
    env = {**os.environ, **({} if with_curl else {"PATH": _no_curl_path(tmp_path)})}
    proc = subprocess.run(["/bin/sh", "-c", _registry_healthcheck(port)], env=env, capture_output=True, text=True,
                          timeout=30, check=False)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("with_curl", [True, False])
def test_registry_healthcheck_fails_without_a_registry(tmp_path: Path, with_curl: bool) -> None:
    """The control: nothing listening is unhealthy (so the connectors wait)."""
    env = {**os.environ, **({} if with_curl else {"PATH": _no_curl_path(tmp_path)})}
    proc = subprocess.run(["/bin/sh", "-c", _registry_healthcheck(free_port())], env=env, capture_output=True,
                          text=True, timeout=30, check=False)
    assert proc.returncode != 0


def _arg(command: list[str], flag: str) -> str:
    return command[command.index(flag) + 1]


def test_compose_pipeline_delivers_json_and_registry_avro(
    *, kafka_bootstrap: str, schema_registry_url: str, emulator: EmulatorServer, unique_name: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The sample producer's JSON and Avro records reach AEP through the compose config and mappings."""
    producer_args = _service("sample-producer")["command"]
    avro_topic = _arg(producer_args, "--avro-topic")
    cfg = yaml.safe_load(COMPOSE_CONFIG.read_text())
    assert avro_topic in cfg["kafka"]["topics"]
    # The compose topics, renamed for this run on the shared broker.
    rename = {t: f"{unique_name}-{t}" for t in cfg["kafka"]["topics"]}
    cfg["kafka"]["topics"] = list(rename.values())
    cfg["kafka"]["group_id"] = f"{unique_name}-group"
    cfg["dead_letter"]["topic"] = f"{unique_name}-dlq"
    cfg["observability"] = {"log_format": "json", "log_level": "warning"}
    for m in cfg["mappings"]:
        spec = yaml.safe_load((ROOT / "config" / m["file"]).read_text())
        m["topics"] = [rename[t] for t in spec["topics"]]
    formats = [yaml.safe_load((ROOT / "config" / m["file"]).read_text())["format"] for m in cfg["mappings"]]
    assert "avro" in formats, "the compose stack has an Avro mapping that reads through the registry"
    conf = tmp_path / "etc"
    shutil.copytree(ROOT / "config" / "mappings", conf / "mappings")  # as compose mounts them
    (conf / "connector.yaml").write_text(yaml.safe_dump(cfg))

    # The compose config's ${VAR:-default} hosts, pointed at this machine's services.
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("AEP_INLET_URL", emulator.inlet_url(emulator.create_inlet()))
    monkeypatch.setenv("SCHEMA_REGISTRY_URL", schema_registry_url)
    code = sample_producer.main([
        "--bootstrap-servers", kafka_bootstrap, "--partitions", "2", "--passes", "1",
        "--profiles-topic", rename["loyalty-profiles"], "--events-topic", rename["loyalty-events"],
        "--avro-topic", rename[avro_topic], "--schema-registry", schema_registry_url,
    ])
    assert code == 0
    profiles, events = sample_producer.load_samples()
    total = len(profiles) + 2 * len(events)

    running = start_worker(conf / "connector.yaml")
    try:
        wait_for(lambda: running.worker.status.delivered + running.worker.status.dead_lettered >= total, 120,
                 f"{total} records final")
        status = running.worker.status
        assert (status.delivered, status.dead_lettered) == (total, 0), status.dead_letter_reasons
    finally:
        running.stop()
