"""The Edge Network Server API: `POST /ee[/{hint}]/v2/collect` (a batch) and `/v2/interact` (one event).

Each request names a datastream (`datastreamId`, or `dataStreamId` as Experience League spells
it; `configId` on v1). A datastream (store kind "datastreams", created by `POST
/emulator/datastreams` or the seed file) belongs to an org, writes to one event dataset and lists
the dataset overrides it allows. Accepted events land in that dataset's lake and Profile store,
so `lookup` and the page show them.

Fatal problems answer with Adobe's RFC 7807 bodies (`EXEG-<code>-<status>`) and store nothing:
one event failing the Edge's own checks (shape, `_id`, `timestamp`, identities) refuses the whole
request, naming the event's index. An event that passes them but breaks its dataset's XDM schema
is accepted, as in production, and Platform's streaming validation fails it later: it becomes a
failed record of the dataset's streaming batch (the DCS batching, connector.emulator.batches), so
Catalog and the Data Access API serve it. `validation: sync` refuses it at once instead
(EXEG-0104-422), for tests that want that. Where Adobe's pages leave the behaviour open,
`EdgeOptions` (`GET/POST /emulator/edge/options`, seed key `edge_options`) selects the reading;
docs/edge.md lists them. The defaults are the documented ones.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import orjson

from connector.emulator import ids
from connector.emulator.batches import failed_line
from connector.emulator.config import EmulatorOptions
from connector.emulator.dcs import identities_of
from connector.emulator.http import PROBLEM_JSON, Request, Response, json_response, not_found
from connector.emulator.ims import TOKENS, Ims
from connector.emulator.registry import Registry
from connector.emulator.store import Ingest, MemoryStore
from connector.emulator.validation import INVALID, Checked, streaming_violations
from connector.emulator.xdm import Violation, parse_date_time_ms

PREFIX = "/ee/"
DATASTREAMS = "datastreams"
STATS_PREFIX = "datastream:"
_OPTIONS_KIND, _OPTIONS_KEY = "edge", "options"
_EXEG = "https://ns.adobe.com/aep/errors/EXEG-"
_PATH = re.compile(r"^/ee/(?:(?P<hint>[a-z0-9]+)/)?(?P<version>v[12])/(?P<endpoint>collect|interact)/?$")
_CONTENT_TYPES = ("application/json", "text/plain", "application/x-jackson-smile", "text/javascript")
_FAULT_CODES = {500: "0001-500", 502: "0203-502", 503: "0000-503", 504: "0200-504", 413: "0112-413"}


@dataclass(frozen=True, slots=True)
class EdgeOptions:
    """Readings of what Adobe's Edge Network pages leave open; the defaults follow the documentation."""

    success_status: int = 202  # collect: 202 {requestId} (developer docs); 200 or 204 are the other readings
    max_request_bytes: int = 64_000  # "64 KB"; 65536 reads it as "64Kib" (Experience League)
    max_events: int | None = None  # no per-request event count is documented
    primary_identity: str = "documented"  # documented: required when authenticated | always | never
    validation: str = "async"  # async: 2xx, schema violations become failed batch records | sync: EXEG-0104-422
    require_id_timestamp: bool = True  # False: fill a missing _id / timestamp as the SDKs do
    datastream_param: str = "both"  # both | datastreamId | dataStreamId

    @classmethod
    def from_json(cls, data: dict[str, Any], base: EdgeOptions | None = None) -> EdgeOptions:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown edge option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        out = replace(base or cls(), **data)
        if out.success_status not in (200, 202, 204):
            raise ValueError("success_status must be 200, 202 or 204")
        if out.primary_identity not in ("documented", "always", "never"):
            raise ValueError("primary_identity must be documented, always or never")
        if out.validation not in ("sync", "async"):
            raise ValueError("validation must be sync or async")
        if out.datastream_param not in ("both", "datastreamId", "dataStreamId"):
            raise ValueError("datastream_param must be both, datastreamId or dataStreamId")
        return out


class EdgeError(Exception):
    """A fatal Edge answer: raised while checking, turned into the problem response."""

    def __init__(self, code: str, title: str, detail: str, errors: list[str] | None = None) -> None:
        super().__init__(detail)
        self.code, self.title, self.detail, self.errors = code, title, detail, errors or []


