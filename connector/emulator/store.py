"""Where the emulator keeps what it accepted: `memory`, `sqlite` (memory + a journal file) or `count`.

Every store also keeps the registry objects (clients, tokens, inlets, connections, flows,
datasets, schemas, descriptors) so the sqlite store can persist them across restarts.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from connector.emulator.batches import BATCHES, BatchLog, add_counts
from connector.emulator.profile import Identity, ProfileStore
from connector.emulator.stats import NO_DATASET, Stats

Tallies = dict[str | None, list[int]]
ObjectRow = tuple[str, str, dict[str, Any]]
"""(kind, key, document) of a registry object."""


@dataclass(frozen=True, slots=True)
class Ingest:
    """One accepted message as handed to the store (`record` is None in count mode)."""

    dataset_id: str | None
    event_id: str | None
    record: dict[str, Any] | None
    identities: tuple[Identity, ...] = ()
    kind: str = "profile"
    received_ms: int = 0


class Journal(Protocol):
    """Durable copy of a memory store (the sqlite file)."""

    def put_object(self, kind: str, key: str, value: dict[str, Any]) -> None: ...

    def delete_object(self, kind: str, key: str) -> None: ...

    def append(
        self,
        accepted: list[Ingest],
        failed: list[dict[str, Any]],
        objects: Sequence[tuple[str, str, dict[str, Any]]] = (),
    ) -> None: ...

    def load_objects(self) -> Iterable[tuple[str, str, dict[str, Any]]]: ...

    def load_accepted(self) -> Iterable[Ingest]: ...

    def load_failed(self) -> Iterable[dict[str, Any]]: ...

    def clear(self, objects: bool) -> None: ...

    def close(self) -> None: ...


class MemoryStore:
    """Dicts and lists, optionally journalled; all methods are thread-safe."""

    kind = "memory"
    batch_window_ms = 1000  # set from EmulatorOptions.batch_window_s by the app

    def __init__(self, journal: Journal | None = None) -> None:
        self._lock = threading.RLock()
        self._journal = journal
        self.stats_counters = Stats()
        self._objects: dict[str, dict[str, dict[str, Any]]] = {}
        self._lake: list[dict[str, Any]] = []
        self._failed: list[dict[str, Any]] = []
        self.profiles = ProfileStore()
        self.batch_log = BatchLog()
        if journal is not None:
            self._replay(journal)

    def _replay(self, journal: Journal) -> None:
        for kind, key, value in journal.load_objects():
            self._objects.setdefault(kind, {})[key] = value
        batch: list[Ingest] = []
        for item in journal.load_accepted():
            batch.append(item)
            if len(batch) >= 1000:
                self._ingest(batch)
                batch = []
        self._ingest(batch)
        self._failed.extend(journal.load_failed())

    # registry objects -----------------------------------------------------------------------
    def put(self, kind: str, key: str, value: dict[str, Any]) -> None:
        with self._lock:
            self._objects.setdefault(kind, {})[key] = value
            if self._journal is not None:
                self._journal.put_object(kind, key, value)

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        return self._objects.get(kind, {}).get(key)

    def items(self, kind: str) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            return list(self._objects.get(kind, {}).items())

    def delete(self, kind: str, key: str) -> None:
        with self._lock:
            self._objects.get(kind, {}).pop(key, None)
            if self._journal is not None:
                self._journal.delete_object(kind, key)

    # data -----------------------------------------------------------------------------------
    def add(
        self,
        inlet_id: str,
        accepted: list[Ingest],
        failed: list[dict[str, Any]],
        invalid: Sequence[dict[str, Any]] = (),
        *,
        org: str = "",
        received_ms: int = 0,
    ) -> None:
        """Keep one request's messages and count them.

        accepted: into the lake and the profile/event store; failed: refused by DCS (kept with the
        reason); invalid: acknowledged by DCS but failed streaming validation (kept as failed
        records of their dataset's streaming batch). Accepted and invalid records join batches.
        """
        with self._lock:
            tallies = self._ingest(accepted)
            batches = self._batch(accepted, invalid, org, received_ms, tallies)
            for rec in failed:
                tallies.setdefault(rec.get("datasetId"), [0, 0, 0, 0])[1] += 1
            self._failed.extend(failed)
            self._failed.extend(invalid)
            if self._journal is not None and (accepted or failed or invalid):
                self._journal.append(accepted, [*failed, *invalid], [(BATCHES, b["id"], b) for b in batches])
        self.stats_counters.messages(inlet_id, tallies)

    def _batch(
        self, accepted: list[Ingest], invalid: Sequence[dict[str, Any]], org: str, now_ms: int, tallies: Tallies
    ) -> list[dict[str, Any]]:
        """Count accepted and invalid records into their datasets' open streaming batches; the batches changed."""
        counts: dict[str, list[int]] = {}
        for item in accepted:
            if item.dataset_id is not None:
                counts.setdefault(item.dataset_id, [0, 0])[0] += 1
        for rec in invalid:
            ds = rec.get("datasetId")
            tallies.setdefault(ds, [0, 0, 0, 0])[0] += 1
            tallies[ds][3] += 1
            if isinstance(ds, str):
                counts.setdefault(ds, [0, 0])[1] += 1
        now_ms = now_ms or int(time.time() * 1000)
        changed = []
        for ds, (ok, bad) in counts.items():
            open_id = self.batch_log.open_id(ds)
            current = self.get(BATCHES, open_id) if open_id else None
            batch = self.batch_log.assign(current, ds, now_ms, self.batch_window_ms, org)
            batch = add_counts(batch, ok + bad, bad, now_ms)
            self._objects.setdefault(BATCHES, {})[batch["id"]] = batch  # journalled with the request's records
            changed.append(batch)
            for rec in invalid:
                if rec.get("datasetId") == ds:
                    rec["batchId"] = batch["id"]
        return changed

    def _ingest(self, accepted: list[Ingest]) -> Tallies:
        tallies: Tallies = {}
        for item in accepted:
            tally = tallies.setdefault(item.dataset_id, [0, 0, 0, 0])
            tally[0] += 1
            record = item.record or {}
            entity = record.get("xdmEntity")
            duplicate = False
            dataset = item.dataset_id or NO_DATASET
            if item.kind == "event" and item.event_id is not None and isinstance(entity, dict):
                duplicate = not self.profiles.add_event(
                    dataset, item.event_id, entity, item.identities, item.received_ms
                )
            elif item.kind == "profile" and isinstance(entity, dict):
                xaction = str(record.get("xactionId", ""))
                self.profiles.add_fragment(
                    dataset_id=dataset,
                    entity=entity,
                    identities=item.identities,
                    received_ms=item.received_ms,
                    tag=xaction,
                    fallback_key=xaction,
                )
            if duplicate:
                tally[2] += 1
            record["duplicate"] = duplicate
            self._lake.append(record)
        return tallies

    def records(self, dataset_id: str | None = None, limit: int | None = None, offset: int = 0) -> list[dict[str, Any]]:
        """Accepted messages in arrival order (the data-lake log, duplicates included and flagged)."""
        with self._lock:
            rows = self._lake if dataset_id is None else [r for r in self._lake if r.get("datasetId") == dataset_id]
            return rows[offset : None if limit is None else offset + limit]

    def failed(self, dataset_id: str | None = None, limit: int | None = None, offset: int = 0) -> list[dict[str, Any]]:
        """Messages that did not reach the lake: refused by DCS, or failed streaming validation."""
        with self._lock:
            rows = self._failed if dataset_id is None else [r for r in self._failed if r.get("datasetId") == dataset_id]
            return rows[offset : None if limit is None else offset + limit]

    def batch_failures(self, batch_id: str) -> list[dict[str, Any]]:
        """The failed records of one streaming batch, in arrival order."""
        with self._lock:
            return [r for r in self._failed if r.get("batchId") == batch_id]

    def stats(self) -> dict[str, Any]:
        snap = self.stats_counters.snapshot()
        snap["store"] = self.kind
        with self._lock:
            snap["profile_store"] = self.profiles.counts()
        return snap

    def reset(self, objects: bool = False) -> None:
        with self._lock:
            self._lake = []
            self._failed = []
            self.profiles.clear()
            self.batch_log.clear()
            self._objects.pop(BATCHES, None)
            if objects:
                self._objects = {}
            if self._journal is not None:
                self._journal.clear(objects)
        self.stats_counters.reset()

    def close(self) -> None:
        if self._journal is not None:
            self._journal.close()

    @property
    def lock(self) -> threading.RLock:
        return self._lock


class CountStore(MemoryStore):
    """Counters only (for benchmarks): no records kept, duplicates tracked by a hash per event."""

    kind = "count"

    def __init__(self) -> None:
        super().__init__()
        self._seen: set[int] = set()
        self._recent_failed: deque[dict[str, Any]] = deque(maxlen=1000)

    def add(
        self,
        inlet_id: str,
        accepted: list[Ingest],
        failed: list[dict[str, Any]],
        invalid: Sequence[dict[str, Any]] = (),
        *,
        org: str = "",
        received_ms: int = 0,
    ) -> None:
        tallies: Tallies = {}
        with self._lock:
            seen = self._seen
            for item in accepted:
                tally = tallies.get(item.dataset_id)
                if tally is None:
                    tally = tallies[item.dataset_id] = [0, 0, 0, 0]
                tally[0] += 1
                if item.event_id is not None:
                    h = hash((item.dataset_id, item.event_id))
                    if h in seen:
                        tally[2] += 1
                    else:
                        seen.add(h)
            self._batch(accepted, invalid, org, received_ms, tallies)
            for rec in failed:
                tallies.setdefault(rec.get("datasetId"), [0, 0, 0, 0])[1] += 1
            self._recent_failed.extend(failed)
            self._recent_failed.extend(invalid)
        self.stats_counters.messages(inlet_id, tallies)

    def records(self, dataset_id: str | None = None, limit: int | None = None, offset: int = 0) -> list[dict[str, Any]]:
        return []

    def failed(self, dataset_id: str | None = None, limit: int | None = None, offset: int = 0) -> list[dict[str, Any]]:
        """The last 1000 failures only."""
        with self._lock:
            rows = [r for r in self._recent_failed if dataset_id is None or r.get("datasetId") == dataset_id]
            return rows[offset : None if limit is None else offset + limit]

    def batch_failures(self, batch_id: str) -> list[dict[str, Any]]:
        """Only what is among the last 1000 failures: count mode keeps no more."""
        with self._lock:
            return [r for r in self._recent_failed if r.get("batchId") == batch_id]

    def reset(self, objects: bool = False) -> None:
        with self._lock:
            self._seen = set()
            self._recent_failed.clear()
        super().reset(objects)
