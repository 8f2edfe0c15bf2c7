"""The bundled sample data `aep-connector produce --sample NAME` sends (connector/samples/).

Each sample matches a mapping of config/mappings: the name is also the topic it is produced to
by default, and `key_field` the value field used as the Kafka key.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any


def avro_twin(event: dict[str, Any]) -> dict[str, Any]:
    """A JSON loyalty event in the shape of samples/loyalty-event.avsc (the loyalty-events-avro mapping)."""
    loyalty = event["_exchangeinternal"]
    return {
        "event_id": int(event["_id"]) + 1,  # distinct ids: new events, not replays of the JSON ones
        "event_type": event["eventType"],
        "event_time": event["timestamp"],
        "loyalty_id": loyalty["loyaltyID"],
        "points_earned": loyalty["pointsEarned"],
        "total_points": loyalty["totalPoints"],
        "loyalty_level": loyalty["loyaltyLevel"],
    }


@dataclass(frozen=True, slots=True)
class Sample:
    name: str
    file: str
    key_field: str
    shape: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    avro_schema: str | None = None  # the writer schema for Avro topics, in connector/samples/

    def values(self) -> list[dict[str, Any]]:
        text = (resources.files("connector") / "samples" / self.file).read_text(encoding="utf-8")
        records: list[dict[str, Any]] = json.loads(text)
        return [self.shape(r) for r in records] if self.shape else records

    def schema_text(self) -> str | None:
        if self.avro_schema is None:
            return None
        return (resources.files("connector") / "samples" / self.avro_schema).read_text(encoding="utf-8")


SAMPLES = {
    s.name: s
    for s in (
        Sample("loyalty-profiles", "loyalty-profiles.json", "_exchangeinternal.loyaltyID"),
        Sample("loyalty-events", "loyalty-events.json", "_exchangeinternal.loyaltyID"),
        Sample("loyalty-events-avro", "loyalty-events.json", "loyalty_id", avro_twin, "loyalty-event.avsc"),
        Sample("commerce-orders", "commerce-orders.json", "orderId"),
    )
}
