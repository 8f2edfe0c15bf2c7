"""207 construction and the per-message failure shapes."""

from __future__ import annotations

import uuid

from connector.emulator.dcs import batch_body, failure_entry


def test_batch_body_one_entry_per_message_in_order() -> None:
    """Successes carry batchId:index; failures sit at their index."""
    body = batch_body("i", "1:0001:1", 1, {1: "bad"}, 3, shape="statusCode")
    assert body == {
        "inletId": "i",
        "batchId": "1:0001:1",
        "receivedTimeMs": 1,
        "responses": [{"xactionId": "1:0001:1:0"}, {"statusCode": 400, "message": "bad"}, {"xactionId": "1:0001:1:2"}],
    }


def test_status_shape_has_uuid_index_xaction() -> None:
    """The 'status' shape has status, message and an xactionId `{uuid}-{index}`."""
    entry = failure_entry("status", 12, "bad")
    assert set(entry) == {"status", "xactionId", "message"}
    prefix, _, index = entry["xactionId"].rpartition("-")
    uuid.UUID(prefix)
    assert index == "12"


def test_both_shape() -> None:
    """The 'both' shape carries statusCode and status."""
    entry = failure_entry("both", 0, "bad")
    assert entry["statusCode"] == entry["status"] == 400
    assert entry["xactionId"].endswith("-0")
