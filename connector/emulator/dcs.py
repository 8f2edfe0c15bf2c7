"""The Data Collection Service inlet: `POST /collection/{inletId}` and `POST /collection/batch/{inletId}`."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from connector.emulator import ids
from connector.emulator.batches import failed_line
from connector.emulator.config import EmulatorOptions
from connector.emulator.http import DCS_AUTH_PROBLEM, Request, Response, json_response, problem
from connector.emulator.ims import Ims
from connector.emulator.profile import Identity
from connector.emulator.registry import Registry
from connector.emulator.store import Ingest, MemoryStore
from connector.emulator.validation import (
    INVALID,
    UNKNOWN_FORMAT,
    InletInfo,
    Rejection,
    cheap_violations,
    check_envelope,
    streaming_cause,
    streaming_violations,
)
from connector.emulator.xdm import CompiledSchema, Violation, lookup
from connector.serde.json import loads_exact

INVALID_TITLE = "Invalid XDM Message Format"


def identities_of(entity: dict[str, Any], schema: CompiledSchema | None) -> tuple[Identity, ...]:
    """Identities from `identityMap` and from the schema's identity descriptors."""
    out: list[Identity] = []
    imap = entity.get("identityMap")
    if isinstance(imap, dict):
        for ns, items in imap.items():
            if isinstance(items, list):
                out.extend(
                    (str(ns), item["id"], bool(item.get("primary")))
                    for item in items
                    if isinstance(item, dict) and isinstance(item.get("id"), str)
                )
    if schema is not None:
        for field in schema.identities:
            value = lookup(entity, field.path)
            if isinstance(value, str) and value:
                out.append((field.namespace, value, field.primary))
    return tuple(out)


def failure_entry(shape: str, index: int, message: str, status: int = 400) -> dict[str, Any]:
    """One failed `responses[]` entry in the configured shape."""
    if shape == "statusCode":
        return {"statusCode": status, "message": message}
    entry: dict[str, Any] = {"xactionId": f"{ids.uuid4()}-{index}", "status": status, "message": message}
    if shape == "both":
        entry = {"statusCode": status, **entry}
    return entry


def batch_body(
    inlet_id: str, batch_id: str, received_ms: int, failures: dict[int, str], count: int, *, shape: str
) -> dict[str, Any]:
    """The 207 body: one entry per message, in order."""
    responses = [
        failure_entry(shape, i, failures[i]) if i in failures else {"xactionId": f"{batch_id}:{i}"}
        for i in range(count)
    ]
    return {"inletId": inlet_id, "batchId": batch_id, "receivedTimeMs": received_ms, "responses": responses}


class SyncRateLimiter:
    """Sync validation: at most `per_minute` requests per inlet in any 60 s window."""

    def __init__(self, per_minute: int, clock: Callable[[], float]) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._hits: defaultdict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def retry_after(self, inlet_id: str) -> float | None:
        """None when the request may go on (and counts it), else seconds until it may."""
        now = self.clock()
        with self._lock:
            hits = self._hits[inlet_id]
            while hits and hits[0] <= now - 60:
                hits.popleft()
            if len(hits) >= self.per_minute:
                return max(hits[0] + 60 - now, 1.0)
            hits.append(now)
            return None


