"""An XDM schema and dataset provisioned in the emulator through the Platform API, and configs validating against it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
import requests
import yaml

from connector.emulator import DEFAULT_ORG, EmulatorServer
from connector.emulator.tutorial import CLIENT_ID, CLIENT_SECRET, platform_session
from tests.integration.pipeline.harness import audit_mapping, write_config

INLET = "9b0cb233972f3b0092992284c7353f5eead496218e8441a79b25e9421ea127f5"
SR = "/data/foundation/schemaregistry"
XED_FULL = "application/vnd.adobe.xed-full+json;version=1"
EVENT_CLASS = "https://ns.adobe.com/xdm/context/experienceevent"


@dataclass(frozen=True)
class Audited:
    """The audit schema and its dataset, as provisioned in the emulator."""

    schema_id: str
    dataset: str
    fieldgroup: str
    session: requests.Session

    def resolved(self, base: str) -> dict[str, Any]:
        """The schema as AEP's Schema Registry returns it resolved (xed-full)."""
        response = self.session.get(
            f"{base}{SR}/tenant/schemas/{quote(self.schema_id, safe='')}", headers={"Accept": XED_FULL}, timeout=5
        )
        assert response.status_code == 200, response.text
        doc: dict[str, Any] = response.json()
        return doc


def audit_fields(levels: list[str]) -> dict[str, Any]:
    """The tenant fields of harness.audit_mapping's entities, plus `level` (an enum) and `n` (int, >= 0)."""
    return {
        "_acme": {
            "type": "object",
            "properties": {
                "source": {
                    "type": "object",
                    "properties": {
                        "topic": {"type": "string"},
                        "partition": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
                        "offset": {"type": "integer", "minimum": 0, "maximum": 2**53 - 1},
                    },
                },
                "n": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
                "level": {"type": "string", "enum": levels},
            },
        }
    }


def provision_audit(emulator: EmulatorServer, levels: list[str] | None = None) -> Audited:
    """A field group, an ExperienceEvent schema using it and a dataset, created through the Platform API."""
    session = platform_session(emulator)
    base = emulator.url
    group = {
        "type": "object",
        "title": "Audit fields",
        "meta:intendedToExtend": [EVENT_CLASS],
        "definitions": {"audit": {"properties": audit_fields(levels or ["Silver", "Gold"])}},
        "allOf": [{"$ref": "#/definitions/audit"}],
    }
    fieldgroup = _created(session.post(f"{base}{SR}/tenant/fieldgroups", json=group, timeout=5))["$id"]
    schema = {"type": "object", "title": "Audit", "allOf": [{"$ref": EVENT_CLASS}, {"$ref": fieldgroup}]}
    schema_id = _created(session.post(f"{base}{SR}/tenant/schemas", json=schema, timeout=5))["$id"]
    dataset = {"name": "audit events", "schemaRef": {"id": schema_id, "contentType": XED_FULL}}
    created = _created(session.post(f"{base}/data/foundation/catalog/dataSets", json=dataset, timeout=5))
    return Audited(schema_id, str(created[0]).removeprefix("@/dataSets/"), fieldgroup, session)


def change_levels(emulator: EmulatorServer, audited: Audited, levels: list[str]) -> None:
    """Edit the field group in AEP (JSON Patch): the schema's minor version goes up."""
    patch = [{"op": "replace", "path": "/definitions/audit/properties/_acme/properties/level/enum", "value": levels}]
    url = f"{emulator.url}{SR}/tenant/fieldgroups/{quote(audited.fieldgroup, safe='')}"
    response = audited.session.patch(url, json=patch, timeout=5)
    assert response.status_code == 200, response.text


def _created(response: requests.Response) -> Any:
    assert response.status_code == 201, response.text
    return response.json()


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
    audited: Audited,
    cache_dir: Path,
    platform_url: str | None = None,
    xdm: dict[str, Any] | None = None,
    **mapping: Any,
) -> Path:
    """A worker config whose audit mapping validates (schema: from-dataset unless overridden)."""
    mapping = {"schema": "from-dataset", "schema_id": audited.schema_id, **mapping}
    spec = audit_mapping(topic, dataset=audited.dataset, **mapping)
    spec["fields"]["_acme.level"] = "value.level"
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
    config["xdm"] = {"cache_dir": str(cache_dir), "startup_timeout_s": 0, **(xdm or {})}
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def audit_value(n: Any, i: int, level: str = "Gold") -> bytes:
    row = {"n": n, "level": level, "email": f"user{i % 97}@example.com", "ts": "2024-05-01T10:00:00Z"}
    return orjson.dumps(row)
