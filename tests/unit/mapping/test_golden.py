"""Golden files: every shipped sample record, mapped by its shipped mapping, equals the stored envelope.

Regenerate after an intended change with `UPDATE_GOLDEN=1 pytest tests/unit/mapping/test_golden.py`
and read the diff.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from connector.errors import MappingError
from tests.unit.mapping.helpers import GOLDEN, SAMPLES, record, shipped

CASES = ["loyalty-events", "loyalty-profiles", "commerce-orders"]


def _map_samples(name: str) -> list[Any]:
    mapping = shipped(name)
    values = json.loads((SAMPLES / f"{name}.json").read_text(encoding="utf-8"))
    out: list[Any] = []
    for i, value in enumerate(values):
        rec = record(i, topic=name, key=f"key-{i}".encode(), timestamp_ms=1_700_000_000_000 + i)
        try:
            out.append(mapping.map(rec, value))
        except MappingError as exc:
            out.append({"error": {"reason": exc.reason, "target": exc.target, "message": exc.message}})
    return out


@pytest.mark.parametrize("name", CASES)
def test_samples_map_to_golden_envelopes(name: str) -> None:
    """Each sample record maps to exactly the envelope stored in golden/<name>.json."""
    got = _map_samples(name)
    path = GOLDEN / f"{name}.json"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(json.dumps(got, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert got == json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", CASES)
def test_samples_all_map_without_error(name: str) -> None:
    """The shipped samples are all valid: none is dead-lettered."""
    assert not [e for e in _map_samples(name) if "error" in e]


def test_loyalty_specifics() -> None:
    """Integer _id becomes a string, empty middleName is dropped, Email from loyaltyID is the primary identity."""
    event = _map_samples("loyalty-events")[0]["body"]["xdmEntity"]
    assert event["_id"] == "15367038"
    assert event["identityMap"] == {
        "Email": [{"id": "fstarr7@answers.com", "authenticatedState": "authenticated", "primary": True}]
    }
    for envelope in _map_samples("loyalty-profiles"):
        entity = envelope["body"]["xdmEntity"]
        assert "middleName" not in entity["person"]["name"]
        assert entity["identityMap"]["Email"][0]["primary"] is True
