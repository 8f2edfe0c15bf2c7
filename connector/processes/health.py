"""/healthz and /readyz of the supervisor: every child's verdict in one answer.

Each child's last reported WorkerStatus is judged by the same HealthChecks as a single worker
(connector.observability.server); CLOCK_MONOTONIC is shared by all processes of the host, so the
children's loop times compare with the supervisor's clock. Live: every child's loop ran within
`live_within_s` (a child down longer than that, crashing or restarting, fails liveness so the
orchestrator replaces the whole unit). Ready: every child is ready; the body lists each one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from connector.observability.server import LIVE_WITHIN_S, HealthChecks, Verdict
from connector.processes.supervisor import Slot
from connector.worker import WorkerStatus


class _Reported:
    """The `worker` a HealthChecks reads: the slot's last status message."""

    def __init__(self, slot: Slot) -> None:
        self._slot = slot

    @property
    def status(self) -> WorkerStatus:
        return WorkerStatus(**self._slot.status) if self._slot.status else WorkerStatus()


class ProcessesHealth:
    def __init__(
        self,
        slots: Sequence[Slot],
        *,
        stuck_after_s: float,
        live_within_s: float = LIVE_WITHIN_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._slots = slots
        self._live_within = live_within_s
        self._clock = clock
        self._checks = {s.index: HealthChecks(_Reported(s), stuck_after_s=stuck_after_s, live_within_s=live_within_s,
                                              clock=clock) for s in slots}  # fmt: skip
        self._down_since: dict[int, float] = {}

    def _down(self, slot: Slot, now: float) -> float | None:
        """Seconds the slot has had no running process reporting, or None when it has one."""
        if slot.process is not None and slot.status.get("running"):
            self._down_since.pop(slot.index, None)
            return None
        return now - self._down_since.setdefault(slot.index, now)

    def liveness(self) -> Verdict:
        now = self._clock()
        reasons: list[str] = []
        for slot in self._slots:
            down = self._down(slot, now)
            if down is not None:
                if down > self._live_within:
                    reasons.append(f"process {slot.index}: not running for {down:.0f}s ({self._why(slot)})")
                continue
            verdict = self._checks[slot.index].liveness()
            reasons += [f"process {slot.index}: {r}" for r in verdict.reasons]
        return Verdict(not reasons, reasons, {"processes": [self._detail(s) for s in self._slots]})

    def readiness(self) -> Verdict:
        now = self._clock()
        reasons: list[str] = []
        details = []
        for slot in self._slots:
            down = self._down(slot, now)
            detail = self._detail(slot)
            if down is not None:
                reasons.append(f"process {slot.index}: not running ({self._why(slot)})")
            else:
                verdict = self._checks[slot.index].readiness()
                reasons += [f"process {slot.index}: {r}" for r in verdict.reasons]
                detail.update(verdict.detail)
            details.append(detail)
        return Verdict(not reasons, reasons, {"processes": details})

    @staticmethod
    def _why(slot: Slot) -> str:
        if slot.process is not None:
            return "starting"
        return f"last exit code {slot.last_exit}, restarting"

    @staticmethod
    def _detail(slot: Slot) -> dict[str, Any]:
        return {"process": slot.index, "pid": slot.pid, "restarts": slot.restarts, "last_exit": slot.last_exit,
                "assigned": slot.status.get("assigned", 0), "delivered": slot.status.get("delivered", 0)}
