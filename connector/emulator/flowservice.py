"""Flow Service (`/data/foundation/flowservice`): connections, source/target connections, flows;
plus the legacy Data Inlet API (`/data/core/edge/inlet`) and mapping sets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from connector.emulator import ids
from connector.emulator.config import STREAMING_CONNECTION_SPEC
from connector.emulator.http import Request, Response, bad_request, json_response, not_found
from connector.emulator.registry import (
    CONNECTIONS,
    DATASETS,
    FLOWS,
    INLETS,
    MAPPING_SETS,
    SOURCE_CONNECTIONS,
    TARGET_CONNECTIONS,
    Registry,
)

PREFIX = "/data/foundation/flowservice/"
KINDS = (CONNECTIONS, SOURCE_CONNECTIONS, TARGET_CONNECTIONS, FLOWS)


def dotted(obj: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def matches(item: dict[str, Any], filters: list[str]) -> bool:
    """Flow Service `property=` filters: `name==X`, `name!=X`, `connectionSpec.id==X`."""
    for flt in filters:
        op = "!=" if "!=" in flt else "=="
        field, _, value = flt.partition(op)
        actual = dotted(item, field.strip())
        equal = str(actual) == value.strip() if actual is not None else value.strip() == ""
        if equal != (op == "=="):
            return False
    return True


class FlowService:
    def __init__(self, registry: Registry, base_url: Callable[[], str]) -> None:
        self.registry = registry
        self.base_url = base_url

    def handle(self, req: Request, caller: dict[str, Any]) -> Response:
        kind, _, item_id = req.path[len(PREFIX) :].strip("/").partition("/")
        if kind not in KINDS:
            return not_found(f"unknown Flow Service resource {kind!r}")
        if req.method == "POST" and not item_id:
            return self._create(kind, req.json(), caller)
        if req.method == "GET" and not item_id:
            items = [
                item
                for _, item in self.registry.store.items(kind)
                if matches(item, list(req.query.get("property", [])))
            ]
            return json_response(200, {"items": items})
        item = self.registry.store.get(kind, item_id)
        if item is None:
            return json_response(404, {"code": "404", "message": f"{kind} {item_id} not found", "status": 404})
        if req.method == "GET":
            return json_response(200, {"items": [item]})
        if req.method == "DELETE":
            self.registry.delete(kind, item_id)
            return Response(204)
        return json_response(405, {"status": 405, "message": "method not allowed"})

    def _create(self, kind: str, body: Any, caller: dict[str, Any], inlet_id: str | None = None) -> Response:
        if not isinstance(body, dict):
            return bad_request("the request body must be a JSON object")
        problem = self._check(kind, body)
        if problem:
            return bad_request(problem)
        item_id, etag, now = ids.uuid4(), ids.etag(), ids.now_ms()
        item = {
            **body,
            "id": item_id,
            "createdAt": now,
            "updatedAt": now,
            "createdBy": f"{caller['client_id']}@AdobeID",
            "updatedBy": f"{caller['client_id']}@AdobeID",
            "createdClient": caller["client_id"],
            "updatedClient": caller["client_id"],
            "sandboxId": ids.sandbox_id(caller["org"], caller["sandbox"]),
            "sandboxName": caller["sandbox"],
            "imsOrgId": caller["org"],
            "state": "enabled",
            "version": etag,
            "etag": etag,
        }
        if kind == CONNECTIONS and dotted(body, "connectionSpec.id") == STREAMING_CONNECTION_SPEC:
            self._attach_inlet(item, caller["org"], inlet_id)
        self.registry.put(kind, item_id, item)
        location = f"{self.base_url()}{PREFIX}{kind}/{item_id}"
        return json_response(201, {"id": item_id, "etag": etag}, headers=(("Location", location),))

    def _check(self, kind: str, body: dict[str, Any]) -> str | None:
        store = self.registry.store
        if kind in (CONNECTIONS, SOURCE_CONNECTIONS, TARGET_CONNECTIONS) and not dotted(body, "connectionSpec.id"):
            return "connectionSpec.id is required"
        if kind == CONNECTIONS and isinstance(body.get("auth"), dict) and not body["auth"].get("specName"):
            return "auth.specName is required"
        if kind == SOURCE_CONNECTIONS:
            base = body.get("baseConnectionId")
            if base is not None and store.get(CONNECTIONS, str(base)) is None:
                return f"baseConnectionId {base} does not exist"
        if kind == TARGET_CONNECTIONS:
            ds = dotted(body, "params.dataSetId")
            if ds is not None and store.get(DATASETS, str(ds)) is None:
                return f"params.dataSetId {ds} does not exist"
        if kind == FLOWS:
            if not dotted(body, "flowSpec.id"):
                return "flowSpec.id is required"
            for field, target in (
                ("sourceConnectionIds", SOURCE_CONNECTIONS),
                ("targetConnectionIds", TARGET_CONNECTIONS),
            ):
                values = body.get(field)
                if not isinstance(values, list) or not values:
                    return f"{field} must be a non-empty list"
                missing = [v for v in values if store.get(target, str(v)) is None]
                if missing:
                    return f"{field} {missing} do not exist"
        return None

    def _attach_inlet(self, item: dict[str, Any], org: str, inlet_id: str | None = None) -> None:
        auth = item.setdefault("auth", {"specName": "Streaming Connection", "params": {}})
        params = auth.setdefault("params", {})
        name = str(params.get("name") or item.get("name") or "Streaming Connection")
        data_type = str(params.get("dataType", "xdm"))
        authenticated = bool(params.get("authenticationRequired", False))
        source_id = str(params.get("sourceId") or name)
        inlet = self.registry.create_inlet(
            name=name,
            authenticated=authenticated,
            org=org,
            data_type=data_type,
            connection_id=item["id"],
            source_id=source_id,
            inlet_id=inlet_id,
        )
        params.update(
            sourceId=source_id,
            inletUrl=f"{self.base_url()}/collection/{inlet}",
            authenticationRequired=authenticated,
            inletId=inlet,
            dataType=data_type,
            name=name,
        )

    def create_streaming_connection(
        self, name: str, authenticated: bool, org: str, data_type: str, inlet_id: str | None = None
    ) -> dict[str, Any]:
        """The same as `POST /connections` for an HTTP API streaming connection; returns auth.params."""
        body = {
            "name": name,
            "connectionSpec": {"id": STREAMING_CONNECTION_SPEC, "version": "1.0"},
            "auth": {
                "specName": "Streaming Connection",
                "params": {"dataType": data_type, "name": name, "authenticationRequired": authenticated},
            },
        }
        caller = {"client_id": "emulator", "sandbox": "prod", "org": org}
        response = self._create(CONNECTIONS, body, caller, inlet_id)
        item = self.registry.store.get(CONNECTIONS, orjson.loads(response.body)["id"]) or {}
        params: dict[str, Any] = item["auth"]["params"]
        return params

    # legacy data inlet API and mapping sets -------------------------------------------------
    def legacy_inlet(self, req: Request, caller: dict[str, Any]) -> Response:
        if req.method == "GET":
            return json_response(200, {"items": [self._legacy_view(i) for _, i in self.registry.store.items(INLETS)]})
        body = req.json()
        params = self.create_streaming_connection(
            str(body.get("name", "Data inlet")),
            bool(body.get("authenticationRequired", False)),
            caller["org"],
            str(body.get("dataType", "xdm")),
        )
        doc = self.registry.store.get(INLETS, params["inletId"]) or {}
        return json_response(
            201,
            self._legacy_view(
                {
                    **doc,
                    "description": body.get("description", ""),
                    "sourceId": body.get("sourceId", params["sourceId"]),
                }
            ),
        )

    def _legacy_view(self, inlet: dict[str, Any]) -> dict[str, Any]:
        now = ids.now_ms()
        return {
            "inletId": inlet["inletId"],
            "imsOrg": inlet["org"],
            "sourceId": inlet.get("sourceId"),
            "dataType": inlet.get("dataType", "xdm"),
            "name": inlet.get("name"),
            "description": inlet.get("description", ""),
            "authenticationRequired": inlet["authenticationRequired"],
            "createdBy": "emulator",
            "createdAt": now,
            "modifiedAt": now,
            "modifiedBy": "emulator",
            "inletUrl": f"{self.base_url()}/collection/{inlet['inletId']}",
        }

    def mapping_set(self, req: Request, caller: dict[str, Any]) -> Response:
        body = req.json()
        now = ids.now_ms()
        item = {
            **body,
            "id": ids.inlet_id()[:32],
            "version": 0,
            "createdDate": now,
            "modifiedDate": now,
            "createdBy": f"{caller['client_id']}@AdobeID",
            "modifiedBy": f"{caller['client_id']}@AdobeID",
        }
        self.registry.put(MAPPING_SETS, item["id"], item)
        return json_response(
            201, {k: item[k] for k in ("id", "version", "createdDate", "modifiedDate", "createdBy", "modifiedBy")}
        )
