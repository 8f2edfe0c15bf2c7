"""Routes one Request to the DCS, IMS, Platform, Profile, admin or page handlers; applies faults first."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson

from connector.emulator.config import DEFAULT_SCOPES, EmulatorOptions
from connector.emulator.dcs import Dcs
from connector.emulator.edge import Edge, fault_response, stats_key
from connector.emulator.faults import FaultInjector, retry_after_header
from connector.emulator.http import Request, Response, bad_request, json_response, not_found, problem
from connector.emulator.ims import Ims
from connector.emulator.page import render_page
from connector.emulator.platform import Platform
from connector.emulator.registry import Registry
from connector.emulator.store import MemoryStore

_FAULT_TEXT = {
    429: ("Too Many Requests", "Too many requests within specified time duration."),
    500: ("Internal Server Error", "Error in processing payload"),
    502: ("Bad Gateway", "Bad gateway"),
    503: ("Service Unavailable", "The service is temporarily unavailable; retry with exponential back-off"),
    504: ("Gateway Timeout", "Gateway timeout"),
}


def _int_param(req: Request, name: str, default: int | None) -> int | None:
    value = req.q(name)
    return int(value) if value not in (None, "") else default


class EmulatorApp:
    """Everything behind the HTTP server; `base_url` gives the inlet URLs it hands out."""

    def __init__(
        self,
        store: MemoryStore,
        options: EmulatorOptions,
        base_url: Callable[[], str],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.options = options
        self.base_url = base_url
        self.clock = clock
        self.faults = FaultInjector(options.fault_seed, options.fault_rules)
        self.attach(store)

    def attach(self, store: MemoryStore) -> None:
        """Use `store` (a new one after a sqlite restart)."""
        self.store = store
        store.batch_window_ms = max(int(self.options.batch_window_s * 1000), 1)
        self.registry = Registry(store)
        self.ims = Ims(store, self.options, self.clock)
        self.dcs = Dcs(store, self.registry, self.ims, self.options, self.clock)
        self.edge = Edge(store, self.registry, self.ims, self.options, self.clock)
        self.platform = Platform(self.registry, self.ims, self.options, self.base_url)

    # routing --------------------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        path = req.path
        decision = self.faults.decide(path, req.body)
        inlet_id = _inlet_of(path)
        counted = inlet_id if inlet_id is not None else stats_key(req)
        response: Response | None = None
        if decision.rule is not None:
            response = self._fault(decision.rule.kind, decision.rule.status, decision.rule.retry_after, path)
            self.store.stats_counters.fault(decision.rule.label)
        if response is None:
            try:
                response = self._route(req, inlet_id)
            except (ValueError, KeyError, TypeError, orjson.JSONDecodeError) as exc:
                response = bad_request(f"{type(exc).__name__}: {exc}")
        if counted is not None:
            self.store.stats_counters.request(counted, 0 if response.reset else response.status)
        if decision.delay_s:
            self.store.stats_counters.fault("latency")
            response = Response(
                response.status,
                response.body,
                response.content_type,
                response.headers,
                response.reset,
                decision.delay_s,
            )
        return response

    def _fault(self, kind: str, status: int, retry_after: Any, path: str = "") -> Response | None:
        if kind == "reset":
            return Response(0, reset=True)
        if kind == "expire_tokens":
            self.ims.expire_all()
            return None
        title, message = _FAULT_TEXT.get(status, ("Error", "Injected fault"))
        header = retry_after_header(retry_after, self.clock())
        headers = (("Retry-After", header),) if header else ()
        if path.startswith("/ee/"):
            return fault_response(status, headers)
        return problem(status, title, message, headers=headers)

    def _route(self, req: Request, inlet_id: str | None) -> Response:
        path, method = req.path, req.method
        if inlet_id is not None:
            if method != "POST":
                return json_response(405, {"title": "Method Not Allowed", "status": 405})
            return self.dcs.handle(req, inlet_id, path.startswith("/collection/batch/"))
        if path.startswith("/ee/"):
            return self.edge.handle(req)
        if path in ("/ims/token/v3", "/ims/token/v2", "/ims/token/v1") and method == "POST":
            return self.ims.token_endpoint(req)
        if path.startswith("/emulator/"):
            return self._admin(req)
        if path.startswith("/data/"):
            return self.platform.handle(req)
        if path in ("/", "/index.html") and method == "GET":
            return Response(200, render_page(self, req).encode(), "text/html; charset=utf-8")
        return not_found(f"no route for {method} {path}")

    # admin ----------------------------------------------------------------------------------
    def _admin(self, req: Request) -> Response:
        route = (req.method, req.path.rstrip("/"))
        dataset = req.q("dataset")
        limit, offset = _int_param(req, "limit", None), _int_param(req, "offset", 0) or 0
        if route == ("GET", "/emulator/stats"):
            return json_response(200, self.store.stats())
        if route == ("GET", "/emulator/records"):
            return json_response(200, self.store.records(dataset, limit, offset))
        if route == ("GET", "/emulator/failed"):
            return json_response(200, self.store.failed(dataset, limit, offset))
        if route == ("GET", "/emulator/health"):
            return json_response(200, {"status": "ok", "store": self.store.kind})
        if route == ("POST", "/emulator/reset"):
            everything = req.q("registry") == "true"
            self.store.reset(objects=everything)
            self.registry.invalidate()
            self.faults.clear()
            return json_response(200, {"reset": True, "registry": everything})
        if route == ("GET", "/emulator/faults"):
            return json_response(200, self.faults.describe())
        if route == ("POST", "/emulator/faults"):
            self.faults.configure(req.json())
            return json_response(200, self.faults.describe())
        if route == ("DELETE", "/emulator/faults"):
            self.faults.clear()
            return json_response(200, self.faults.describe())
        edge_admin = self.edge.admin(req)
        if edge_admin is not None:
            return edge_admin
        if route == ("POST", "/emulator/tokens/expire"):
            return json_response(200, {"expired": self.ims.expire_all()})
        if route == ("POST", "/emulator/clients"):
            body = req.json()
            self.ims.add_client(
                body["client_id"],
                body["client_secret"],
                body.get("org", self.options.default_org),
                body.get("scopes", DEFAULT_SCOPES),
            )
            return json_response(201, {"client_id": body["client_id"]})
        if route == ("POST", "/emulator/inlets"):
            body = req.json() if req.body else {}
            inlet = self.create_inlet(
                name=body.get("name", "Emulator inlet"),
                authenticated=bool(body.get("authenticated", False)),
                org=body.get("org", self.options.default_org),
                data_type=body.get("data_type", "xdm"),
            )
            return json_response(201, {"inletId": inlet, "inletUrl": f"{self.base_url()}/collection/{inlet}"})
        return not_found(f"no route for {req.method} {req.path}")

    def create_inlet(self, *, name: str, authenticated: bool, org: str, data_type: str) -> str:
        """A streaming connection (Flow Service base connection) with its inlet; returns the inletId."""
        return str(self.platform.create_streaming_connection(name, authenticated, org, data_type)["inletId"])


def _inlet_of(path: str) -> str | None:
    if path.startswith("/collection/batch/"):
        inlet = path[len("/collection/batch/") :]
    elif path.startswith("/collection/"):
        inlet = path[len("/collection/") :]
    else:
        return None
    inlet = inlet.strip("/")
    return inlet if inlet and "/" not in inlet else None
