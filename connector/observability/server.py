"""One HTTP server for Prometheus and the orchestrator: /metrics, /healthz, /readyz.

- `/healthz` (liveness): 200 while the worker loop ran within the last `live_within_s`; a
  wedged or stopped loop answers 503 so the container is restarted.
- `/readyz` (readiness): 200 only when partitions are assigned, AEP is reachable (nothing is
  buffered, or a delivery succeeded recently) and the worker is not stuck (records buffered
  with no successful delivery for more than `stuck_after_s`). The JSON body lists the reasons.

The lag refresher (connector.observability.lag) runs next to it and is closed with it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

import orjson
import structlog
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from connector.config import Settings
from connector.observability.lag import LagMonitor
from connector.observability.logging import register_settings_secrets
from connector.observability.metrics import REGISTRY
from connector.worker import WorkerStatus

log = structlog.get_logger(__name__)

LIVE_WITHIN_S = 60.0
REACHABLE_WITHIN_S = 30.0


class HasStatus(Protocol):
    @property
    def status(self) -> WorkerStatus: ...


class Checks(Protocol):
    """What the endpoints ask: HealthChecks for one worker, ProcessesHealth for a supervisor's children."""

    def liveness(self) -> Verdict: ...

    def readiness(self) -> Verdict: ...


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    reasons: list[str] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)

    def body(self) -> bytes:
        return orjson.dumps({"status": "ok" if self.ok else "unavailable", "reasons": self.reasons, **self.detail})


class HealthChecks:
    """Liveness and readiness from the worker's status, read on each probe (no locking: plain reads)."""

    def __init__(
        self,
        worker: HasStatus,
        *,
        stuck_after_s: float,
        live_within_s: float = LIVE_WITHIN_S,
        reachable_within_s: float = REACHABLE_WITHIN_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._worker = worker
        self._stuck_after = stuck_after_s
        self._live_within = live_within_s
        self._reachable_within = min(reachable_within_s, stuck_after_s)
        self._clock = clock
        self._created = clock()
        self._last_empty = 0.0  # last probe that saw nothing buffered

    def liveness(self) -> Verdict:
        st, now = self._worker.status, self._clock()
        if st.started and not st.running:
            return Verdict(False, ["worker loop has stopped"])
        last = st.last_loop or st.started or self._created
        age = now - last
        detail = {"seconds_since_loop": round(age, 3)}
        if age > self._live_within:
            return Verdict(False, [f"worker loop has not run for {age:.0f}s (limit {self._live_within:.0f}s)"], detail)
        return Verdict(True, [], detail)

    def readiness(self) -> Verdict:
        st, now = self._worker.status, self._clock()
        if st.buffered == 0:
            self._last_empty = now
        progress = max(st.last_delivery_ok, st.started, self._last_empty)
        idle = now - progress if progress else 0.0
        reasons: list[str] = []
        if not st.running:
            reasons.append("worker is not running")
        if st.assigned == 0:
            reasons.append("no partitions assigned")
        if st.buffered and idle > self._reachable_within:
            reasons.append(f"AEP unreachable: no successful delivery for {idle:.0f}s, {st.buffered} records buffered")
        if st.buffered and idle > self._stuck_after:
            reasons.append(
                f"stuck: {st.buffered} records buffered, no successful delivery for {idle:.0f}s "
                f"(stuck_after_s={self._stuck_after:g})"
            )
        detail = {
            "assigned": st.assigned,
            "paused": st.paused,
            "buffered": st.buffered,
            "in_flight": st.in_flight,
            "delivered": st.delivered,
            "dead_lettered": st.dead_lettered,
            "seconds_since_delivery": round(now - st.last_delivery_ok, 3) if st.last_delivery_ok else None,
        }
        return Verdict(not reasons, reasons, detail)


def _handler(checks: Checks, registry: CollectorRegistry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "aep-connector"

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, generate_latest(registry), CONTENT_TYPE_LATEST)
            elif path in ("/healthz", "/readyz"):
                verdict = checks.liveness() if path == "/healthz" else checks.readiness()
                self._send(200 if verdict.ok else 503, verdict.body(), "application/json")
            else:
                self._send(404, b'{"status":"not found"}', "application/json")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


class ObservabilityServer:
    """The HTTP server thread (and the lag refresher); calling the instance closes both."""

    def __init__(
        self,
        host: str,
        port: int,
        checks: Checks,
        lag: LagMonitor | None = None,
        registry: CollectorRegistry = REGISTRY,
    ) -> None:
        self._httpd = ThreadingHTTPServer((host, port), _handler(checks, registry))
        self._httpd.daemon_threads = True
        self._lag = lag
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="observability-http", daemon=True)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def lag(self) -> LagMonitor | None:
        return self._lag

    def start(self) -> ObservabilityServer:
        self._thread.start()
        if self._lag is not None:
            self._lag.start()
        return self

    def __call__(self) -> None:
        self.close()

    def close(self) -> None:
        if self._lag is not None:
            self._lag.close()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5.0)


def start_observability(
    settings: Settings,
    worker: HasStatus | None,
    *,
    checks: Checks | None = None,
    registry: CollectorRegistry = REGISTRY,
) -> ObservabilityServer:
    """Serve /metrics, /healthz and /readyz on metrics_host:metrics_port and refresh the lag gauges.

    `checks` replaces the health checks of `worker` (a supervisor passes its children's); `registry`
    is what /metrics exposes (a supervisor's collects the children's multiprocess files).
    """
    register_settings_secrets(settings)
    obs = settings.observability
    if checks is None:
        assert worker is not None
        checks = HealthChecks(worker, stuck_after_s=obs.stuck_after_s)
    lag = LagMonitor(settings.kafka, obs.lag_refresh_s)
    server = ObservabilityServer(obs.metrics_host, obs.metrics_port or 0, checks, lag, registry).start()
    log.info("observability_listening", host=obs.metrics_host, port=server.port, lag_refresh_s=obs.lag_refresh_s)
    return server
