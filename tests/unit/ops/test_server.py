"""Health verdicts from the worker status, and the HTTP endpoints of the observability server."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from connector.observability.metrics import RECORDS_CONSUMED
from connector.observability.server import HealthChecks, ObservabilityServer
from connector.worker import WorkerStatus


@dataclass
class FakeWorker:
    status: WorkerStatus = field(default_factory=WorkerStatus)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _running(clock: Clock) -> FakeWorker:
    w = FakeWorker()
    w.status.started = clock.now
    w.status.running = True
    w.status.last_loop = clock.now
    w.status.assigned = 3
    return w


def test_liveness_follows_the_loop() -> None:
    """Alive while the loop ran recently; 503 when it stalls or stops."""
    clock = Clock()
    worker = _running(clock)
    checks = HealthChecks(worker, stuck_after_s=120, live_within_s=30, clock=clock)
    assert checks.liveness().ok
    clock.now += 31
    verdict = checks.liveness()
    assert not verdict.ok and "not run for 31s" in verdict.reasons[0]
    worker.status.last_loop = clock.now
    assert checks.liveness().ok
    worker.status.running = False
    assert checks.liveness().reasons == ["worker loop has stopped"]


def test_liveness_gives_a_starting_worker_grace() -> None:
    """Before the loop starts, liveness counts from the server's creation."""
    clock = Clock()
    checks = HealthChecks(FakeWorker(), stuck_after_s=120, live_within_s=30, clock=clock)
    assert checks.liveness().ok
    clock.now += 40
    assert not checks.liveness().ok


def test_readiness_needs_assigned_partitions() -> None:
    """No assignment: not ready, with the reason."""
    clock = Clock()
    worker = _running(clock)
    worker.status.assigned = 0
    verdict = HealthChecks(worker, stuck_after_s=120, clock=clock).readiness()
    assert not verdict.ok and verdict.reasons == ["no partitions assigned"]


def test_readiness_tracks_deliveries_while_records_wait() -> None:
    """Buffered records without a recent delivery: AEP unreachable, then stuck; a delivery makes it ready."""
    clock = Clock()
    worker = _running(clock)
    checks = HealthChecks(worker, stuck_after_s=60, reachable_within_s=10, clock=clock)
    assert checks.readiness().ok
    worker.status.buffered = 500
    clock.now += 5
    assert checks.readiness().ok
    clock.now += 10
    verdict = checks.readiness()
    assert not verdict.ok and verdict.reasons[0].startswith("AEP unreachable")
    clock.now += 60
    reasons = checks.readiness().reasons
    assert len(reasons) == 2 and reasons[1].startswith("stuck: 500 records buffered")
    worker.status.last_delivery_ok = clock.now
    verdict = checks.readiness()
    assert verdict.ok and verdict.detail["buffered"] == 500


def test_readiness_is_fine_when_idle() -> None:
    """Nothing buffered means ready however long ago the last delivery was."""
    clock = Clock()
    worker = _running(clock)
    clock.now += 10_000
    worker.status.last_loop = clock.now
    assert HealthChecks(worker, stuck_after_s=60, clock=clock).readiness().ok


@pytest.fixture
def server() -> Iterator[tuple[ObservabilityServer, FakeWorker]]:
    clock = Clock()
    worker = _running(clock)
    checks = HealthChecks(worker, stuck_after_s=60, clock=clock)
    srv = ObservabilityServer("127.0.0.1", 0, checks).start()
    try:
        yield srv, worker
    finally:
        srv()


def _get(port: int, path: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.headers["Content-Type"], r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers["Content-Type"], e.read()


def test_http_endpoints(server: tuple[ObservabilityServer, FakeWorker]) -> None:
    """/metrics serves the registry; /healthz and /readyz answer JSON with 200 or 503; others 404."""
    srv, worker = server
    RECORDS_CONSUMED.labels("http-test").inc(3)
    status, ctype, body = _get(srv.port, "/metrics")
    assert status == 200 and ctype.startswith("text/plain")
    assert b'aep_connector_records_consumed_total{topic="http-test"} 3.0' in body
    status, ctype, body = _get(srv.port, "/healthz")
    assert status == 200 and ctype == "application/json" and json.loads(body)["status"] == "ok"
    assert _get(srv.port, "/readyz")[0] == 200
    worker.status.assigned = 0
    status, _, body = _get(srv.port, "/readyz")
    assert status == 503 and json.loads(body)["reasons"] == ["no partitions assigned"]
    assert _get(srv.port, "/nope")[0] == 404
