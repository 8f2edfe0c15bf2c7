"""Typed views over the store's registry objects: inlets, datasets, flows, schemas, descriptors."""

from __future__ import annotations

import threading
from typing import Any

from connector.emulator import ids
from connector.emulator.resolve import compile_schema
from connector.emulator.store import MemoryStore
from connector.emulator.validation import DatasetInfo, InletInfo
from connector.emulator.xdm import CompiledSchema

INLETS = "inlets"
CONNECTIONS = "connections"
SOURCE_CONNECTIONS = "sourceConnections"
TARGET_CONNECTIONS = "targetConnections"
FLOWS = "flows"
DATASETS = "datasets"
SCHEMAS = "schemas"
FIELDGROUPS = "fieldgroups"
DATATYPES = "datatypes"
DESCRIPTORS = "descriptors"
MAPPING_SETS = "mappingSets"
_SCHEMA_KINDS = (DATASETS, SCHEMAS, FIELDGROUPS, DATATYPES, DESCRIPTORS)


class Registry:
    """Lookups the DCS hot path needs, with the compiled schema of each dataset cached."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._datasets: dict[str, DatasetInfo | None] = {}
        self._inlets: dict[str, InletInfo | None] = {}

    def put(self, kind: str, key: str, value: dict[str, Any]) -> None:
        self.store.put(kind, key, value)
        self.invalidate(kind)

    def delete(self, kind: str, key: str) -> None:
        self.store.delete(kind, key)
        self.invalidate(kind)

    def invalidate(self, kind: str | None = None) -> None:
        with self._lock:
            if kind is None or kind in _SCHEMA_KINDS or kind in (FLOWS, TARGET_CONNECTIONS):
                self._datasets = {}
            if kind is None or kind == INLETS:
                self._inlets = {}

    # inlets ---------------------------------------------------------------------------------
    def create_inlet(
        self,
        *,
        name: str,
        authenticated: bool,
        org: str,
        data_type: str = "xdm",
        connection_id: str | None = None,
        source_id: str | None = None,
        inlet_id: str | None = None,
    ) -> str:
        inlet = inlet_id or ids.inlet_id()
        self.put(
            INLETS,
            inlet,
            {
                "inletId": inlet,
                "name": name,
                "authenticationRequired": authenticated,
                "org": org,
                "dataType": data_type,
                "connectionId": connection_id,
                "sourceId": source_id or name,
            },
        )
        return inlet

    def inlet(self, inlet_id: str) -> InletInfo | None:
        cached = self._inlets.get(inlet_id, False)
        if cached is not False:
            return cached  # type: ignore[return-value]
        doc = self.store.get(INLETS, inlet_id)
        info = None
        if doc is not None:
            info = InletInfo(
                inlet_id,
                str(doc["org"]),
                bool(doc.get("authenticationRequired")),
                str(doc.get("dataType", "xdm")),
                str(doc.get("name", "")),
            )
        with self._lock:
            self._inlets[inlet_id] = info
        return info

    # datasets and schemas -------------------------------------------------------------------
    def dataset(self, dataset_id: str) -> DatasetInfo | None:
        cached = self._datasets.get(dataset_id, False)
        if cached is not False:
            return cached  # type: ignore[return-value]
        doc = self.store.get(DATASETS, dataset_id)
        info = None
        if doc is not None:
            ref = doc.get("schemaRef") or {}
            schema_id = ref.get("id") if isinstance(ref, dict) else None
            info = DatasetInfo(dataset_id, schema_id, self.compiled(schema_id) if schema_id else None)
        with self._lock:
            self._datasets[dataset_id] = info
        return info

    def schema_doc(self, schema_id: str) -> dict[str, Any] | None:
        return self.tenant_doc(SCHEMAS, schema_id)

    def fieldgroup_doc(self, group_id: str) -> dict[str, Any] | None:
        return self.tenant_doc(FIELDGROUPS, group_id)

    def tenant_doc(self, kind: str, item_id: str) -> dict[str, Any] | None:
        """A tenant resource by `$id`, `meta:altId` or the last segment of its `$id`."""
        doc = self.store.get(kind, item_id)
        if doc is not None:
            return doc
        for _, candidate in self.store.items(kind):
            if item_id in (candidate.get("meta:altId"), str(candidate.get("$id", "")).rpartition("/")[2]):
                return candidate
        return None

    def tenant_resources(self) -> dict[str, dict[str, Any]]:
        """Tenant field groups and data types by `$id`: what schemas may `$ref` besides the global library."""
        out = dict(self.store.items(FIELDGROUPS))
        out.update(self.store.items(DATATYPES))
        return out

    def descriptors_of(self, schema_id: str) -> list[dict[str, Any]]:
        return [
            d
            for _, d in self.store.items(DESCRIPTORS)
            if d.get("xdm:sourceSchema") == schema_id and d.get("@type") == "xdm:descriptorIdentity"
        ]

    def compiled(self, schema_id: str) -> CompiledSchema | None:
        doc = self.store.get(SCHEMAS, schema_id)
        if doc is None:
            return None
        return compile_schema(schema_id, doc, self.tenant_resources(), self.descriptors_of(schema_id))

    def flow_dataset(self, flow_id: str) -> str | None:
        """The data lake dataset a dataflow writes to (its first target connection's `dataSetId`)."""
        flow = self.store.get(FLOWS, flow_id)
        if not flow:
            return None
        for target_id in flow.get("targetConnectionIds", []):
            target = self.store.get(TARGET_CONNECTIONS, str(target_id))
            params = (target or {}).get("params") or {}
            ds = params.get("dataSetId") or params.get("datasetId")
            if isinstance(ds, str):
                return ds
        return None
