"""A debug-level authenticated `aep-connector run` never writes the client secret or an IMS token to its output."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from connector.emulator import DEFAULT_ORG
from connector.emulator.ims import TOKENS
from connector.emulator.server import EmulatorServer
from tests.harness.kafka_broker import create_topic, produce
from tests.harness.ports import free_port
from tests.integration.ops.helpers import ROOT, http_get, profile_messages, wait_for, write_config

pytestmark = pytest.mark.integration

CLIENT_ID = "log-test-client"
CLIENT_SECRET = "Very-Secret-Client-Value-42"


@pytest.fixture
def emulator(emulator: EmulatorServer) -> EmulatorServer:
    """The shared emulator, with this module's IMS client."""
    emulator.add_client(CLIENT_ID, CLIENT_SECRET)
    return emulator


def test_debug_run_logs_no_secret_or_token(
    kafka_bootstrap: str, unique_name: str, emulator: EmulatorServer, tmp_path: Path
) -> None:
    """Captured stdout/stderr of a full authenticated run hold neither the client secret nor any issued token."""
    topic, dlq = f"{unique_name}-profiles", f"{unique_name}-dlq"
    create_topic(kafka_bootstrap, topic, partitions=2)
    create_topic(kafka_bootstrap, dlq, partitions=1)
    port = free_port()
    inlet = emulator.inlet_url(emulator.create_inlet(authenticated=True))
    config = write_config(
        tmp_path / "connector.yaml",
        bootstrap=kafka_bootstrap,
        group=f"{unique_name}-group",
        topic=topic,
        dlq=dlq,
        aep={
            "inlet_url": inlet,
            "ims_org": DEFAULT_ORG,
            "auth": {
                "enabled": True,
                "client_id": CLIENT_ID,
                "client_secret": "${TEST_CLIENT_SECRET}",
                "token_url": f"{emulator.url}/ims/token/v3",
            },
        },
        observability={"metrics_port": port, "log_level": "debug", "log_format": "json", "lag_refresh_s": 0.5},
    )
    messages = profile_messages(30)
    messages.append((b"bad", b"{not json"))
    produce(kafka_bootstrap, topic, messages)
    env = {**os.environ, "TEST_CLIENT_SECRET": CLIENT_SECRET, "PYTHONPATH": str(ROOT)}
    out_path, err_path = tmp_path / "stdout.log", tmp_path / "stderr.log"
    with out_path.open("w") as out_file, err_path.open("w") as err_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "connector", "run", "-c", str(config)], stdout=out_file, stderr=err_file, env=env
        )
    failure: AssertionError | None = None
    try:
        wait_for(lambda: len(emulator.store.records()) == 30, 60, "30 records accepted by the authenticated inlet")
        emulator.app.ims.expire_all()
        produce(kafka_bootstrap, topic, profile_messages(5, start=30))
        wait_for(lambda: len(emulator.store.records()) == 35, 60, "5 more records after the token expired")
        assert http_get(f"http://127.0.0.1:{port}/metrics")[0] == 200
    except AssertionError as exc:
        failure = exc
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    out, err = out_path.read_text(), err_path.read_text()
    assert failure is None, f"{failure}\n{err[-3000:]}"
    assert proc.returncode == 0, err[-3000:]
    tokens = [token for token, _ in emulator.store.items(TOKENS)]
    assert len(tokens) >= 2, "the run should have fetched a token and refreshed it after expiry"
    captured = out + err
    assert '"token_refreshed"' in captured
    assert CLIENT_SECRET not in captured
    for token in tokens:
        assert token not in captured
    assert '"level": "debug"' in captured, "debug logging was not on"