def exeg_problem(
    code: str, title: str, detail: str, report: dict[str, Any] | None = None, headers: tuple[tuple[str, str], ...] = ()
) -> Response:
    """An RFC 7807 body in the Edge Network's shape: type EXEG-<code>, status, title, detail, report."""
    status = int(code[-3:])
    body: dict[str, Any] = {"type": f"{_EXEG}{code}", "status": status, "title": title, "detail": detail}
    if report:
        body["report"] = report
    return json_response(status, body, headers, PROBLEM_JSON)


def fault_response(status: int, headers: tuple[tuple[str, str], ...]) -> Response:
    """What an injected fault looks like on an Edge path (207: the Platform upstream failed, nothing stored)."""
    rid = _request_id(None)
    if status == 207:
        error = {
            "type": f"{_EXEG}0201-503",
            "status": 503,
            "title": "The 'com.adobe.experience.platform.ode' service is temporarily unable to serve this request. "
            "Please try again later.",
        }
        return json_response(207, {"requestId": rid, "handle": [], "errors": [error]}, headers)
    code = _FAULT_CODES.get(status)
    if code is not None:
        return exeg_problem(code, "Injected fault", "The service is temporarily unable to process your request.",
                            {"requestId": rid}, headers)  # fmt: skip
    body = {"type": "about:blank", "status": status, "title": "Injected fault", "report": {"requestId": rid}}
    return json_response(status, body, headers, PROBLEM_JSON)


def stats_key(req: Request) -> str | None:
    """The stats key of an Edge request ("datastream:<id>"), None for other paths."""
    if not req.path.startswith(PREFIX):
        return None
    ds = req.q("datastreamId") or req.q("dataStreamId") or req.q("configId")
    return f"{STATS_PREFIX}{ds}" if ds else None


def _request_id(given: str | None) -> str:
    """`<requestId>-<16 hex>`: the Edge Network always appends entropy to the caller's id."""
    return f"{given or ids.uuid4()}-{secrets.token_hex(8)}"


@dataclass(slots=True)
class _Call:
    """One request: its datastream, org, whether it was authenticated, and when it arrived."""

    datastream: dict[str, Any]
    authenticated: bool
    received: int
    request_id: str
    options: EdgeOptions


