"""Schema Registry (`/data/foundation/schemaregistry`): tenant schemas, field groups (and the legacy
`mixins` path), data types and descriptors; the global library read-only.

    GET    /{global|tenant}/{schemas|fieldgroups|mixins|datatypes|classes}/{$id (URL-encoded) | meta:altId}
    GET    /{global|tenant}/{...}                       listing (Accept xed-id or xed)
    POST   /tenant/{schemas|fieldgroups|mixins|datatypes}
    PUT    /tenant/{...}/{id}    PATCH /tenant/{...}/{id} (JSON Patch)    DELETE /tenant/{...}/{id}
    GET|POST|DELETE /tenant/descriptors[/{id}]

A lookup answers the stored (`xed+json`: `allOf`, `$ref`) or the resolved (`xed-full+json`:
everything expanded into `properties`) form, per `Accept` (see `connector.emulator.xed`).
Every change bumps the resource's minor `version` (1.0 -> 1.1), and the version of every tenant
schema or field group that uses it, so a client watching `version` sees schema changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from connector.emulator import ids
from connector.emulator.config import EmulatorOptions
from connector.emulator.http import Request, Response, bad_request, json_response
from connector.emulator.jsonpatch import PatchError, apply_patch
from connector.emulator.registry import DATATYPES, DESCRIPTORS, FIELDGROUPS, SCHEMAS, Registry
from connector.emulator.resolve import class_of, library_lookup, resolve, strip_text, transitive_extends
from connector.emulator.xdmlib import CLASS_ALT_IDS, CLASSES, EVENT_CLASS, global_by_alt_id
from connector.emulator.xdmlib import DATATYPES as GLOBAL_DATATYPES
from connector.emulator.xdmlib import FIELD_GROUPS as GLOBAL_FIELD_GROUPS
from connector.emulator.xed import Form, bump, list_form, lookup_form, not_found, xdm_error

SR_PREFIX = "/data/foundation/schemaregistry/"
# URL segment -> (store kind, `meta:resourceType` / `$id` segment)
RESOURCES = {
    "schemas": (SCHEMAS, "schemas"),
    "fieldgroups": (FIELDGROUPS, "mixins"),
    "mixins": (FIELDGROUPS, "mixins"),
    "datatypes": (DATATYPES, "datatypes"),
    "classes": (None, "classes"),
}
_GLOBAL_BY_SEGMENT: dict[str, Mapping[str, dict[str, Any]]] = {
    "classes": CLASSES,
    "fieldgroups": GLOBAL_FIELD_GROUPS,
    "mixins": GLOBAL_FIELD_GROUPS,
    "datatypes": GLOBAL_DATATYPES,
    "schemas": {},
}
_READ_ONLY = (
    "$id", "meta:altId", "meta:resourceType", "version", "meta:containerId", "imsOrg", "meta:registryMetadata"
)  # fmt: skip


def _matches(doc: Mapping[str, Any], filters: list[str]) -> bool:
    """Listing `property=key==value` filters (a list-valued key matches when it holds the value)."""
    for flt in filters:
        key, sep, value = flt.partition("==")
        if not sep:
            continue
        actual = doc.get(key.strip())
        if isinstance(actual, list) and value in actual:
            continue
        if actual is None or str(actual) != value:
            return False
    return True


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
        segment, _, item_id = rest.partition("/")
        item_id = unquote(item_id)
        if container not in ("tenant", "global"):
            return bad_request(f"unknown container {container!r}: expected tenant or global")
        if segment == "descriptors" and container == "tenant":
            return self._descriptors(req, caller, item_id)
        if segment not in RESOURCES:
            return xdm_error(404, 1012, "Resource not found", f"unknown Schema Registry resource {segment!r}")
        if req.method == "GET":
            return self._get(req, container, segment, item_id)
        if container == "global" or RESOURCES[segment][0] is None:
            return json_response(405, {"status": 405, "title": "Method Not Allowed"})
        return self._write(req, caller, segment, item_id)

    def _stats(self, caller: dict[str, Any]) -> dict[str, Any]:
        store = self.registry.store
        return {
            "imsOrg": caller["org"],
            "tenantId": self.tenant,
            "counts": {
                "schemas": len(store.items(SCHEMAS)),
                "mixins": len(store.items(FIELDGROUPS)),
                "datatypes": len(store.items(DATATYPES)),
                "descriptors": len(store.items(DESCRIPTORS)),
                "classes": 0,
                "unions": 0,
            },
        }

    # reads ----------------------------------------------------------------------------------
    def _find(self, container: str, segment: str, item_id: str) -> dict[str, Any] | None:
        if container == "global":
            doc = global_by_alt_id(item_id)
            return doc if doc is not None and doc["$id"] in _GLOBAL_BY_SEGMENT[segment] else None
        kind = RESOURCES[segment][0]
        return self.registry.tenant_doc(kind, item_id) if kind else None

    def _get(self, req: Request, container: str, segment: str, item_id: str) -> Response:
        accept = req.header("accept")
        if not item_id:
            return self._list(req, container, segment, accept)
        form = lookup_form(accept)
        if isinstance(form, Response):
            return form
        doc = self._find(container, segment, item_id)
        if doc is None:
            return not_found(RESOURCES[segment][1], item_id)
        return json_response(200, self.render(doc, form))

    def render(self, doc: Mapping[str, Any], form: Form) -> dict[str, Any]:
        """A resource in the requested form: stored, or resolved; titles/descriptions stripped for -notext/-desc."""
        out = resolve(doc, library_lookup(self.registry.tenant_resources())).doc if form.full else dict(doc)
        return strip_text(out, form.strip) if form.strip else out

    def _list(self, req: Request, container: str, segment: str, accept: str | None) -> Response:
        form = list_form(accept)
        if isinstance(form, Response):
            return form
        if container == "global":
            docs = list(_GLOBAL_BY_SEGMENT[segment].values())
        else:
            kind = RESOURCES[segment][0]
            docs = [d for _, d in self.registry.store.items(kind)] if kind else []
        docs = [d for d in docs if _matches(d, list(req.query.get("property", [])))]
        if form == "xed-id":
            results = [{k: d.get(k) for k in ("title", "$id", "meta:altId", "version")} for d in docs]
        else:
            results = docs
        return json_response(200, {"results": results, "_page": {"count": len(results), "next": None}, "_links": {}})

    # writes ---------------------------------------------------------------------------------
    def _write(self, req: Request, caller: dict[str, Any], segment: str, item_id: str) -> Response:
        kind, resource_type = RESOURCES[segment]
        assert kind is not None
        if req.method == "POST" and not item_id:
            return self._create(req, caller, kind, resource_type)
        existing = self.registry.tenant_doc(kind, item_id) if item_id else None
        if existing is None:
            return not_found(resource_type, item_id)
        if req.method == "DELETE":
            self.registry.delete(kind, existing["$id"])
            return Response(204)
        if req.method not in ("PUT", "PATCH"):
            return json_response(405, {"status": 405, "title": "Method Not Allowed"})
        body = req.json()
        if req.method == "PATCH":
            try:
                body = apply_patch(existing, body)
            except PatchError as exc:
                return xdm_error(400, 1001, "Invalid patch", str(exc))
        if not isinstance(body, dict):
            return bad_request("the request body must be a JSON object")
        updated = {**body, **{k: existing[k] for k in _READ_ONLY if k in existing}}
        self._store(kind, updated, caller, version=bump(existing.get("version")))
        self._bump_dependents(existing["$id"], caller)
        return json_response(200, self.registry.tenant_doc(kind, existing["$id"]))

    def _create(self, req: Request, caller: dict[str, Any], kind: str, resource_type: str) -> Response:
        body = req.json()
        if not isinstance(body, dict):
            return bad_request("the request body must be a JSON object")
        klass = class_of(body, self.registry.tenant_resources()) if kind == SCHEMAS else None
        if kind == SCHEMAS and klass is None:
            return bad_request("a schema must extend a class (allOf $ref or meta:class)")
        hex_id = ids.schema_hex()
        now = ids.now_ms()
        doc = {
            **body,
            "$id": f"https://ns.adobe.com/{self.tenant}/{resource_type}/{hex_id}",
            "meta:altId": f"_{self.tenant}.{resource_type}.{hex_id}",
            "meta:resourceType": resource_type,
            "meta:containerId": "tenant",
            "imsOrg": caller["org"],
            "meta:registryMetadata": {
                "repo:createDate": now,
                "repo:lastModifiedDate": now,
                "xdm:createdClientId": caller["client_id"],
                "xdm:repositoryCreatedBy": f"{caller['client_id']}@AdobeID",
                "eTag": ids.etag(),
            },
        }
        if klass:
            doc.setdefault("meta:class", klass)
            doc.setdefault("meta:classAltId", CLASS_ALT_IDS.get(klass, klass))
            doc.setdefault("meta:abstract", False)
            doc.setdefault("meta:extensible", False)
            if klass == EVENT_CLASS:
                doc.setdefault("required", ["@id", "xdm:timestamp"])
        self._store(kind, doc, caller, version="1.0")
        return json_response(201, self.registry.tenant_doc(kind, doc["$id"]))

    def _store(self, kind: str, doc: dict[str, Any], caller: dict[str, Any], *, version: str) -> None:
        """Fill the registry-computed fields (version, extends, sandbox, modified date) and save."""
        meta = dict(doc.get("meta:registryMetadata") or {})
        meta["repo:lastModifiedDate"] = ids.now_ms()
        doc.update(
            {
                "version": version,
                "meta:xdmType": "object",
                "meta:tenantNamespace": f"_{self.tenant}",
                "meta:sandboxId": ids.sandbox_id(caller["org"], caller["sandbox"]),
                "meta:sandboxType": "production" if caller["sandbox"] == "prod" else "development",
                "meta:registryMetadata": meta,
            }
        )
        extends = transitive_extends(doc, library_lookup(self.registry.tenant_resources()))
        if extends:
            doc["meta:extends"] = extends
        else:
            doc.pop("meta:extends", None)
        self.registry.put(kind, doc["$id"], doc)

    def _bump_dependents(self, changed: str, caller: dict[str, Any]) -> None:
        """A changed field group or data type is a change of every tenant resource that uses it."""
        lookup = library_lookup(self.registry.tenant_resources())
        for kind in (FIELDGROUPS, SCHEMAS):
            for key, doc in self.registry.store.items(kind):
                if key != changed and changed in resolve(doc, lookup).uses:
                    self._store(kind, dict(doc), caller, version=bump(doc.get("version")))

    # descriptors ----------------------------------------------------------------------------
    def _descriptors(self, req: Request, caller: dict[str, Any], item_id: str) -> Response:
        store = self.registry.store
        if req.method == "GET":
            if item_id:
                doc = store.get(DESCRIPTORS, item_id)
                return json_response(200, doc) if doc else not_found("descriptors", item_id)
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