class Dcs:
    def __init__(
        self,
        store: MemoryStore,
        registry: Registry,
        ims: Ims,
        options: EmulatorOptions,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.registry = registry
        self.ims = ims
        self.options = options
        self.clock = clock
        self.limiter = SyncRateLimiter(options.sync_validation_per_minute, clock)

    # request level ----------------------------------------------------------------------------
    def handle(self, req: Request, inlet_id: str, batch: bool) -> Response:
        inlet = self.registry.inlet(inlet_id)
        if inlet is None:
            if self.options.strict_inlets:
                return problem(404, "Not Found", f"inletId: [{inlet_id}] is not a known streaming inlet")
            inlet = InletInfo(inlet_id, self.options.default_org)
        denied, authenticated = self._authorize(req, inlet)
        if denied is not None:
            return denied
        if self.options.require_sandbox_header and not req.header("x-sandbox-name"):
            return problem(400, "Bad Request", f"inletId: [{inlet_id}] the x-sandbox-name header is required")
        if len(req.body) > self.options.max_request_bytes:
            return problem(
                413,
                "Payload Too Large",
                f"inletId: [{inlet_id}] The payload is larger than {self.options.max_request_bytes} bytes",
            )
        sync = not batch and "true" in (req.q("syncValidation"), req.q("synchronousValidation"))
        if sync and not self.options.sync_validation_supported:
            return problem(
                501,
                "Not Implemented",
                f"inletId: [{inlet_id}] synchronous validation is not supported at this location",
            )
        if sync:
            wait = self.limiter.retry_after(inlet_id)
            if wait is not None:
                return problem(
                    429,
                    "Too Many Requests",
                    "Too many requests within specified time duration.",
                    headers=(("Retry-After", str(int(wait + 0.999))),),
                )
        try:  # numbers exact (a long decimal stays a Decimal), except where nothing is stored
            payload = orjson.loads(req.body) if self.store.kind == "count" else loads_exact(req.body)
        except (ValueError, RecursionError) as exc:
            return problem(400, "Bad Request", f"inletId: [{inlet_id}] imsOrgId: [{inlet.org}] Invalid JSON: {exc}")
        flow_header = req.header("x-adobe-flow-id") or req.q("x-adobe-flow-id")
        if batch:
            return self._batch(inlet, payload, flow_header, authenticated)
        return self._single(inlet, payload, flow_header, authenticated, sync)

    def _authorize(self, req: Request, inlet: InletInfo) -> tuple[Response | None, bool]:
        token = req.bearer()
        info = self.ims.token_info(token)
        if inlet.authenticated:
            if info is None:
                reason = "Ims service token is empty" if not token else "Ims service token is invalid or expired"
                return _auth_problem(401, f"[{inlet.inlet_id}] {reason}"), False
            if info["org"] != inlet.org:
                return _auth_problem(
                    403, f"[{inlet.inlet_id}] the token's organization may not write to this inlet"
                ), False
        return None, info is not None and info["org"] == inlet.org

    def _single(self, inlet: InletInfo, msg: Any, flow_header: str | None, authenticated: bool, sync: bool) -> Response:
        ctx = _Context(inlet, flow_header, authenticated, ids.now_ms(), sync)
        xaction = ids.xaction_id(ctx.received)
        outcome = self._message(ctx, msg, xaction)
        ctx.store_into(self.store)
        if isinstance(outcome, Rejection):
            header = msg.get("header") if isinstance(msg, dict) else None
            org = header.get("imsOrgId") if isinstance(header, dict) else None
            text = Rejection(outcome.text).message(inlet, org if isinstance(org, str) else None)
            cause = streaming_cause(outcome.violations) if outcome.violations else None
            return problem(400, INVALID_TITLE, text, cause=cause)
        body: dict[str, Any] = {
            "inletId": inlet.inlet_id,
            "xactionId": xaction,
            "receivedTimeMs": ctx.received,
            "syncValidation": {"status": "pass"} if sync else {"skipped": True},
        }
        return json_response(200, body)

    def _batch(self, inlet: InletInfo, payload: Any, flow_header: str | None, authenticated: bool) -> Response:
        messages = payload.get("messages") if isinstance(payload, dict) else None
        if not isinstance(messages, list):
            return problem(
                400,
                "Bad Request",
                f"inletId: [{inlet.inlet_id}] imsOrgId: [{inlet.org}] "
                f"{UNKNOWN_FORMAT}: the body must be an object with a 'messages' array",
            )
        ctx = _Context(inlet, flow_header, authenticated, ids.now_ms(), False)
        batch_id = ids.xaction_id(ctx.received)
        failures: dict[int, str] = {}
        if self.store.kind == "count" and inlet.data_type != "raw":
            self._count_messages(ctx, messages, batch_id, failures)
        else:
            for i, msg in enumerate(messages):
                outcome = self._message(ctx, msg, f"{batch_id}:{i}")
                if outcome is not None:
                    failures[i] = outcome.message(inlet)
        ctx.store_into(self.store)
        body = batch_body(
            inlet.inlet_id, batch_id, ctx.received, failures, len(messages), shape=self.options.failure_shape
        )
        return json_response(207, body)

    def _dataset_facts(
        self, ds: Any, cache: dict[Any, tuple[str | None, bool | None]]
    ) -> tuple[str | None, bool | None]:
        """(schema id, is-event) of a dataset when known, cached for the request."""
        info = self.registry.dataset(ds) if isinstance(ds, str) else None
        schema = info.schema if info is not None else None
        facts = (info.schema_id if info else None, schema.is_event if schema is not None and schema.klass else None)
        cache[ds] = facts
        return facts

    # message level ----------------------------------------------------------------------------
    def _count_messages(self, ctx: _Context, messages: list[Any], batch_id: str, failures: dict[int, str]) -> None:
        """Count mode's hot loop: the cheap checks inlined; anything unusual takes the general path."""
        org = ctx.inlet.org
        datasets: dict[Any, tuple[str | None, bool | None]] = {}
        accepted = ctx.accepted
        for i, msg in enumerate(messages):
            try:
                header = msg["header"]
                body = msg["body"]
                schema_id = header["schemaRef"]["id"]
                entity = body["xdmEntity"]
                ds = header.get("datasetId")
                known = datasets.get(ds) or self._dataset_facts(ds, datasets)
                ok = (
                    type(schema_id) is str
                    and body["xdmMeta"]["schemaRef"]["id"] == schema_id
                    and type(entity) is dict
                    and type(ds) is str
                    and header.get("imsOrgId", org) == org
                    and (known[0] is None or known[0] == schema_id)
                )
            except (KeyError, TypeError):
                ok = False
            if ok:
                is_event = known[1] if known[1] is not None else "timestamp" in entity
                event_id = entity.get("_id") if is_event else None
                if not is_event or type(event_id) is str:
                    accepted.append(Ingest(ds, event_id, None))
                    continue
            outcome = self._message(ctx, msg, f"{batch_id}:{i}")
            if outcome is not None:
                failures[i] = outcome.message(ctx.inlet)

    def _message(self, ctx: _Context, msg: Any, xaction: str) -> Rejection | None:
        """Check one message, add it to `ctx.accepted` or `ctx.failed`; the Rejection when DCS refuses it."""
        if ctx.inlet.data_type == "raw":
            return self._raw(ctx, msg, xaction)
        checked = check_envelope(msg, ctx.inlet, self.registry.dataset, self.registry.flow_dataset, ctx.flow_header)
        if isinstance(checked, Rejection):
            ctx.fail(msg, None, xaction, checked)
            return checked
        full = self.store.kind != "count"
        if full:
            opts = self.options
            violations = streaming_violations(checked, ctx.received, opts.future_skew_s, opts.max_errors_per_message)
        else:
            violations = cheap_violations(checked)
        if violations:
            rejection = Rejection(INVALID, violations)
            if ctx.sync or self.options.async_validation_failures == "reject":
                ctx.fail(msg, checked.dataset_id, xaction, rejection)
                return rejection
            # Production: DCS acknowledges the message; streaming validation puts it in a failed batch.
            ctx.fail_async(msg, checked.dataset_id, xaction, violations, self.options.failed_record_content)
            return None
        event_id = checked.entity.get("_id") if checked.is_event else None
        if not isinstance(event_id, str):
            event_id = None
        if not full:
            ctx.accepted.append(Ingest(checked.dataset_id, event_id, None))
            return None
        record = {
            "inletId": ctx.inlet.inlet_id,
            "datasetId": checked.dataset_id,
            "schemaId": checked.schema_id,
            "flowId": checked.flow_id,
            "xactionId": xaction,
            "receivedTimeMs": ctx.received,
            "authenticated": ctx.authenticated,
            "header": checked.header,
            "xdmEntity": checked.entity,
        }
        identities = identities_of(checked.entity, checked.schema)
        kind = "event" if checked.is_event else "profile"
        ctx.accepted.append(Ingest(checked.dataset_id, event_id, record, identities, kind, ctx.received))
        return None

    def _raw(self, ctx: _Context, msg: Any, xaction: str) -> Rejection | None:
        if not isinstance(msg, dict):
            rejection = Rejection(UNKNOWN_FORMAT)
            ctx.fail(msg, None, xaction, rejection)
            return rejection
        dataset_id = self.registry.flow_dataset(ctx.flow_header) if ctx.flow_header else None
        record = {
            "inletId": ctx.inlet.inlet_id,
            "datasetId": dataset_id,
            "schemaId": None,
            "flowId": ctx.flow_header,
            "xactionId": xaction,
            "receivedTimeMs": ctx.received,
            "authenticated": ctx.authenticated,
            "raw": msg,
        }
        keep = record if self.store.kind != "count" else None
        ctx.accepted.append(Ingest(dataset_id, None, keep, (), "raw", ctx.received))
        return None


@dataclass(slots=True)
class _Context:
    """One request's inlet, auth and the messages accepted/failed so far."""

    inlet: InletInfo
    flow_header: str | None
    authenticated: bool
    received: int
    sync: bool
    accepted: list[Ingest] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    invalid: list[dict[str, Any]] = field(default_factory=list)

    def fail(self, msg: Any, dataset_id: str | None, xaction: str, rejection: Rejection) -> None:
        """DCS refused the message: the client got a 400 (or a 207 failure entry)."""
        if dataset_id is None and isinstance(msg, dict) and isinstance(msg.get("header"), dict):
            ds = msg["header"].get("datasetId")
            dataset_id = ds if isinstance(ds, str) else None
        self.failed.append(
            {
                "inletId": self.inlet.inlet_id,
                "datasetId": dataset_id,
                "xactionId": xaction,
                "receivedTimeMs": self.received,
                "stage": "sync" if self.sync and rejection.violations else "dccs",
                "status": 400,
                "message": rejection.message(self.inlet),
                "errors": rejection.violations,
                "syncValidation": self.sync,
                "body": msg,
            }
        )

    def fail_async(
        self, msg: Any, dataset_id: str | None, xaction: str, violations: list[Violation], content: str
    ) -> None:
        """DCS acknowledged the message but streaming validation failed it: a failed record of its batch.

        `line` is the record as the failed-batch file holds it: the message with `_validationErrors`.
        """
        self.invalid.append(
            {
                "inletId": self.inlet.inlet_id,
                "datasetId": dataset_id,
                "xactionId": xaction,
                "receivedTimeMs": self.received,
                "stage": "async",
                "message": Rejection(INVALID, violations).message(self.inlet),
                "errors": violations,
                "syncValidation": False,
                "body": msg,
                "line": failed_line(msg, violations, content),
            }
        )

    def store_into(self, store: MemoryStore) -> None:
        store.add(
            self.inlet.inlet_id, self.accepted, self.failed, self.invalid, org=self.inlet.org, received_ms=self.received
        )


def _auth_problem(status: int, message: str) -> Response:
    """The authorization problem body; `status` is a string, as documented for the 401."""
    title = "Authorization" if status == 401 else "Forbidden"
    body = {"type": DCS_AUTH_PROBLEM, "status": str(status), "title": title, "report": {"message": message}}
    return json_response(status, body, content_type="application/problem+json")
