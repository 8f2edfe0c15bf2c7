"""Counters behind `GET /emulator/stats`: totals, per inlet, per dataset, faults."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from typing import Any

NO_DATASET = "(none)"
_MESSAGE_KEYS = ("messages", "accepted", "rejected", "duplicates", "failed")


class Stats:
    """Thread-safe counters; the DCS handler reports once per request, not per message."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._totals: Counter[str] = Counter()
            self._by_status: Counter[str] = Counter()
            self._inlets: defaultdict[str, Counter[str]] = defaultdict(Counter)
            self._inlet_status: defaultdict[str, Counter[str]] = defaultdict(Counter)
            self._datasets: defaultdict[str, Counter[str]] = defaultdict(Counter)
            self._faults: Counter[str] = Counter()

    def request(self, inlet_id: str | None, status: int) -> None:
        with self._lock:
            self._totals["requests"] += 1
            self._by_status[str(status)] += 1
            if inlet_id:
                self._inlets[inlet_id]["requests"] += 1
                self._inlet_status[inlet_id][str(status)] += 1

    def messages(self, inlet_id: str, tallies: dict[str | None, list[int]]) -> None:
        """`tallies`: dataset id -> [accepted, rejected, duplicates, failed].

        accepted: DCS acknowledged it (200 or a 207 success entry), including records that then
        failed streaming validation (failed: they went to a failed batch, not the data lake);
        rejected: DCS refused it (a 400, or a 207 failure entry).
        """
        with self._lock:
            inlet = self._inlets[inlet_id]
            for dataset_id, (acc, rej, dup, failed) in tallies.items():
                ds = self._datasets[dataset_id or NO_DATASET]
                for counter in (self._totals, inlet, ds):
                    counter["messages"] += acc + rej
                    counter["accepted"] += acc
                    counter["rejected"] += rej
                    counter["duplicates"] += dup
                    counter["failed"] += failed

    def fault(self, kind: str) -> None:
        with self._lock:
            self._faults[kind] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:

            def block(c: Counter[str]) -> dict[str, int]:
                out = {k: c[k] for k in _MESSAGE_KEYS}
                out["lake"] = c["accepted"] - c["failed"]
                out["stored"] = out["lake"] - c["duplicates"]
                return out

            totals: dict[str, Any] = block(self._totals)
            totals["requests"] = self._totals["requests"]
            totals["requests_by_status"] = dict(self._by_status)
            totals["faults"] = sum(self._faults.values())
            inlets = {}
            for inlet_id, c in self._inlets.items():
                entry: dict[str, Any] = block(c)
                entry["requests"] = c["requests"]
                entry["requests_by_status"] = dict(self._inlet_status[inlet_id])
                inlets[inlet_id] = entry
            return {
                "totals": totals,
                "inlets": inlets,
                "datasets": {k: block(c) for k, c in self._datasets.items()},
                "faults": dict(self._faults),
            }
