"""The Dockerfile built for real (podman + runc) and run as its non-root user: check, demo, run, HEALTHCHECK.

The containers run as the Helm chart runs the pods: read-only root filesystem with a tmpfs on
/tmp, no capabilities, no privilege escalation. The base image is a Debian stand-in when the
real one cannot be pulled (tests/deploy/podman.py).
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import yaml

from connector.emulator import EmulatorServer
from tests.deploy.context import ROOT, assert_demo_summary
from tests.deploy.podman import LIMITS, build_image, podman
from tests.harness.kafka_broker import committed_offsets, create_topic, produce
from tests.harness.ports import free_port
from tests.integration.ops.helpers import profile_messages, wait_for

# The first test builds the image (and, run outside make test-image on a cold cache, the base).
pytestmark = [pytest.mark.image, pytest.mark.integration, pytest.mark.timeout(1800)]

HARDENED = ("--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL", "--security-opt", "no-new-privileges")
CONFIG_DIR = "/etc/aep-connector"
MAPPINGS = ROOT / "config" / "mappings"


@pytest.fixture(scope="module")
def image() -> str:
    """The image of the repository's Dockerfile, built now (podman's layer cache keeps rebuilds short)."""
    return build_image()


def _run(image: str, args: list[str], *, mounts: Sequence[str] = (), timeout: float = 300.0) -> tuple[int, str, str]:
    volumes = [a for m in mounts for a in ("-v", m)]
    proc = podman(["run", "--rm", *LIMITS, *HARDENED, *volumes, image, *args], timeout=timeout, check=False)
    return proc.returncode, proc.stdout, proc.stderr


def _dockerfile(instruction: str) -> str:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    return [line.split(None, 1)[1] for line in text.splitlines() if line.startswith(f"{instruction} ")][-1]


def test_image_runs_as_the_dockerfile_user(image: str) -> None:
    """The container's process runs as the Dockerfile's USER (10001), not root."""
    proc = podman(["run", "--rm", *LIMITS, *HARDENED, "--entrypoint", "id", image, "-u"], check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == _dockerfile("USER").split(":")[0] != "0"


def test_check_in_the_image_with_the_compose_mounts(image: str) -> None:
    """`check` in the container validates the compose config and mappings mounted as docker-compose mounts them."""
    mounts = [f"{ROOT / 'deploy' / 'connector.compose.yaml'}:{CONFIG_DIR}/connector.yaml:ro",
              f"{MAPPINGS}:{CONFIG_DIR}/mappings:ro"]
    code, out, err = _run(image, ["check", "-c", f"{CONFIG_DIR}/connector.yaml"], mounts=mounts)
    assert code == 0, out + err
    assert out.splitlines()[0] == f"{CONFIG_DIR}/connector.yaml: OK"


def test_demo_in_the_image(image: str) -> None:
    """`demo` in the container runs the whole pipeline from the installed package's data."""
    code, out, err = _run(image, ["demo", "--timeout", "90"], timeout=240)
    assert code == 0, out + err
    assert_demo_summary(out)


@pytest.fixture
def container_name() -> Iterator[str]:
    name = f"aep-connector-test-{uuid.uuid4().hex[:8]}"
    yield name
    podman(["rm", "-f", "-t", "0", name], check=False)


def _config_dir(tmp_path: Path, *, bootstrap: str, group: str, topic: str, inlet_url: str, port: int) -> Path:
    """connector.yaml and the mapping it names, readable by the container's user."""
    conf = tmp_path / "etc"
    (conf / "mappings").mkdir(parents=True)
    shutil.copy(MAPPINGS / "loyalty-profiles.yaml", conf / "mappings" / "loyalty-profiles.yaml")
    doc = {
        "kafka": {"bootstrap_servers": bootstrap, "group_id": group, "topics": [topic]},
        "aep": {"inlet_url": inlet_url},
        "dead_letter": {"topic": f"{topic}-dlq"},
        "batching": {"linger_ms": 20, "commit_interval_ms": 200},
        "observability": {"metrics_host": "127.0.0.1", "metrics_port": port, "log_format": "json"},
        "mappings": [{"file": "mappings/loyalty-profiles.yaml", "topics": [topic]}],
    }
    (conf / "connector.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    for path in [conf, conf / "mappings", *conf.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return conf


def test_run_in_the_image_delivers_passes_healthcheck_and_stops_cleanly(
    image: str, *, kafka_bootstrap: str, unique_name: str, emulator: EmulatorServer, tmp_path: Path,
    container_name: str,
) -> None:
    """The image's default command streams a topic to AEP, its HEALTHCHECK passes, SIGTERM commits and exits 0."""
    topic, group = f"{unique_name}-profiles", f"{unique_name}-group"
    create_topic(kafka_bootstrap, topic, partitions=2)
    port = free_port()
    inlet_url = emulator.inlet_url(emulator.create_inlet())
    conf = _config_dir(tmp_path, bootstrap=kafka_bootstrap, group=group, topic=topic, inlet_url=inlet_url, port=port)
    podman(["run", "-d", "--name", container_name, *LIMITS, *HARDENED, "-e", f"AEP_CONNECTOR_METRICS_PORT={port}",
            "-v", f"{conf}:{CONFIG_DIR}:ro", image])  # the Dockerfile's CMD: run -c /etc/aep-connector/connector.yaml
    produce(kafka_bootstrap, topic, profile_messages(25))

    def accepted() -> int:
        return int(emulator.store.stats()["totals"].get("accepted", 0))

    wait_for(lambda: accepted() >= 25, 120, "25 profiles accepted by the emulator")
    health = podman(["healthcheck", "run", container_name], check=False)
    assert health.returncode == 0, f"HEALTHCHECK failed: {health.stdout}{health.stderr}"
    wait_for(lambda: sum(committed_offsets(kafka_bootstrap, group, topic).values()) == 25, 30, "offsets committed")

    started = time.monotonic()
    podman(["stop", "-t", "60", container_name], timeout=120)
    stopped_in = time.monotonic() - started
    state = json.loads(podman(["inspect", container_name]).stdout)[0]["State"]
    logs = podman(["logs", container_name]).stdout + podman(["logs", container_name]).stderr
    assert state["ExitCode"] == 0, logs[-3000:]
    assert stopped_in < 60, "SIGTERM did not stop the worker; podman killed it"
    assert '"worker_stopped"' in logs and '"signal_received"' in logs, logs[-3000:]
    assert accepted() == 25


def test_healthcheck_fails_when_the_worker_does_not_answer(image: str, container_name: str) -> None:
    """The control: the same HEALTHCHECK in a container whose worker is not serving /healthz is unhealthy."""
    port = free_port()
    podman(["run", "-d", "--name", container_name, *LIMITS, *HARDENED, "-e", f"AEP_CONNECTOR_METRICS_PORT={port}",
            "--entrypoint", "python", image, "-c", "import time; time.sleep(120)"])
    health = podman(["healthcheck", "run", container_name], check=False)
    assert health.returncode != 0
