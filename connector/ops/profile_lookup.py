"""Real-Time Customer Profile access API: a merged profile by identity, and its ExperienceEvents.

    GET /data/core/ups/access/entities?schema.name=_xdm.context.profile&entityId=ID&entityIdNS=NS
    GET /data/core/ups/access/entities?schema.name=_xdm.context.experienceevent
        &relatedSchema.name=_xdm.context.profile&relatedEntityId=ID&relatedEntityIdNS=NS
Events are paged through `_links.next.href` (called as /data/core/ups/access/<href>).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from connector.ops.platform import NotFound, PlatformClient

ACCESS = "/data/core/ups/access"
PROFILE_SCHEMA = "_xdm.context.profile"
EVENT_SCHEMA = "_xdm.context.experienceevent"
MAX_PAGES = 50


@dataclass(slots=True)
class Lookup:
    namespace: str
    identity: str
    profile: dict[str, Any] | None = None
    events: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"namespace": self.namespace, "id": self.identity, "profile": self.profile, "events": self.events}


def lookup(client: PlatformClient, namespace: str, identity: str, *, events: bool = False) -> Lookup:
    out = Lookup(namespace, identity)
    params = {"schema.name": PROFILE_SCHEMA, "entityId": identity, "entityIdNS": namespace}
    try:
        doc = client.get(f"{ACCESS}/entities", params=params)
    except NotFound:
        doc = None
    if isinstance(doc, dict) and doc:
        out.profile = next(iter(doc.values()))
    if events:
        out.events = _events(client, namespace, identity)
    return out


def _events(client: PlatformClient, namespace: str, identity: str) -> list[dict[str, Any]]:
    params: dict[str, str] | None = {
        "schema.name": EVENT_SCHEMA,
        "relatedSchema.name": PROFILE_SCHEMA,
        "relatedEntityId": identity,
        "relatedEntityIdNS": namespace,
    }
    path = f"{ACCESS}/entities"
    children: list[dict[str, Any]] = []
    for _ in range(MAX_PAGES):
        try:
            doc = client.get(path, params=params)
        except NotFound:
            break
        if not isinstance(doc, dict):
            break
        children += [c for c in doc.get("children", []) if isinstance(c, dict)]
        href = ((doc.get("_links") or {}).get("next") or {}).get("href") or ""
        if not href:
            break
        path, params = f"{ACCESS}/{href.lstrip('/')}", None
    return children


def _when(ms: Any) -> str:
    if isinstance(ms, int | float):
        return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(ms)


def render(result: Lookup) -> str:
    """The profile as indented JSON under a short header, then one line per event."""
    lines: list[str] = []
    p = result.profile
    if p is None:
        lines.append(f"no profile for {result.namespace}:{result.identity}")
    else:
        lines.append(f"profile {p.get('entityId')} ({result.namespace}:{result.identity})")
        lines.append(f"  last modified: {p.get('lastModifiedAt', '-')}")
        lines.append(f"  sources: {', '.join(map(str, p.get('sources', []))) or '-'}")
        if p.get("mergePolicy"):
            lines.append(f"  merge policy: {p['mergePolicy'].get('id', '-')}")
        entity = json.dumps(p.get("entity", {}), indent=2, sort_keys=True, ensure_ascii=False)
        lines += ["  entity:", *("    " + ln for ln in entity.splitlines())]
    if result.events or p is not None:
        lines.append(f"experience events: {len(result.events)}")
    for child in result.events:
        event: dict[str, Any] = dict(child.get("entity") or {})
        when = event.pop("timestamp", None) or _when(child.get("timestamp"))
        event_type = event.pop("eventType", "-")
        event_id = event.pop("_id", child.get("entityId"))
        event.pop("identityMap", None)
        rest = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        lines.append(f"  {when}  {event_type}  _id={event_id}  {rest}")
    return "\n".join(lines)
