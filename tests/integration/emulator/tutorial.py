"""The seed tutorial steps live in the package (the demo uses them too), and a mapping onto its event schema."""

from typing import Any

from connector.emulator.tutorial import (
    CLIENT_ID,
    CLIENT_SECRET,
    CONTENT_TYPE,
    Provisioned,
    envelope,
    event_message,
    platform_session,
    profile_message,
    provision,
)

__all__ = [
    "CLIENT_ID",
    "CLIENT_SECRET",
    "CONTENT_TYPE",
    "Provisioned",
    "envelope",
    "event_message",
    "platform_session",
    "profile_message",
    "provision",
    "typed_event_mapping",
]


def typed_event_mapping(p: Provisioned, topic: str) -> dict[str, Any]:
    """JSON rows {email, points, ts} -> the tutorial's event schema; `points` is not type-checked by the mapping, so
    a string there reaches AEP and breaks the schema (integer); transactionID records the Kafka coordinates."""
    return {
        "name": "loyalty-typed", "topics": [topic], "format": "json", "xdm_class": "experienceevent",
        "schema_id": p.event_schema, "dataset_id": p.event_dataset, "tenant": p.tenant, "source_name": "e2e",
        "identities": [{"namespace": "Email", "value": "value.email", "primary": True}],
        "fields": {
            "timestamp": "value.ts",
            "eventType": "'loyaltyBalanceUpdate'",
            f"_{p.tenant}.loyaltyID": "value.email",
            f"_{p.tenant}.pointsEarned": "value.points",
            f"_{p.tenant}.transactionID": "concat(topic, '/', to_string(partition), '/', to_string(offset))",
        },
    }  # fmt: skip
