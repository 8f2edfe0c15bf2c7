"""`aep-connector emulator` prints IMS URL, credentials and a config snippet that `check --connect` accepts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from connector import cli
from tests.harness.kafka_broker import create_topic
from tests.integration.ops.helpers import ROOT, write_config

pytestmark = pytest.mark.integration


def _read_banner(proc: subprocess.Popen[str]) -> list[str]:
    assert proc.stdout is not None
    lines: list[str] = []
    while not lines or "client_secret:" not in lines[-1]:
        line = proc.stdout.readline()
        assert line, "emulator stopped before printing its snippet:\n" + "".join(lines)
        lines.append(line)
    return lines


def test_snippet_configures_a_working_connection(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """The pasted `aep:` block (auth turned on, secret from the printed export) passes check --connect,
    even with --strict-inlets: the quick-start inlet is registered."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "connector", "emulator", "--port", "0", "--strict-inlets"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    try:
        lines = _read_banner(proc)
        text = "".join(lines)
        url = lines[0].split(" on ", 1)[1].split()[0]
        assert f"IMS token URL  {url}/ims/token/v3" in text and "client id      aep-connector-dev" in text
        secret = text.split("export AEP_CLIENT_SECRET='", 1)[1].split("'", 1)[0]
        assert f"client secret  {secret}" in text and len(secret) >= 20
        snippet = yaml.safe_load("".join(lines[next(i for i, x in enumerate(lines) if x.startswith("aep:")) :]))
        assert snippet["aep"]["auth"]["client_secret"] == "${AEP_CLIENT_SECRET}"
        topic = f"{unique_name}-profiles"
        create_topic(kafka_bootstrap, topic)
        aep = {**snippet["aep"], "auth": {**snippet["aep"]["auth"], "enabled": True}}
        config = write_config(tmp_path / "connector.yaml", bootstrap=kafka_bootstrap, group=f"{unique_name}-g",
                              topic=topic, dlq=f"{unique_name}-dlq", aep=aep)  # fmt: skip
        monkeypatch.setenv("AEP_CLIENT_SECRET", secret)
        capsys.readouterr()
        code = cli.main(["check", "-c", str(config), "--connect"])
        out = capsys.readouterr().out
        assert code == 0, out
        assert "token obtained" in out and "9b0cb233" in out
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
