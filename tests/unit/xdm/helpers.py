"""Resolved XDM schemas (as the Schema Registry's xed-full answer looks) and a fake Schema Registry."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from connector.errors import FatalError, RetriableError

REPO = Path(__file__).resolve().parents[3]
LOYALTY_SCHEMA_FILE = REPO / "config" / "schemas" / "loyalty-events.xdm.json"
LOYALTY_SCHEMA: dict[str, Any] = json.loads(LOYALTY_SCHEMA_FILE.read_text(encoding="utf-8"))
LOYALTY_ID = LOYALTY_SCHEMA["$id"]
EVENT_CLASS = "https://ns.adobe.com/xdm/context/experienceevent"


def loyalty_entity(**overrides: Any) -> dict[str, Any]:
    """A valid mapped loyalty event (what config/mappings/loyalty-events.yaml produces)."""
    entity: dict[str, Any] = {
        "_id": "15367038",
        "timestamp": "2020-03-03T06:34:55Z",
        "eventType": "loyaltyBalanceUpdate",
        "_exchangeinternal": {
            "loyaltyID": "fstarr7@answers.com",
            "pointsEarned": 800,
            "totalPoints": 211050,
            "loyaltyLevel": "Platinum",
        },
        "identityMap": {
            "Email": [{"id": "fstarr7@answers.com", "authenticatedState": "authenticated", "primary": True}]
        },
    }
    entity.update(overrides)
    return entity


def event_schema(
    props: dict[str, Any], *, version: str = "1.0", schema_id: str = "https://ns.adobe.com/acme/schemas/t", **top: Any
) -> dict[str, Any]:
    """A minimal resolved ExperienceEvent schema with `props` under the tenant namespace _acme."""
    doc: dict[str, Any] = {
        "$id": schema_id,
        "meta:altId": "_acme.schemas.t",
        "version": version,
        "type": "object",
        "meta:class": EVENT_CLASS,
        "meta:tenantNamespace": "_acme",
        "properties": {
            "_id": {"type": "string", "format": "uri-reference", "meta:xdmField": "@id"},
            "timestamp": {"type": "string", "format": "date-time", "meta:xdmField": "xdm:timestamp"},
            "eventType": {"type": "string", "meta:enum": {"commerce.purchases": "Purchases"}},
            "_acme": {"type": "object", "meta:xdmType": "object", "properties": props},
        },
        "required": ["@id", "xdm:timestamp"],
    }
    doc.update(top)
    return doc


def acme_event(**fields: Any) -> dict[str, Any]:
    return {"_id": "e1", "timestamp": "2024-05-01T10:00:00Z", "_acme": fields}


class FakeRegistry:
    """SchemaSource: serves `docs` by $id and `datasets` by id; `down` makes it unreachable."""

    def __init__(self, docs: dict[str, dict[str, Any]] | None = None, datasets: dict[str, str] | None = None) -> None:
        self.docs = {k: copy.deepcopy(v) for k, v in (docs or {}).items()}
        self.datasets = dict(datasets or {})
        self.down = False
        self.schema_calls = 0
        self.dataset_calls = 0

    def schema(self, schema_id: str) -> dict[str, Any]:
        self.schema_calls += 1
        if self.down:
            raise RetriableError("GET schema: ConnectionError: connection refused")
        if schema_id not in self.docs:
            raise FatalError(f"schema {schema_id} does not exist in the Schema Registry of this sandbox")
        return copy.deepcopy(self.docs[schema_id])

    def dataset_schema_id(self, dataset_id: str) -> str:
        self.dataset_calls += 1
        if self.down:
            raise RetriableError("GET dataset: ConnectionError: connection refused")
        if dataset_id not in self.datasets:
            raise FatalError(f"dataset {dataset_id} does not exist in Catalog (in this sandbox)")
        return self.datasets[dataset_id]
