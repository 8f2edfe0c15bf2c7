"""`aep-connector emulator` starts, prints its URL, serves, and stops on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]


def test_cli_prints_url_and_stops_on_sigterm(tmp_path: Path) -> None:
    """One line with the URL; faults and clients from flags apply; SIGTERM exits 0."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "connector",
            "emulator",
            "--port",
            "0",
            "--data-dir",
            str(tmp_path),
            "--client",
            "cid:secret",
            "--fault",
            "503:seq=1:retry_after=1",
            "--fault-seed",
            "3",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = line.split(" on ", 1)[1].split()[0]
        assert url.startswith("http://127.0.0.1:")
        first = requests.post(f"{url}/collection/{'a' * 64}", json={}, timeout=5)
        assert (first.status_code, first.headers["Retry-After"]) == (503, "1")
        token = requests.post(
            f"{url}/ims/token/v3",
            data={"grant_type": "client_credentials", "client_id": "cid", "client_secret": "secret"},
            timeout=5,
        )
        assert token.status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    assert (tmp_path / "emulator.sqlite3").exists()


def test_validation_flags_reach_the_emulator() -> None:
    """--async-validation-failures reject and --no-sync-validation change what DCS answers; bad values exit 2."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "connector", "emulator", "--port", "0", "--async-validation-failures", "reject",
         "--no-sync-validation", "--batch-window", "0.5"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split(" on ", 1)[1].split()[0]
        ref = {"id": "https://ns.adobe.com/acme/schemas/1", "contentType": "application/vnd.adobe.xed-full+json"}
        event = {"header": {"schemaRef": ref, "datasetId": "d"}, "body": {"xdmMeta": {"schemaRef": ref},
                 "xdmEntity": {"_id": 1, "timestamp": "2024-01-01T00:00:00Z"}}}  # fmt: skip
        strict = requests.post(f"{url}/collection/{'a' * 64}", json=event, timeout=5)
        sync = requests.post(f"{url}/collection/{'a' * 64}?syncValidation=true", json=event, timeout=5)
        assert (strict.status_code, sync.status_code) == (400, 501)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    bad = subprocess.run(
        [sys.executable, "-m", "connector", "emulator", "--batch-window", "0"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert bad.returncode == 2 and "--batch-window" in bad.stderr
