"""The Profile and ExperienceEvent store behind the Profile access API (`/data/core/ups/access/entities`).

Record fragments are upserted per (dataset, primary identity) and merged across datasets through
an identity graph (union-find over namespace+id; namespace codes compare case-insensitively).
ExperienceEvents are kept per dataset by `_id`; a repeated `_id` is dropped (first write wins).
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from connector.emulator.xdm import parse_date_time_ms

DEFAULT_MERGE_POLICY = "e161dae9-52f0-4c7f-b264-dc43dd903d56"
Identity = tuple[str, str, bool]
"""(namespace code as sent, id, primary)."""
Key = tuple[str, str]


def key_of(namespace: str, identity: str) -> Key:
    return (namespace.lower(), identity)


def iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))


def deep_merge(base: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """`new` wins on leaves; objects merge; identityMap item lists are unioned by id."""
    out = dict(base)
    for key, value in new.items():
        old = out.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            if key == "identityMap":
                out[key] = _merge_identity_map(old, value)
            else:
                out[key] = deep_merge(old, value)
        else:
            out[key] = value
    return out


def _merge_identity_map(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    out = {k: list(v) if isinstance(v, list) else v for k, v in old.items()}
    for ns, items in new.items():
        current = out.setdefault(ns, [])
        if not isinstance(items, list) or not isinstance(current, list):
            out[ns] = items
            continue
        ids = {i.get("id") for i in current if isinstance(i, dict)}
        current.extend(i for i in items if isinstance(i, dict) and i.get("id") not in ids)
    return out


@dataclass(slots=True)
class Fragment:
    dataset_id: str
    entity: dict[str, Any]
    identities: set[Key]
    codes: dict[Key, tuple[str, bool]]
    updated_ms: int
    tags: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    dataset_id: str
    event_id: str
    entity: dict[str, Any]
    identities: frozenset[Key]
    timestamp_ms: int
    received_ms: int


class ProfileStore:
    """Not thread-safe by itself: the owning store holds the lock."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self._parent: dict[Key, Key] = {}
        self._members: dict[Key, set[Key]] = {}
        self._fragments: dict[tuple[str, str], Fragment] = {}
        self._fragments_by_key: defaultdict[Key, set[tuple[str, str]]] = defaultdict(set)
        self._events: defaultdict[str, dict[str, StoredEvent]] = defaultdict(dict)
        self._events_by_key: defaultdict[Key, list[StoredEvent]] = defaultdict(list)

    # identity graph -------------------------------------------------------------------------
    def _find(self, key: Key) -> Key:
        if key not in self._parent:
            self._parent[key] = key
            self._members[key] = {key}
            return key
        root = key
        while self._parent[root] != root:
            root = self._parent[root]
        while self._parent[key] != root:
            self._parent[key], key = root, self._parent[key]
        return root

    def _link(self, keys: list[Key]) -> None:
        if not keys:
            return
        root = self._find(keys[0])
        for other in keys[1:]:
            other_root = self._find(other)
            if other_root == root:
                continue
            if len(self._members[other_root]) > len(self._members[root]):
                root, other_root = other_root, root
            self._parent[other_root] = root
            self._members[root] |= self._members.pop(other_root)

    def cluster(self, namespace: str, identity: str) -> set[Key]:
        key = key_of(namespace, identity)
        if key not in self._parent:
            return set()
        return set(self._members[self._find(key)])

    # writes ---------------------------------------------------------------------------------
    def has_event(self, dataset_id: str, event_id: str) -> bool:
        return event_id in self._events.get(dataset_id, {})

    def add_event(
        self, dataset_id: str, event_id: str, entity: dict[str, Any], identities: tuple[Identity, ...], received_ms: int
    ) -> bool:
        """Store an ExperienceEvent; False (and nothing stored) when its `_id` is already there."""
        bucket = self._events[dataset_id]
        if event_id in bucket:
            return False
        keys = [key_of(ns, i) for ns, i, _ in identities]
        self._link(keys)
        ts = entity.get("timestamp")
        ts_ms = (parse_date_time_ms(ts) if isinstance(ts, str) else None) or received_ms
        event = StoredEvent(dataset_id, event_id, entity, frozenset(keys), ts_ms, received_ms)
        bucket[event_id] = event
        for key in keys:
            self._events_by_key[key].append(event)
        return True

    def add_fragment(
        self,
        *,
        dataset_id: str,
        entity: dict[str, Any],
        identities: tuple[Identity, ...],
        received_ms: int,
        tag: str,
        fallback_key: str,
    ) -> None:
        """Upsert a record fragment keyed by its primary identity (else first identity, else `_id`)."""
        keys = [key_of(ns, i) for ns, i, _ in identities]
        primary = next((key_of(ns, i) for ns, i, p in identities if p), keys[0] if keys else None)
        frag_id = f"{primary[0]}:{primary[1]}" if primary else str(entity.get("_id") or fallback_key)
        self._link(keys)
        slot = (dataset_id, frag_id)
        frag = self._fragments.get(slot)
        codes = {key_of(ns, i): (ns, p) for ns, i, p in identities}
        if frag is None:
            frag = Fragment(dataset_id, entity, set(keys), codes, received_ms, [tag])
            self._fragments[slot] = frag
        else:
            frag.entity = deep_merge(frag.entity, entity)
            frag.identities |= set(keys)
            frag.codes.update(codes)
            frag.updated_ms = received_ms
            frag.tags = [*frag.tags[-9:], tag]
        for key in keys:
            self._fragments_by_key[key].add(slot)

    # reads ----------------------------------------------------------------------------------
    def profile_id(self, cluster: set[Key]) -> str:
        first = min(cluster)
        digest = hashlib.sha256(f"{first[0]}\x00{first[1]}".encode()).digest()
        return base64.urlsafe_b64encode(digest).decode()[:30]

    def _keys(self, namespace: str, identity: str, stitch: bool) -> set[Key]:
        """The identity's graph (merge policy `identityGraph: pdg`) or the identity alone (`none`)."""
        if stitch:
            return self.cluster(namespace, identity)
        key = key_of(namespace, identity)
        return {key} if key in self._parent else set()

    def profile(
        self,
        namespace: str,
        identity: str,
        *,
        stitch: bool = True,
        precedence: Sequence[str] = (),
        policy_id: str = DEFAULT_MERGE_POLICY,
    ) -> dict[str, Any] | None:
        """The merged profile in the access API shape, or None when no fragment holds the identity.

        Fragments merge newest last (`timestampOrdered`); with a dataset `precedence` list the
        fragments of the first dataset win over the others (`dataSetPrecedence`).
        """
        cluster = self._keys(namespace, identity, stitch)
        slots = {slot for key in cluster for slot in self._fragments_by_key.get(key, ())}
        if not slots:
            return None
        rank = {ds: len(precedence) - i for i, ds in enumerate(precedence)}
        frags = sorted((self._fragments[s] for s in slots), key=lambda f: (rank.get(f.dataset_id, 0), f.updated_ms))
        entity: dict[str, Any] = {}
        codes: dict[Key, tuple[str, bool]] = {}
        for frag in frags:
            entity = deep_merge(entity, frag.entity)
            codes.update(frag.codes)
        pid = self.profile_id(cluster)
        identities = [
            {"id": k[1], "namespace": {"code": code.lower()}} | ({"primary": True} if primary else {})
            for k, (code, primary) in sorted(codes.items())
        ]
        return {
            "entityId": pid,
            "mergePolicy": {"id": policy_id},
            "sources": sorted({f.dataset_id for f in frags}),
            "tags": [t for f in frags for t in f.tags][-10:],
            "identityGraph": [pid],
            "entity": entity,
            "identities": identities,
            "lastModifiedAt": iso(frags[-1].updated_ms),
        }

    def events(self, namespace: str, identity: str, *, stitch: bool = True) -> tuple[str | None, list[StoredEvent]]:
        cluster = self._keys(namespace, identity, stitch)
        if not cluster:
            return None, []
        seen: dict[tuple[str, str], StoredEvent] = {}
        for key in cluster:
            for event in self._events_by_key.get(key, ()):
                seen[(event.dataset_id, event.event_id)] = event
        return self.profile_id(cluster), sorted(seen.values(), key=lambda e: (e.timestamp_ms, e.event_id))

    def counts(self) -> dict[str, int]:
        return {
            "fragments": len(self._fragments),
            "events": sum(len(b) for b in self._events.values()),
            "identities": len(self._parent),
            "profiles": len(self._members),
        }
