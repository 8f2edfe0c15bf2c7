"""`GET /data/core/ups/access/entities`: a merged profile, or the ExperienceEvents of a profile;
`/data/core/ups/config/mergePolicies`: the merge policies those lookups use.

Without `mergePolicyId` the organisation's default policy for the class applies (profile.yaml):
the emulator's default is `identityGraph: pdg` (stitched across identities) and
`timestampOrdered`. A known `mergePolicyId` applies that policy (`identityGraph: none` does not
stitch; `dataSetPrecedence` orders fragments). An unknown one is a 422, the documented status for
"syntax is correct but Profile Access is not able to process your request", with the documented
`ResponseErrorContext` body; Adobe does not document this case, so `unknown_merge_policy="default"`
makes the emulator fall back to the default policy instead.
"""

from __future__ import annotations

from typing import Any

from connector.emulator import ids
from connector.emulator.config import EmulatorOptions
from connector.emulator.http import Request, Response, bad_request, json_response
from connector.emulator.profile import DEFAULT_MERGE_POLICY, iso
from connector.emulator.store import MemoryStore

ACCESS_PATH = "/data/core/ups/access/entities"
MERGE_POLICIES_PATH = "/data/core/ups/config/mergePolicies"
MERGE_POLICIES = "mergePolicies"
PROFILE_SCHEMA = "_xdm.context.profile"
EVENT_SCHEMA = "_xdm.context.experienceevent"


def default_policy(org: str) -> dict[str, Any]:
    return {
        "id": DEFAULT_MERGE_POLICY,
        "name": "Default Timebased",
        "imsOrgId": org,
        "schema": {"name": PROFILE_SCHEMA},
        "version": 1,
        "identityGraph": {"type": "pdg"},
        "attributeMerge": {"type": "timestampOrdered"},
        "default": True,
        "isActiveOnEdge": False,
        "updateEpoch": 0,
    }


def merge_policies(req: Request, store: MemoryStore, org: str) -> Response:
    """`GET /config/mergePolicies[/{id}]`, `POST /config/mergePolicies` (stored per emulator)."""
    item_id = req.path.rstrip("/")[len(MERGE_POLICIES_PATH) :].strip("/")
    policies = {DEFAULT_MERGE_POLICY: default_policy(org), **dict(store.items(MERGE_POLICIES))}
    if req.method == "GET" and item_id:
        found = policies.get(item_id)
        if found is None:
            return json_response(404, {"message": f"Merge policy {item_id} not found", "statusCode": "404"})
        return json_response(200, found)
    if req.method == "GET":
        children = list(policies.values())
        page = {"totalCount": len(children), "pageSize": len(children)}
        return json_response(200, {"_page": page, "children": children})
    if req.method == "POST" and not item_id:
        body = req.json()
        if not isinstance(body, dict) or not body.get("name"):
            return bad_request("name is required")
        doc = {
            "identityGraph": {"type": "pdg"},
            "attributeMerge": {"type": "timestampOrdered"},
            "schema": {"name": PROFILE_SCHEMA},
            "default": False,
            **body,
            "id": ids.uuid4(),
            "imsOrgId": org,
            "version": 1,
            "updateEpoch": ids.now_ms() // 1000,
        }
        store.put(MERGE_POLICIES, doc["id"], doc)
        return json_response(200, doc)
    return json_response(405, {"status": 405, "title": "Method Not Allowed"})


def _policy(req: Request, store: MemoryStore, options: EmulatorOptions, org: str) -> dict[str, Any] | Response:
    """The merge policy a lookup uses, or the 422 for an unknown `mergePolicyId`."""
    wanted = req.q("mergePolicyId")
    if not wanted or wanted == DEFAULT_MERGE_POLICY:
        return default_policy(org)
    found = store.get(MERGE_POLICIES, wanted)
    if found is not None:
        return found
    if options.unknown_merge_policy == "default":
        return default_policy(org)
    return json_response(
        422,
        {
            "message": f"Merge policy {wanted} does not exist in this sandbox",
            "cause": f"mergePolicyId={wanted} is not a merge policy of organization {org}",
            "statusCode": "422",
        },
    )


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


def access_entities(req: Request, store: MemoryStore, options: EmulatorOptions, org: str) -> Response:
    schema = req.q("schema.name")
    if schema not in (PROFILE_SCHEMA, EVENT_SCHEMA):
        return _error(400, "Bad Request", "schema.name must be _xdm.context.profile or _xdm.context.experienceevent")
    policy = _policy(req, store, options, org)
    if isinstance(policy, Response):
        return policy
    stitch = (policy.get("identityGraph") or {}).get("type", "pdg") != "none"
    fields = [f for f in (req.q("fields") or "").split(",") if f]
    if schema == PROFILE_SCHEMA:
        entity_id, ns = req.q("entityId"), req.q("entityIdNS")
        if not entity_id or not ns:
            return _error(400, "Bad Request", "entityId and entityIdNS are required")
        merge = policy.get("attributeMerge") or {}
        precedence = merge.get("order", []) if merge.get("type") == "dataSetPrecedence" else []
        with store.lock:
            found = store.profiles.profile(
                ns, entity_id, stitch=stitch, precedence=[str(d) for d in precedence], policy_id=str(policy["id"])
            )
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
    return _events(req, store, fields, stitch)


def _events(req: Request, store: MemoryStore, fields: list[str], stitch: bool) -> Response:
    entity_id = req.q("relatedEntityId") or req.q("entityId")
    ns = req.q("relatedEntityIdNS") or req.q("entityIdNS")
    if not entity_id or not ns:
        return _error(400, "Bad Request", "relatedEntityId and relatedEntityIdNS (or entityId/entityIdNS) are required")
    with store.lock:
        profile_id, events = store.profiles.events(ns, entity_id, stitch=stitch)
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
