"""Create (or find) the HTTP API streaming setup in Flow Service, idempotently by name.

The sequence is Adobe's (streaming-api.md §4):
  1. base connection, connectionSpec bc7b00d6-... (`NAME`), then GET it for the inlet URL and id;
  2. source connection on that base connection (`NAME source`);
  3. data lake target connection with the dataset and schema (`NAME target`);
  4. dataflow from source to target (`NAME dataflow`), flowSpec d8a6f005-... for XDM
     (c1a19761-... with a Data Prep mapping set for raw data).
Every step first lists its resource kind with `?property=name==<name>` and reuses a match, so a
second run creates nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from connector.config import MappingSource
from connector.errors import ConfigError, FatalError
from connector.ops.platform import PlatformClient

log = structlog.get_logger(__name__)

FLOW_SERVICE = "/data/foundation/flowservice"
STREAMING_CONNECTION_SPEC = "bc7b00d6-623a-4dfc-9fdb-f1240aeadaeb"
DATA_LAKE_CONNECTION_SPEC = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
FLOW_SPEC_XDM = "d8a6f005-7eaf-4153-983e-e8574508b877"
FLOW_SPEC_RAW = "c1a19761-d2c7-4702-b9fa-fe91f0613e81"
SCHEMA_CONTENT_TYPE = "application/vnd.adobe.xed-full+json;version=1"

Check = Callable[[dict[str, Any]], None]


@dataclass(frozen=True, slots=True)
class ProvisionRequest:
    name: str
    dataset_id: str
    schema_id: str
    authenticated: bool = False
    data_type: str = "xdm"  # xdm | raw
    mapping_id: str | None = None  # raw only: the Data Prep mapping set


@dataclass(slots=True)
class ProvisionResult:
    inlet_url: str = ""
    inlet_id: str = ""
    flow_id: str = ""
    base_connection_id: str = ""
    source_connection_id: str = ""
    target_connection_id: str = ""
    created: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)


def _spec(spec_id: str) -> dict[str, str]:
    return {"id": spec_id, "version": "1.0"}


class Provisioner:
    def __init__(self, client: PlatformClient) -> None:
        self._client = client

    def run(self, req: ProvisionRequest) -> ProvisionResult:
        if req.data_type not in ("xdm", "raw"):
            raise FatalError(f"--data-type must be xdm or raw, got {req.data_type!r}")
        if req.data_type == "raw" and not req.mapping_id:
            raise FatalError("raw data needs a Data Prep mapping set: pass --mapping-id")
        out = ProvisionResult()
        out.base_connection_id = self._ensure(out, "connections", self._base_body(req), "base connection")
        params = self._inlet_params(out.base_connection_id)
        out.inlet_url, out.inlet_id = str(params["inletUrl"]), str(params.get("inletId") or "")
        if bool(params.get("authenticationRequired", False)) != req.authenticated:
            log.warning("provision_auth_mismatch", name=req.name, existing=params.get("authenticationRequired"))
        source_body = {
            "name": f"{req.name} source",
            "description": f"Kafka connector source for {req.name}",
            "baseConnectionId": out.base_connection_id,
            "connectionSpec": _spec(STREAMING_CONNECTION_SPEC),
        }
        out.source_connection_id = self._ensure(out, "sourceConnections", source_body, "source")
        target_body = {
            "name": f"{req.name} target",
            "description": f"Kafka connector data lake target for {req.name}",
            "data": {"schema": {"id": req.schema_id, "version": SCHEMA_CONTENT_TYPE}},
            "params": {"dataSetId": req.dataset_id},
            "connectionSpec": _spec(DATA_LAKE_CONNECTION_SPEC),
        }
        out.target_connection_id = self._ensure(
            out, "targetConnections", target_body, "target", check=self._same_dataset(req)
        )
        flow_body: dict[str, Any] = {
            "name": f"{req.name} dataflow",
            "description": f"Kafka connector dataflow for {req.name}",
            "flowSpec": _spec(FLOW_SPEC_XDM if req.data_type == "xdm" else FLOW_SPEC_RAW),
            "sourceConnectionIds": [out.source_connection_id],
            "targetConnectionIds": [out.target_connection_id],
        }
        if req.data_type == "raw":
            flow_body["transformations"] = [
                {"name": "Mapping", "params": {"mappingId": req.mapping_id, "mappingVersion": 0}}
            ]
        out.flow_id = self._ensure(out, "flows", flow_body, "dataflow")
        return out

    @staticmethod
    def _base_body(req: ProvisionRequest) -> dict[str, Any]:
        params: dict[str, Any] = {"dataType": req.data_type, "name": req.name}
        if req.authenticated:
            params.update(sourceId=req.name, authenticationRequired=True)
        return {
            "name": req.name,
            "description": f"Kafka connector streaming connection {req.name}",
            "connectionSpec": _spec(STREAMING_CONNECTION_SPEC),
            "auth": {"specName": "Streaming Connection", "params": params},
        }

    @staticmethod
    def _same_dataset(req: ProvisionRequest) -> Check:
        def check(item: dict[str, Any]) -> None:
            existing = (item.get("params") or {}).get("dataSetId")
            if existing and existing != req.dataset_id:
                raise FatalError(
                    f"target connection {item.get('name')!r} exists for dataset {existing}, not {req.dataset_id}: "
                    "use another --name"
                )

        return check

    def _find(self, kind: str, name: str) -> dict[str, Any] | None:
        doc = self._client.get(f"{FLOW_SERVICE}/{kind}", params={"property": f"name=={name}"})
        items = doc.get("items", []) if isinstance(doc, dict) else []
        matches = [i for i in items if isinstance(i, dict) and i.get("name") == name and i.get("state") != "deleted"]
        matches.sort(key=lambda i: i.get("createdAt") or 0)
        return matches[0] if matches else None

    def _ensure(
        self, out: ProvisionResult, kind: str, body: dict[str, Any], label: str, *, check: Check | None = None
    ) -> str:
        name = str(body["name"])
        found = self._find(kind, name)
        if found is not None:
            if check is not None:
                check(found)
            out.reused.append(label)
            log.info("provision_reused", kind=kind, name=name, id=found["id"])
            return str(found["id"])
        created = self._client.post(f"{FLOW_SERVICE}/{kind}", body)
        if not isinstance(created, dict) or not created.get("id"):
            raise FatalError(f"POST {kind} answered without an id: {created!r}")
        out.created.append(label)
        log.info("provision_created", kind=kind, name=name, id=created["id"])
        return str(created["id"])

    def _inlet_params(self, connection_id: str) -> dict[str, Any]:
        doc = self._client.get(f"{FLOW_SERVICE}/connections/{connection_id}")
        try:
            params = doc["items"][0]["auth"]["params"]
        except (KeyError, IndexError, TypeError):
            raise FatalError(f"connection {connection_id} has no items[0].auth.params") from None
        if not isinstance(params, dict) or not params.get("inletUrl"):
            raise FatalError(f"connection {connection_id} has no inlet URL (items[0].auth.params.inletUrl)")
        return params


def dataset_sandbox(mappings: Sequence[MappingSource], dataset_id: str) -> str | None:
    """The `sandbox` the DCS mappings writing `dataset_id` name (None if none does); they must agree."""
    named = {
        str(m.spec["sandbox"])
        for m in mappings
        if isinstance(m.spec, dict) and m.spec.get("dataset_id") == dataset_id and m.spec.get("sandbox")
    }
    if len(named) > 1:
        listed = ", ".join(sorted(named))
        raise ConfigError([f"mappings writing dataset {dataset_id} differ in sandbox ({listed}): pass --sandbox"])
    return named.pop() if named else None


def config_snippet(result: ProvisionResult) -> str:
    return f"aep:\n  inlet_url: {result.inlet_url}\n  flow_id: {result.flow_id}\n"
