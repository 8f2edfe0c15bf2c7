"""Schema Registry (`/data/foundation/schemaregistry`) and Catalog datasets (`/data/foundation/catalog`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from connector.emulator import ids
from connector.emulator.config import EmulatorOptions
from connector.emulator.http import Request, Response, bad_request, json_response, not_found
from connector.emulator.registry import DATASETS, DESCRIPTORS, FIELDGROUPS, SCHEMAS, Registry
from connector.emulator.xdm import CLASS_ALT_IDS, EVENT_CLASS, class_of, refs_of

SR_PREFIX = "/data/foundation/schemaregistry/"
CATALOG_PREFIX = "/data/foundation/catalog/"


class SchemaRegistry:
    def __init__(self, registry: Registry, options: EmulatorOptions) -> None:
        self.registry = registry
        self.options = options

    @property
    def tenant(self) -> str:
        return self.options.tenant_id

    def handle(self, req: Request, caller: dict[str, Any]) -> Response:
        rest = req.path[len(SR_PREFIX) :].strip("/")
        if rest == "stats" and req.method == "GET":
            return json_response(200, self._stats(caller))
        container, _, rest = rest.partition("/")
        resource, _, item_id = rest.partition("/")
        item_id = unquote(item_id)
        if container not in ("tenant", "global"):
            return not_found(f"unknown container {container!r}")
        if resource == "schemas":
            return self._resource(req, caller, SCHEMAS, "schemas", item_id)
        if resource in ("fieldgroups", "mixins"):
            return self._resource(req, caller, FIELDGROUPS, "mixins", item_id)
        if resource == "descriptors":
            return self._descriptors(req, caller, item_id)
        return not_found(f"unknown Schema Registry resource {resource!r}")

    def _stats(self, caller: dict[str, Any]) -> dict[str, Any]:
        store = self.registry.store
        return {
            "imsOrg": caller["org"],
            "tenantId": self.tenant,
            "counts": {
                "schemas": len(store.items(SCHEMAS)),
                "mixins": len(store.items(FIELDGROUPS)),
                "descriptors": len(store.items(DESCRIPTORS)),
                "datatypes": 0,
                "classes": 0,
                "unions": 0,
            },
        }

    def _resource(self, req: Request, caller: dict[str, Any], kind: str, segment: str, item_id: str) -> Response:
        lookup = self.registry.schema_doc if kind == SCHEMAS else self.registry.fieldgroup_doc
        if req.method == "GET" and item_id:
            doc = lookup(item_id)
            return json_response(200, doc) if doc else not_found(f"{segment} {item_id} not found")
        if req.method == "GET":
            results = [
                {"$id": d["$id"], "meta:altId": d["meta:altId"], "version": d["version"], "title": d.get("title", "")}
                for _, d in self.registry.store.items(kind)
            ]
            return json_response(200, {"results": results, "_page": {"count": len(results)}, "_links": {}})
        if req.method == "DELETE" and item_id:
            doc = lookup(item_id)
            if not doc:
                return not_found(f"{segment} {item_id} not found")
            self.registry.delete(kind, doc["$id"])
            return Response(204)
        if req.method != "POST" or item_id:
            return json_response(405, {"status": 405, "title": "Method Not Allowed"})
        body = req.json()
        if not isinstance(body, dict):
            return bad_request("the request body must be a JSON object")
        groups = dict(self.registry.store.items(FIELDGROUPS))
        klass = class_of(body, groups) if kind == SCHEMAS else None
        if kind == SCHEMAS and klass is None:
            return bad_request("a schema must extend a class (allOf $ref or meta:class)")
        hex_id = ids.schema_hex()
        doc = {
            **body,
            "$id": f"https://ns.adobe.com/{self.tenant}/{segment}/{hex_id}",
            "meta:altId": f"_{self.tenant}.{segment}.{hex_id}",
            "meta:resourceType": segment,
            "version": "1.0",
            "meta:containerId": "tenant",
            "imsOrg": caller["org"],
            "meta:tenantNamespace": f"_{self.tenant}",
            "meta:extends": refs_of(body),
            "meta:registryMetadata": {
                "repo:createdDate": ids.now_ms(),
                "repo:lastModifiedDate": ids.now_ms(),
                "xdm:createdClientId": caller["client_id"],
                "eTag": ids.etag(),
            },
        }
        if klass:
            doc["meta:class"] = klass
            doc["meta:classAltId"] = CLASS_ALT_IDS.get(klass, klass)
            if klass == EVENT_CLASS:
                doc.setdefault("required", ["@id", "xdm:timestamp"])
        self.registry.put(kind, doc["$id"], doc)
        return json_response(201, doc)

    def _descriptors(self, req: Request, caller: dict[str, Any], item_id: str) -> Response:
        store = self.registry.store
        if req.method == "GET":
            if item_id:
                doc = store.get(DESCRIPTORS, item_id)
                return json_response(200, doc) if doc else not_found(f"descriptor {item_id} not found")
            return json_response(200, [d for _, d in store.items(DESCRIPTORS)])
        if req.method == "DELETE" and item_id:
            self.registry.delete(DESCRIPTORS, item_id)
            return Response(204)
        body = req.json()
        if not isinstance(body, dict) or not body.get("@type"):
            return bad_request("@type is required")
        schema = str(body.get("xdm:sourceSchema", ""))
        if store.get(SCHEMAS, schema) is None:
            return bad_request(f"xdm:sourceSchema {schema} does not exist")
        prop = str(body.get("xdm:sourceProperty", ""))
        if not prop.startswith("/") or prop.endswith("/") or "/properties/" in prop:
            return bad_request("xdm:sourceProperty must start with '/', not end with '/' and hold no 'properties'")
        if (
            body["@type"] == "xdm:descriptorIdentity"
            and body.get("xdm:isPrimary")
            and any(d.get("xdm:isPrimary") for d in self.registry.descriptors_of(schema))
        ):
            return bad_request(f"schema {schema} already has a primary identity")
        doc = {**body, "@id": ids.schema_hex(), "meta:containerId": "tenant", "version": "1", "imsOrg": caller["org"]}
        self.registry.put(DESCRIPTORS, doc["@id"], doc)
        return json_response(201, doc)


class Catalog:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def handle(self, req: Request, caller: dict[str, Any]) -> Response:
        resource, _, item_id = req.path[len(CATALOG_PREFIX) :].strip("/").partition("/")
        if resource not in ("dataSets", "datasets"):
            return not_found(f"unknown Catalog resource {resource!r}")
        store = self.registry.store
        if req.method == "POST" and not item_id:
            body = req.json()
            if not isinstance(body, dict) or not body.get("name"):
                return bad_request("name is required")
            ds_id = ids.catalog_id()
            now = ids.now_ms()
            self.registry.put(
                DATASETS,
                ds_id,
                {
                    **body,
                    "id": ds_id,
                    "imsOrg": caller["org"],
                    "created": now,
                    "updated": now,
                    "createdClient": caller["client_id"],
                    "sandboxName": caller["sandbox"],
                },
            )
            return json_response(201, [f"@/dataSets/{ds_id}"])
        if req.method == "GET" and item_id:
            doc = store.get(DATASETS, item_id)
            return json_response(200, {item_id: doc}) if doc else not_found(f"dataSet {item_id} not found")
        if req.method == "GET":
            name = req.q("name")
            return json_response(200, {k: d for k, d in store.items(DATASETS) if name is None or d.get("name") == name})
        if req.method == "DELETE" and item_id:
            self.registry.delete(DATASETS, item_id)
            return json_response(200, [f"@/dataSets/{item_id}"])
        return json_response(405, {"status": 405, "title": "Method Not Allowed"})
