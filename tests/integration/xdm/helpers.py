"""An emulator serving a resolved XDM schema and its dataset, and configs that validate against it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import yaml

from connector.emulator import DEFAULT_ORG, EmulatorServer
from connector.emulator.registry import DATASETS, SCHEMAS
from tests.integration.pipeline.harness import audit_mapping, write_config

CLIENT_ID = "xdm-client"
CLIENT_SECRET = "xdm-secret"
SCHEMA_ID = "https://ns.adobe.com/acme/schemas/audit"
DATASET = "audit-dataset"
INLET = "9b0cb233972f3b0092992284c7353f5eead496218e8441a79b25e9421ea127f5"


def audit_schema(version: str = "1.0") -> dict[str, Any]:
    """The resolved (xed-full) ExperienceEvent schema of harness.audit_mapping's entities."""
    identity = {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "authenticatedState": {"type": "string", "enum": ["ambiguous", "authenticated", "loggedOut"]},
            "primary": {"type": "boolean"},
        },
    }
    return {
        "$id": SCHEMA_ID,
        "meta:altId": "_acme.schemas.audit",
        "meta:resourceType": "schemas",
        "version": version,
        "title": "Audit events",
        "type": "object",
        "meta:class": "https://ns.adobe.com/xdm/context/experienceevent",
        "meta:tenantNamespace": "_acme",
        "properties": {
            "_id": {"type": "string", "format": "uri-reference", "meta:xdmField": "@id"},
            "timestamp": {"type": "string", "format": "date-time", "meta:xdmField": "xdm:timestamp"},
            "eventType": {"type": "string", "meta:enum": {"commerce.purchases": "Purchases"}},
            "identityMap": {
                "type": "object",
                "meta:xdmType": "map",
                "additionalProperties": {"type": "array", "items": identity},
            },
            "_acme": {
                "type": "object",
                "properties": {
                    "source": {
                        "type": "object",
                        "properties": {
                            "topic": {"type": "string"},
                            "partition": {"type": "integer", "meta:xdmType": "int"},
                            "offset": {"type": "integer", "meta:xdmType": "long"},
                        },
                    },
                    "n": {"type": "integer", "meta:xdmType": "int", "minimum": 0},
                },
            },
        },
        "required": ["_id", "timestamp"],  # instance names: the emulator does not translate @id/xdm:timestamp
    }


def serve_schema(emulator: EmulatorServer, doc: dict[str, Any] | None = None) -> None:
    """Store the resolved schema and a dataset bound to it; register the Platform API client.

    Stored as AEP's xed-full answer looks, so GET .../tenant/schemas/{id} returns it resolved
    (the emulator does not yet resolve schemas created through POST).
    """
    doc = doc or audit_schema()
    emulator.add_client(CLIENT_ID, CLIENT_SECRET)
    emulator.app.registry.put(SCHEMAS, doc["$id"], doc)
    emulator.app.registry.put(
        DATASETS,
        DATASET,
        {
            "id": DATASET,
            "name": "audit events",
            "schemaRef": {"id": doc["$id"], "contentType": "application/vnd.adobe.xed-full+json;version=1"},
        },
    )


def platform_aep(emulator_url: str, platform_url: str | None = None) -> dict[str, Any]:
    """The aep section's Platform API part: OAuth client, org, sandbox (auth for DCS stays off)."""
    platform = platform_url or emulator_url
    return {
        "ims_org": DEFAULT_ORG,
        "sandbox": "prod",
        "platform_url": platform,
        "auth": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "token_url": f"{platform}/ims/token/v3"},
    }


def validating_config(
    path: Path,
    *,
    bootstrap: str,
    group: str,
    topic: str,
    dead_letter: str,
    emulator: EmulatorServer,
    cache_dir: Path,
    platform_url: str | None = None,
    **mapping: Any,
) -> Path:
    """A worker config whose audit mapping validates (schema: from-dataset unless overridden)."""
    spec = audit_mapping(topic, dataset=DATASET, **{"schema": "from-dataset", **mapping})
    write_config(
        path,
        bootstrap=bootstrap,
        group=group,
        topics=[topic],
        dead_letter=dead_letter,
        inlet_url=emulator.inlet_url(INLET),
        mappings=[spec],
        aep=platform_aep(emulator.url, platform_url),
    )
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    config["xdm"] = {"cache_dir": str(cache_dir), "startup_timeout_s": 0}
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def audit_value(n: Any, i: int) -> bytes:
    return orjson.dumps({"n": n, "email": f"user{i % 97}@example.com", "ts": "2024-05-01T10:00:00Z"})
