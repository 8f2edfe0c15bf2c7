"""Catalog (`/data/foundation/catalog`): datasets, and the streaming batches written to them.

    GET /batches?dataSet=D&createdAfter=MS&createdBefore=MS&status=S&orderBy=desc:created&start=N&limit=N
    GET /batches/{id}[?properties=a,b]
Both answer an object keyed by batch id (catalog.yaml). `limit` defaults to 20 and is capped
at 100, as Catalog documents; `start` is the offset of the page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connector.emulator import ids
from connector.emulator.batches import BATCHES, catalog_view
from connector.emulator.http import Request, Response, bad_request, json_response, not_found
from connector.emulator.registry import DATASETS, Registry

CATALOG_PREFIX = "/data/foundation/catalog/"
DEFAULT_LIMIT = 20
MAX_LIMIT = 100


def _int(req: Request, name: str) -> int | None:
    value = req.q(name)
    if value in (None, ""):
        return None
    return int(value)  # a ValueError is the app's 400


def _only(doc: dict[str, Any], properties: str | None) -> dict[str, Any]:
    if not properties:
        return doc
    keep = {p.strip() for p in properties.split(",") if p.strip()}
    return {k: v for k, v in doc.items() if k in keep}


class Catalog:
    def __init__(self, registry: Registry, base_url: Callable[[], str]) -> None:
        self.registry = registry
        self.base_url = base_url

    def handle(self, req: Request, caller: dict[str, Any]) -> Response:
        resource, _, item_id = req.path[len(CATALOG_PREFIX) :].strip("/").partition("/")
        if resource in ("dataSets", "datasets"):
            return self._datasets(req, caller, item_id)
        if resource == "batches" and req.method == "GET":
            return self._batches(req, item_id)
        if resource == "batches":
            return json_response(405, {"status": 405, "title": "Method Not Allowed"})
        return not_found(f"unknown Catalog resource {resource!r}")

    # datasets -------------------------------------------------------------------------------
    def _datasets(self, req: Request, caller: dict[str, Any], item_id: str) -> Response:
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

    # batches --------------------------------------------------------------------------------
    def _batches(self, req: Request, item_id: str) -> Response:
        now, base = ids.now_ms(), self.base_url()
        store = self.registry.store
        if item_id:
            batch = store.get(BATCHES, item_id)
            if batch is None:
                return not_found(f"batch {item_id} not found")
            return json_response(200, {item_id: _only(catalog_view(batch, now, base), req.q("properties"))})
        dataset, status = req.q("dataSet"), req.q("status")
        after, before = _int(req, "createdAfter"), _int(req, "createdBefore")
        limit = min(max(_int(req, "limit") or DEFAULT_LIMIT, 1), MAX_LIMIT)
        start = max(_int(req, "start") or 0, 0)
        views = [catalog_view(b, now, base) for _, b in store.items(BATCHES)]
        views = [
            v
            for v in views
            if (dataset is None or v["relatedObjects"][0]["id"] == dataset)
            and (status is None or v["status"] == status)
            and (after is None or v["created"] > after)
            and (before is None or v["created"] < before)
        ]
        order = (req.q("orderBy") or "desc:created").lower()
        descending = not order.startswith("asc")
        views.sort(key=lambda v: (v["created"], v["id"]), reverse=descending)
        page = views[start : start + limit]
        return json_response(200, {v["id"]: _only(v, req.q("properties")) for v in page})