class Edge:
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
        self.emulator_options = options
        self.clock = clock

    # configuration --------------------------------------------------------------------------
    @property
    def options(self) -> EdgeOptions:
        """The readings set, else the defaults (`validation` follows `--async-validation-failures`)."""
        doc = self.store.get(_OPTIONS_KIND, _OPTIONS_KEY)
        if doc:
            return EdgeOptions.from_json(doc)
        strict = self.emulator_options.async_validation_failures == "reject"
        return EdgeOptions(validation="sync" if strict else "async")

    def set_options(self, data: dict[str, Any]) -> EdgeOptions:
        out = EdgeOptions.from_json(data, self.options)
        self.store.put(_OPTIONS_KIND, _OPTIONS_KEY, asdict(out))
        return out

    def create_datastream(
        self,
        *,
        dataset_id: str | None,
        datastream_id: str | None = None,
        name: str = "Emulator datastream",
        org: str | None = None,
        authenticated_only: bool = False,
        enabled: bool = True,
        override_datasets: list[str] | None = None,
    ) -> str:
        """A datastream with the Adobe Experience Platform service writing to `dataset_id` (None: no Platform)."""
        ds = datastream_id or ids.uuid4()
        doc = {
            "id": ds,
            "name": name,
            "org": org or self.emulator_options.default_org,
            "datasetId": dataset_id,
            "enabled": enabled,
            "authenticatedOnly": authenticated_only,
            "overrideDatasets": list(override_datasets or []),
        }
        self.store.put(DATASTREAMS, ds, doc)
        return ds

    def admin(self, req: Request) -> Response | None:
        """`/emulator/datastreams` (GET list, POST create) and `/emulator/edge/options` (GET, POST)."""
        route = (req.method, req.path.rstrip("/"))
        if route == ("GET", "/emulator/datastreams"):
            return json_response(200, [doc for _, doc in self.store.items(DATASTREAMS)])
        if route == ("POST", "/emulator/datastreams"):
            body = req.json() if req.body else {}
            ds = self.create_datastream(
                dataset_id=body.get("dataset_id"),
                datastream_id=body.get("id"),
                name=str(body.get("name", "Emulator datastream")),
                org=body.get("org"),
                authenticated_only=bool(body.get("authenticated_only", False)),
                enabled=bool(body.get("enabled", True)),
                override_datasets=body.get("override_datasets"),
            )
            return json_response(201, self.store.get(DATASTREAMS, ds))
        if route == ("GET", "/emulator/edge/options"):
            return json_response(200, asdict(self.options))
        if route == ("POST", "/emulator/edge/options"):
            return json_response(200, asdict(self.set_options(req.json())))
        return None

    # requests -------------------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        match = _PATH.match(req.path)
        if match is None:
            return not_found(f"no Edge Network endpoint at {req.path}")
        if req.method != "POST":
            return json_response(405, {"title": "Method Not Allowed", "status": 405})
        options = self.options
        rid = _request_id(req.q("requestId") or req.header("x-request-id"))
        try:
            call = self._call(req, match.group("version"), options, rid)
            payload = self._payload(req, options)
            if match.group("endpoint") == "interact":
                return self._interact(call, payload, match.group("hint"))
            return self._collect(call, payload, req.q("silent") == "true")
        except EdgeError as exc:
            report = {"requestId": rid, **({"errors": exc.errors} if exc.errors else {})}
            return exeg_problem(exc.code, exc.title, exc.detail, report)

    def _call(self, req: Request, version: str, options: EdgeOptions, rid: str) -> _Call:
        names = ("configId",) if version == "v1" else {
            "both": ("datastreamId", "dataStreamId"), "datastreamId": ("datastreamId",),
            "dataStreamId": ("dataStreamId",),
        }[options.datastream_param]  # fmt: skip
        ds_id = next((req.q(n) for n in names if req.q(n)), None)
        if not ds_id:
            raise EdgeError(
                "0002-400", "Missing datastream parameter", f"The required datastream parameter {names[0]} is missing."
            )
        datastream = self.store.get(DATASTREAMS, ds_id)
        if datastream is None:
            raise EdgeError("0003-400", "Invalid datastream ID", f"The datastream ID {ds_id} does not exist.")
        if not datastream.get("enabled", True):
            raise EdgeError("0004-422", "Datastream disabled", f"The datastream with the ID {ds_id} is disabled.")
        authenticated = self._authorize(req, datastream)
        if not datastream.get("datasetId"):
            raise EdgeError(
                "0010-422",
                "Invalid datastream configuration",
                f"The Experience Platform datastream configuration is missing for IMS Org {datastream['org']}.",
            )
        return _Call(datastream, authenticated, ids.now_ms(), rid, options)

    def _authorize(self, req: Request, datastream: dict[str, Any]) -> bool:
        """True for a valid server-to-server call; EdgeError for a bad one or a missing one where required."""
        token = req.bearer()
        if token is None:
            if datastream.get("authenticatedOnly"):
                raise EdgeError("0500-401", "Invalid authorization token", "The datastream requires authentication.")
            return False
        info = self.ims.token_info(token)
        if info is None:
            if self.store.get(TOKENS, token) is not None:
                raise EdgeError("0503-401", "Authorization token expired", "The authorization token has expired.")
            raise EdgeError("0502-401", "Invalid authorization token", "The authorization token is invalid.")
        if not req.header("x-api-key") or not req.header("x-gw-ims-org-id"):
            raise EdgeError(
                "0500-401", "Invalid authorization token", "The request is missing x-api-key or x-gw-ims-org-id."
            )
        if req.header("x-gw-ims-org-id") != info["org"] or info["org"] != datastream["org"]:
            raise EdgeError(
                "0506-401",
                "Sandbox not accessible for write",
                "The authorization token does not have DATASET.WRITE permissions for the datastream's sandbox.",
            )
        return True

    def _payload(self, req: Request, options: EdgeOptions) -> dict[str, Any]:
        ctype = (req.header("content-type") or "application/json").split(";")[0].strip().lower()
        if ctype not in _CONTENT_TYPES:
            raise EdgeError("0111-415", "Invalid request", f"The request content type {ctype} is not supported.")
        if not req.body:
            raise EdgeError("0109-408", "Empty request", "The request body is empty.")
        if len(req.body) > options.max_request_bytes:
            raise EdgeError(
                "0112-413",
                "Invalid request",
                f"The request payload is too large. The maximum accepted size is {options.max_request_bytes}.",
            )
        try:
            payload = orjson.loads(req.body)
        except orjson.JSONDecodeError as exc:
            raise EdgeError("0101-400", "Invalid JSON request", f"The JSON request is invalid: {exc}") from None
        if not isinstance(payload, dict):
            raise EdgeError("0101-400", "Invalid JSON request", "The request body must be a JSON object.")
        return payload

    def _collect(self, call: _Call, payload: dict[str, Any], silent: bool) -> Response:
        events = payload.get("events")
        if not isinstance(events, list) or not events:
            raise EdgeError("0103-400", "Missing required value", "The events field is mandatory.")
        limit = call.options.max_events
        if limit is not None and len(events) > limit:
            raise EdgeError("0112-413", "Invalid request", f"The request holds {len(events)} events; at most {limit}.")
        dataset = self._dataset(call, payload.get("meta"))
        self._ingest(call, dataset, events)
        if silent or call.options.success_status == 204:
            return Response(204, b"")
        return json_response(call.options.success_status, {"requestId": call.request_id})

    def _interact(self, call: _Call, payload: dict[str, Any], hint: str | None) -> Response:
        event = payload.get("event")
        if not isinstance(event, dict):
            raise EdgeError("0103-400", "Missing required value", "The event field is mandatory.")
        self._ingest(call, self._dataset(call, payload.get("meta")), [event])
        location = {"scope": "EdgeNetwork", "hint": hint or "or2", "ttlSeconds": 1800}
        handle = [{"type": "locationHint:result", "payload": [location]}]
        return json_response(200, {"requestId": call.request_id, "handle": handle})

    def _dataset(self, call: _Call, meta: Any) -> str:
        """The event dataset: the datastream's, or an override the datastream allows (EXEG-0113-400 otherwise)."""
        dataset = str(call.datastream["datasetId"])
        overrides = meta.get("configOverrides") if isinstance(meta, dict) else None
        if overrides is None:
            return dataset
        platform = overrides.get("com_adobe_experience_platform") if isinstance(overrides, dict) else None
        if not isinstance(overrides, dict) or (platform is not None and not isinstance(platform, dict)):
            raise EdgeError("0113-400", "Invalid request", "The configuration override payload is invalid.")
        wanted = ((platform or {}).get("datasets") or {}).get("event", {}).get("datasetId")
        if wanted is None:
            return dataset
        if wanted != dataset and wanted not in call.datastream.get("overrideDatasets", []):
            raise EdgeError(
                "0113-400",
                "Invalid request",
                "The configuration override payload is invalid.",
                [f"event dataset {wanted} is not an override configured on datastream {call.datastream['id']}"],
            )
        return str(wanted)

    # events ---------------------------------------------------------------------------------
    def _ingest(self, call: _Call, dataset_id: str, events: list[Any]) -> None:
        """Check every event (the first one the Edge refuses refuses the request), then store them all.

        An event breaking the dataset's schema is refused here only with `validation: sync`; else it
        is kept as a failed record of the dataset's streaming batch, as Platform does.
        """
        info = self.registry.dataset(dataset_id)
        schema = info.schema if info is not None else None
        schema_id = info.schema_id if info and info.schema_id else ""
        opts = self.emulator_options
        accepted: list[Ingest] = []
        invalid: list[dict[str, Any]] = []
        for i, event in enumerate(events):
            xdm = self._check(call, i, event)
            checked = Checked({}, xdm, schema_id, dataset_id, None, schema, True)
            violations = streaming_violations(checked, call.received, opts.future_skew_s, opts.max_errors_per_message)
            if violations and call.options.validation == "sync":
                causes = [f"event #{i}: {v['pointerToViolation']}: {v['message']}" for v in violations]
                raise EdgeError("0104-422", "Unprocessable entity", "Invalid request (report attached).", causes)
            if violations:
                invalid.append(self._failed_record(call, dataset_id, i, event, violations))
                continue
            record = {
                "datastreamId": call.datastream["id"],
                "datasetId": dataset_id,
                "schemaId": schema_id or None,
                "requestId": call.request_id,
                "xactionId": f"{call.request_id}:{i}",
                "receivedTimeMs": call.received,
                "authenticated": call.authenticated,
                "xdmEntity": xdm,
            }
            if isinstance(event.get("data"), dict):
                record["data"] = event["data"]
            identities = identities_of(xdm, schema)
            accepted.append(Ingest(dataset_id, str(xdm["_id"]), record, identities, "event", call.received))
        key = f"{STATS_PREFIX}{call.datastream['id']}"
        self.store.add(key, accepted, [], invalid, org=str(call.datastream["org"]), received_ms=call.received)

    def _check(self, call: _Call, i: int, event: Any) -> dict[str, Any]:
        """The event's xdm after the Edge Network's own checks (shape, _id, timestamp, identityMap)."""
        xdm = event.get("xdm") if isinstance(event, dict) else None
        if not isinstance(xdm, dict):
            raise EdgeError("0102-400", "Invalid request field", f"The value supplied for events[{i}].xdm is invalid.")
        if not call.options.require_id_timestamp:
            xdm.setdefault("_id", ids.uuid4())
            xdm.setdefault("timestamp", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(call.received / 1000)))
        for name in ("_id", "timestamp"):
            if name not in xdm:
                raise EdgeError("0103-400", "Missing required value", f"The events[{i}].xdm.{name} field is mandatory.")
        if not isinstance(xdm["_id"], str) or not xdm["_id"]:
            raise EdgeError("0102-400", "Invalid request field", f"The value of events[{i}].xdm._id is invalid.")
        ts = xdm["timestamp"]
        if not isinstance(ts, str) or parse_date_time_ms(ts) is None:
            raise EdgeError(
                "0102-400", "Invalid request field", f"The value supplied for events[{i}].xdm.timestamp is invalid."
            )
        self._check_identities(call, i, xdm.get("identityMap"))
        return xdm

    def _check_identities(self, call: _Call, i: int, imap: Any) -> None:
        items = [
            (str(ns), item)
            for ns, values in (imap.items() if isinstance(imap, dict) else ())
            for item in (values if isinstance(values, list) else [values])
        ]
        for ns, item in items:
            value = item.get("id") if isinstance(item, dict) else None
            if not isinstance(value, str) or not value.strip():
                raise EdgeError("0305-400", "Invalid identity provided", f"Event #{i} has an invalid {ns} identity.")
        rule = call.options.primary_identity
        primary = any(isinstance(item, dict) and item.get("primary") in (True, "true") for _, item in items)
        if rule == "never" or primary:
            return
        if rule == "documented" and not call.authenticated and any(ns == "ECID" for ns, _ in items):
            return  # device datastreams (edge.adobedc.net) make the ECID primary
        raise EdgeError(
            "0306-400", "Event is missing primary identity", f"There was no primary identity provided for event #{i}."
        )

    def _failed_record(
        self, call: _Call, dataset_id: str, i: int, event: dict[str, Any], violations: list[Violation]
    ) -> dict[str, Any]:
        """Accepted by the Edge, failed by the dataset's streaming validation: a record of a failed batch.

        Its failed-file line is the event's XDM (what Platform validated) plus `_validationErrors`;
        nothing carries the Kafka origin (no envelope header), only the XDM `_id`.
        """
        causes = "; ".join(f"{v['pointerToViolation']}: {v['message']}" for v in violations)
        return {
            "datastreamId": call.datastream["id"],
            "datasetId": dataset_id,
            "xactionId": f"{call.request_id}:{i}",
            "receivedTimeMs": call.received,
            "stage": "async",
            "message": f"datastream: [{call.datastream['id']}] {INVALID}: event #{i}: {causes}",
            "errors": violations,
            "syncValidation": False,
            "body": event,
            "line": failed_line(event["xdm"], violations, self.emulator_options.failed_record_content),
        }
