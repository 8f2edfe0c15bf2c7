"""`aep-connector demo` runs the whole pipeline on embedded defaults and prints its summary."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def test_demo_exits_0_with_a_summary() -> None:
    """The demo delivers the samples, dead-letters each broken record with its reason, brings back the two AEP
    failed asynchronously (one through DCS, one through the Edge; emulator in its production-like default), and
    shows a profile."""
    proc = subprocess.run(
        [sys.executable, "-m", "connector", "demo", "--timeout", "90"],
        capture_output=True, text=True, timeout=180, cwd=REPO, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "delivered   107 records accepted by AEP (emulator: 105 in the data lake, 2 failed streaming" in out
    assert "of them 21 through the Edge Network" in out
    assert "dead-letter 5 records" in out
    for reason in ("invalid-json", "tombstone", "corrupt-avro", "future-timestamp", "missing-identity"):
        assert f"- {reason}" in out, reason
    assert "failed      2 record(s) DCS or the Edge Network accepted and AEP then failed" in out
    assert "#/_exchangeinternal/loyaltyLevel enum: Bronze is not a valid enum value" in out
    edge = re.search(r"- loyalty-events-edge/\d+/\d+ +#/_exchangeinternal/loyaltyID format", out)
    assert edge is not None, "the Edge event, traced to its Kafka record"
    assert "dead-lettered to aep-connector-dlq as aep-async-invalid (2 original Kafka record(s))" in out
    assert '"loyaltyID": "fstarr7@answers.com"' in out
    assert "middleName" not in out, "empty values never reach AEP"
