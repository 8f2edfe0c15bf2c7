"""`GET /data/core/ups/access/entities`: a merged profile, or the ExperienceEvents of a profile."""

from __future__ import annotations

from typing import Any

from connector.emulator.http import Request, Response, json_response
from connector.emulator.profile import iso
from connector.emulator.store import MemoryStore

ACCESS_PATH = "/data/core/ups/access/entities"
PROFILE_SCHEMA = "_xdm.context.profile"
EVENT_SCHEMA = "_xdm.context.experienceevent"


def _error(status: int, title: str, detail: str) -> Response:
    return json_response(
        status, {"type": "http://ns.adobe.com/aep/errors/UPS", "status": status, "title": title, "detail": detail}
    )


def _select(entity: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in fields:
        parts = field.split(".")
        src: Any = entity
        for part in parts:
            src = src.get(part) if isinstance(src, dict) else None
        if src is None:
            continue
        dst = out
        for part in parts[:-1]:
            dst = dst.setdefault(part, {})
        dst[parts[-1]] = src
    return out


def access_entities(req: Request, store: MemoryStore) -> Response:
    schema = req.q("schema.name")
    if schema not in (PROFILE_SCHEMA, EVENT_SCHEMA):
        return _error(400, "Bad Request", "schema.name must be _xdm.context.profile or _xdm.context.experienceevent")
    fields = [f for f in (req.q("fields") or "").split(",") if f]
    if schema == PROFILE_SCHEMA:
        entity_id, ns = req.q("entityId"), req.q("entityIdNS")
        if not entity_id or not ns:
            return _error(400, "Bad Request", "entityId and entityIdNS are required")
        with store.lock:
            found = store.profiles.profile(ns, entity_id)
        if found is None:
            return _error(404, "Not Found", "XDM objects not found")
        identities = found.pop("identities")
        entity = found["entity"]
        if fields:
            want_identities = "identities" in fields
            entity = _select(entity, [f for f in fields if f != "identities"])
            if want_identities:
                entity["identities"] = identities
            found["entity"] = entity
        return json_response(200, {found["entityId"]: found})
    return _events(req, store, fields)


def _events(req: Request, store: MemoryStore, fields: list[str]) -> Response:
    entity_id = req.q("relatedEntityId") or req.q("entityId")
    ns = req.q("relatedEntityIdNS") or req.q("entityIdNS")
    if not entity_id or not ns:
        return _error(400, "Bad Request", "relatedEntityId and relatedEntityIdNS (or entityId/entityIdNS) are required")
    with store.lock:
        profile_id, events = store.profiles.events(ns, entity_id)
    start, end = req.q("startTime"), req.q("endTime")
    if start:
        events = [e for e in events if e.timestamp_ms >= int(start)]
    if end:
        events = [e for e in events if e.timestamp_ms < int(end)]
    if (req.q("orderby") or "+timestamp").startswith("-"):
        events = events[::-1]
    events = events[: int(req.q("limit") or 1000)]
    children = [
        {
            "relatedEntityId": profile_id,
            "entityId": e.event_id,
            "timestamp": e.timestamp_ms,
            "entity": _select(e.entity, fields) if fields else e.entity,
            "lastModifiedAt": iso(e.received_ms),
        }
        for e in events
    ]
    page = {
        "orderby": "timestamp",
        "start": children[0]["entityId"] if children else "",
        "count": len(children),
        "next": "",
    }
    return json_response(200, {"_page": page, "children": children, "_links": {"next": {"href": ""}}})
