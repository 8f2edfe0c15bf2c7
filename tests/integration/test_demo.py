"""`aep-connector demo` runs the whole pipeline on embedded defaults and prints its summary."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def test_demo_exits_0_with_a_summary() -> None:
    """The demo delivers the samples, dead-letters each broken record with its reason, brings back the one AEP
    failed asynchronously (emulator in its production-like default), and shows a profile."""
    proc = subprocess.run(
        [sys.executable, "-m", "connector", "demo", "--timeout", "90"],
        capture_output=True, text=True, timeout=180, cwd=REPO, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "delivered   106 records accepted by AEP (emulator: 105 in the data lake, 1 failed streaming" in out
    assert "of them 20 through the Edge Network" in out
    assert "dead-letter 6 records" in out
    reasons = ("invalid-json", "tombstone", "corrupt-avro", "future-timestamp", "missing-identity")
    for reason in (*reasons, "edge-rejected"):
        assert f"- {reason}" in out, reason
    assert "failed      1 record(s) DCS accepted and AEP then failed in streaming validation" in out
    assert "#/_exchangeinternal/loyaltyLevel enum: Bronze is not a valid enum value" in out
    assert "dead-lettered to aep-connector-dlq as aep-async-invalid (1 original Kafka record(s))" in out
    assert '"loyaltyID": "fstarr7@answers.com"' in out
    assert "middleName" not in out, "empty values never reach AEP"
