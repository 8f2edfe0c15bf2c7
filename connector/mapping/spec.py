"""The mapping spec (YAML): parsed into frozen values, every problem collected with its key path.

Expressions stay text here; `compiler` parses them. The field tree merges dotted target keys
(`person.name.firstName`) and nested YAML maps into one tree of Obj / Leaf / Each nodes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connector.aep.headers import header_value_problem, url_problem
from connector.config import MappingSource
from connector.mapping.functions import lookup_table
from connector.mapping.timestamps import FUTURE_TOLERANCE_S, MAX_FUTURE_TOLERANCE_S
from connector.mapping.values import clean
from connector.xdm.ref import SchemaRef, parse_schema_keys

XDM_CLASSES = ("profile", "experienceevent")
FORMATS = ("json", "avro", "avro-plain")
KEY_FORMATS = ("string", "json", "avro", "none")
AUTH_STATES = ("ambiguous", "authenticated", "loggedOut")
FUTURE_POLICIES = ("reject", "clamp")
DESTINATIONS = ("dcs", "edge")
SYSTEM_FIELDS = frozenset({"_id", "_repo", "_experience"})
_SEGMENT = re.compile(r"^[A-Za-z_@][A-Za-z0-9_@-]*$")
_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RESERVED_VARS = frozenset({"value", "key", "headers", "topic", "partition", "offset", "timestamp", "now"})
_EACH_KEYS = frozenset({"each", "as", "fields", "value"})
_LEAF_KEYS = frozenset({"literal", "expr", "required"})
KNOWN_KEYS = frozenset(
    {
        "name", "description", "topics", "format", "avro_schema", "key_format", "xdm_class", "schema_id",
        "schema_version", "dataset_id", "tenant", "source_name", "flow_id", "inlet_url", "ims_org", "event_id",
        "future_timestamps", "future_tolerance_s", "schema", "validate", "identities", "allow_no_identity", "fields",
        "lookups",
        "destination", "datastream_id", "datastream_overrides",
        "sandbox",
    }
)  # fmt: skip
_SANDBOX = re.compile(r"^[a-z0-9][a-z0-9-]*$")  # AEP sandbox names: lowercase letters, digits, hyphens


@dataclass(frozen=True, slots=True)
class Leaf:
    where: str  # spec key path, for messages
    target: str  # XDM target path, for MappingError
    expr: str | None
    literal: Any = None
    required: bool = False


@dataclass(frozen=True, slots=True)
class Each:
    where: str
    target: str
    source: str
    var: str
    item: Obj | Leaf


@dataclass(frozen=True, slots=True)
class Obj:
    where: str
    target: str
    children: Mapping[str, Obj | Leaf | Each]


Node = Obj | Leaf | Each


@dataclass(frozen=True, slots=True)
class IdentitySpec:
    where: str
    namespace: str
    value: str
    primary: bool
    authenticated_state: str


@dataclass(frozen=True, slots=True)
class MappingSpec:
    name: str
    topics: tuple[str, ...]
    format: str
    avro_schema: Path | None
    key_format: str
    xdm_class: str
    schema_id: str
    schema_version: str
    dataset_id: str
    tenant: str | None
    source_name: str | None
    flow_id: str | None
    inlet_url: str | None
    ims_org: str | None
    event_id: str | None
    future_timestamps: str
    future_tolerance_s: float
    schema: SchemaRef | None  # what entities are validated against before sending (connector.xdm)
    validate: str  # strict | warn | off
    identities: tuple[IdentitySpec, ...]
    allow_no_identity: bool
    fields: Obj
    lookups: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    destination: str = "dcs"
    datastream_id: str | None = None
    datastream_overrides: Mapping[str, Any] | None = None
    sandbox: str | None = None  # x-sandbox-name for this mapping's DCS requests (overrides aep.sandbox)

    @property
    def is_event(self) -> bool:
        return self.xdm_class == "experienceevent"

    @property
    def is_edge(self) -> bool:
        return self.destination == "edge"


class _Reader:
    """Typed access to the top-level keys, recording problems instead of raising."""

    def __init__(self, raw: Mapping[str, Any], problems: list[str]) -> None:
        self.raw = raw
        self.problems = problems

    def text(self, key: str, default: str | None = None, *, required: bool = False) -> str | None:
        v = self.raw.get(key)
        if v is None:
            if required:
                self.problems.append(f"{key}: is required")
            return default
        if isinstance(v, bool) or not isinstance(v, str | int | float):
            self.problems.append(f"{key}: expected a string, got {type(v).__name__} {v!r}")
            return default
        v = str(v)
        if not v.strip():
            self.problems.append(f"{key}: must not be empty")
            return default
        return v

    def header_value(self, key: str) -> str | None:
        """An override of an `aep` value that is sent as an HTTP header."""
        v = self.text(key)
        if v is not None and (problem := header_value_problem(v)) is not None:
            self.problems.append(f"{key}: {problem}")
        return v

    def seconds(self, key: str, default: float, maximum: float) -> float:
        v = self.raw.get(key, default)
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v <= maximum:
            self.problems.append(f"{key}: expected a number of seconds from 0 to {maximum:g}, got {v!r}")
            return default
        return float(v)

    def choice(self, key: str, default: str, choices: tuple[str, ...]) -> str:
        v = self.text(key, default)
        if v not in choices:
            self.problems.append(f"{key}: must be one of {', '.join(choices)}, got {v!r}")
            return default
        return v

    def flag(self, key: str, default: bool) -> bool:
        v = self.raw.get(key, default)
        if not isinstance(v, bool):
            self.problems.append(f"{key}: expected true or false, got {v!r}")
            return default
        return v

    def path(self, key: str, base_dir: Path) -> Path | None:
        v = self.text(key)
        if v is None:
            return None
        p = (base_dir / v).resolve()
        if not p.is_file():
            self.problems.append(f"{key}: file not found: {p}")
        return p


def parse_spec(source: MappingSource) -> tuple[MappingSpec, list[str]]:
    """The spec of one mapping and every problem found (unprefixed key paths)."""
    problems: list[str] = []
    raw: Mapping[str, Any] = source.spec if isinstance(source.spec, Mapping) else {}
    if not isinstance(source.spec, Mapping):
        problems.append(f"must be a mapping, got {type(source.spec).__name__}")
    for key in raw:
        if key not in KNOWN_KEYS and key != "xdm_schema":  # xdm_schema: parse_schema_keys explains
            problems.append(f"{key}: unknown key (known: {', '.join(sorted(KNOWN_KEYS))})")
    r = _Reader(raw, problems)
    fmt = r.choice("format", "json", FORMATS)
    avro_schema = r.path("avro_schema", source.base_dir)
    if fmt == "avro-plain" and avro_schema is None and "avro_schema" not in raw:
        problems.append("avro_schema: is required with format avro-plain")
    if fmt != "avro-plain" and "avro_schema" in raw and raw["avro_schema"] is not None:
        problems.append("avro_schema: only used with format avro-plain")
    xdm_class = r.choice("xdm_class", "experienceevent", XDM_CLASSES)
    if "xdm_class" not in raw:
        problems.append(f"xdm_class: is required ({' | '.join(XDM_CLASSES)})")
    destination = r.choice("destination", "dcs", DESTINATIONS)
    edge = destination == "edge"
    tenant = r.text("tenant")
    if tenant is not None:
        tenant = tenant.removeprefix("_")
    inlet_url = r.text("inlet_url")
    if inlet_url is not None and (problem := url_problem(inlet_url)) is not None:
        problems.append(f"inlet_url: {problem}")
        inlet_url = None
    if inlet_url is not None and (not inlet_url.startswith(("http://", "https://")) or "/collection/" not in inlet_url):
        problems.append(f"inlet_url: must look like https://dcs.adobedc.net/collection/<inletId>, got {inlet_url!r}")
    event_id = r.text("event_id")
    if event_id is not None and xdm_class != "experienceevent":
        problems.append("event_id: only used with xdm_class experienceevent (map _id in fields instead)")
    fields = _fields(raw.get("fields"), problems)
    identities = _identities(raw.get("identities"), problems)
    allow_no_identity = r.flag("allow_no_identity", False)
    if not identities and not allow_no_identity:
        problems.append("identities: missing identity: at least one identity is required (or allow_no_identity: true)")
    _check_root_fields(fields, tenant, xdm_class, event_id, problems)
    schema_id = r.text("schema_id", "", required=not edge) or ""
    dataset_id = r.text("dataset_id", "", required=not edge) or ""
    schema, validate = parse_schema_keys(raw, source.base_dir, schema_id, dataset_id, problems)
    spec = MappingSpec(
        name=source.name,
        topics=_topics(raw.get("topics"), problems),
        format=fmt,
        avro_schema=avro_schema,
        key_format=r.choice("key_format", "string", KEY_FORMATS),
        xdm_class=xdm_class,
        schema_id=schema_id,
        schema_version=r.text("schema_version", "1") or "1",
        dataset_id=dataset_id,
        tenant=tenant,
        source_name=r.text("source_name"),
        flow_id=r.header_value("flow_id"),
        inlet_url=inlet_url,
        ims_org=r.header_value("ims_org"),
        event_id=event_id,
        future_timestamps=r.choice("future_timestamps", "reject", FUTURE_POLICIES),
        future_tolerance_s=r.seconds("future_tolerance_s", FUTURE_TOLERANCE_S, MAX_FUTURE_TOLERANCE_S),
        schema=schema,
        validate=validate,
        identities=identities,
        allow_no_identity=allow_no_identity,
        fields=fields,
        lookups=_lookups(raw.get("lookups"), problems),
        destination=destination,
        datastream_id=r.text("datastream_id", required=edge),
        datastream_overrides=_overrides(raw.get("datastream_overrides"), problems),
        sandbox=_sandbox(r),
    )
    _check_destination(spec, raw, problems)
    return spec, problems


def _sandbox(r: _Reader) -> str | None:
    name = r.text("sandbox")
    if name is not None and not _SANDBOX.match(name):
        r.problems.append(f"sandbox: an AEP sandbox name is lowercase letters, digits and hyphens, got {name!r}")
        return None
    return name


def _overrides(raw: Any, problems: list[str]) -> dict[str, Any] | None:
    """`datastream_overrides`: the request's `meta.configOverrides` ({com_adobe_analytics: {reportSuites: [..]}})."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or not raw or not all(isinstance(v, dict) for v in raw.values()):
        problems.append(
            "datastream_overrides: must be a mapping of service -> settings, e.g. "
            "{com_adobe_experience_platform: {datasets: {event: {datasetId: ...}}}}"
        )
        return None
    return dict(raw)


_DCS_ONLY = ("inlet_url", "flow_id", "sandbox")  # schema_id, dataset_id, source_name: ignored (the datastream decides)
_EDGE_ONLY = ("datastream_id", "datastream_overrides")
_WHY = {"sandbox": " (the Edge Network takes no sandbox header: the datastream's sandbox applies)"}


def _check_destination(spec: MappingSpec, raw: Mapping[str, Any], problems: list[str]) -> None:
    """What each destination carries: the Edge Network takes ExperienceEvents with an identity, to a datastream."""
    given = [k for k in (_DCS_ONLY if spec.is_edge else _EDGE_ONLY) if raw.get(k) is not None]
    for key in given:
        problems.append(f"{key}: only used with destination {'dcs' if spec.is_edge else 'edge'}{_WHY.get(key, '')}")
    if not spec.is_edge:
        return
    if not spec.is_event:
        problems.append(
            "destination: edge carries ExperienceEvents only; send Profile records to DCS (destination: dcs)"
        )
    if spec.allow_no_identity:
        problems.append(
            "allow_no_identity: the Edge Network needs an identity on every event "
            "(explicitly primary on the authenticated host): map identities instead"
        )


def _topics(raw: Any, problems: list[str]) -> tuple[str, ...]:
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not items:
        problems.append("topics: is required: a list of topic names or ^regex patterns")
        return ()
    out: list[str] = []
    for i, t in enumerate(items):
        if not isinstance(t, str) or not t:
            problems.append(f"topics[{i}]: must be a non-empty string")
            continue
        if t.startswith("^"):
            try:
                re.compile(t)
            except re.error as exc:
                problems.append(f"topics[{i}]: invalid regex {t!r}: {exc}")
        out.append(t)
    return tuple(out)


def _identities(raw: Any, problems: list[str]) -> tuple[IdentitySpec, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.append("identities: must be a list")
        return ()
    out: list[IdentitySpec] = []
    for i, item in enumerate(raw):
        where = f"identities[{i}]"
        if not isinstance(item, dict):
            problems.append(f"{where}: must be a mapping with namespace and value")
            continue
        for k in item:
            if k not in ("namespace", "value", "primary", "authenticated_state"):
                problems.append(f"{where}.{k}: unknown key")
        ns, value = item.get("namespace"), item.get("value")
        if not isinstance(ns, str) or not ns.strip():
            problems.append(f"{where}.namespace: is required (an identity namespace code such as Email or ECID)")
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{where}.value: is required (an expression)")
        primary = item.get("primary", False)
        if not isinstance(primary, bool):
            problems.append(f"{where}.primary: expected true or false, got {primary!r}")
        state = item.get("authenticated_state", "ambiguous")
        if state not in AUTH_STATES:
            problems.append(f"{where}.authenticated_state: must be one of {', '.join(AUTH_STATES)}, got {state!r}")
        if isinstance(ns, str) and isinstance(value, str):
            out.append(IdentitySpec(where, ns.strip(), value, primary is True, str(state)))
    primaries = [x for x in out if x.primary]
    if out and len(primaries) != 1:
        which = ", ".join(x.where for x in primaries) or "none"
        problems.append(f"identities: exactly one identity must be primary: true (found {len(primaries)}: {which})")
    return tuple(out)


def _lookups(raw: Any, problems: list[str]) -> dict[str, dict[str, Any]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.append("lookups: must be a mapping of table name -> {key: value}")
        return {}
    out: dict[str, dict[str, Any]] = {}
    for name, table in raw.items():
        if not isinstance(table, dict) or not table:
            problems.append(f"lookups.{name}: must be a non-empty mapping of key -> value")
            continue
        out[str(name)] = lookup_table(table)
    return out


class _ObjBuilder:
    def __init__(self, where: str, target: str) -> None:
        self.where = where
        self.target = target
        self.children: dict[str, _ObjBuilder | Leaf | Each] = {}

    def build(self) -> Obj:
        kids = {k: (v.build() if isinstance(v, _ObjBuilder) else v) for k, v in self.children.items()}
        return Obj(self.where, self.target, kids)


def _fields(raw: Any, problems: list[str]) -> Obj:
    root = _ObjBuilder("fields", "")
    if raw is None:
        problems.append("fields: is required (target XDM path -> expression)")
    elif not isinstance(raw, dict):
        problems.append("fields: must be a mapping of target XDM path -> expression")
    else:
        _fill(root, raw, "fields", problems)
    return root.build()


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _fill(obj: _ObjBuilder, raw: Mapping[Any, Any], where: str, problems: list[str]) -> None:
    for key, spec in raw.items():
        kw = f"{where}.{key}"
        if not isinstance(key, str) or not key:
            problems.append(f"{kw}: target must be a non-empty string")
            continue
        segs = key.split(".")
        bad = [s for s in segs if not _SEGMENT.match(s)]
        if bad:
            problems.append(f"{kw}: malformed target path {key!r} (field names are letters, digits, _ and -)")
            continue
        parent = obj
        for seg in segs[:-1]:
            nxt = parent.children.get(seg)
            if nxt is None:
                nxt = parent.children[seg] = _ObjBuilder(kw, _join(parent.target, seg))
            if not isinstance(nxt, _ObjBuilder):
                problems.append(f"{kw}: {_join(parent.target, seg)} is already mapped to a value")
                break
            parent = nxt
        else:
            _place(parent, segs[-1], spec, kw, problems)


def _place(parent: _ObjBuilder, name: str, spec: Any, where: str, problems: list[str]) -> None:
    target = _join(parent.target, name)
    existing = parent.children.get(name)
    if isinstance(spec, dict) and not (spec.keys() & ({"each"} | _LEAF_KEYS)):
        if existing is None:
            existing = parent.children[name] = _ObjBuilder(where, target)
        if not isinstance(existing, _ObjBuilder):
            problems.append(f"{where}: {target} is already mapped to a value")
            return
        _fill(existing, spec, where, problems)
        return
    if existing is not None:
        problems.append(f"{where}: {target} is mapped more than once")
        return
    node = _node(spec, where, target, problems)
    if node is not None:
        parent.children[name] = node


def _node(spec: Any, where: str, target: str, problems: list[str]) -> Leaf | Each | None:
    if isinstance(spec, str):
        return Leaf(where, target, spec)
    if isinstance(spec, bool | int | float):
        return Leaf(where, target, None, spec)
    if spec is None:
        problems.append(f"{where}: has no value (give an expression, or leave the field out)")
        return None
    if isinstance(spec, list):
        problems.append(f"{where}: a list is not an expression; use each/as/fields for arrays or {{literal: [...]}}")
        return None
    if "each" in spec:
        return _each(spec, where, target, problems)
    for k in spec:
        if k not in _LEAF_KEYS:
            problems.append(f"{where}.{k}: unknown key next to literal/expr")
    required = spec.get("required", False)
    if not isinstance(required, bool):
        problems.append(f"{where}.required: expected true or false")
    if "literal" in spec and "expr" in spec:
        problems.append(f"{where}: give literal or expr, not both")
        return None
    if "literal" in spec:
        value = clean(spec["literal"])
        if value is None:
            problems.append(f"{where}.literal: null or empty values are not allowed in XDM")
            return None
        return Leaf(where, target, None, value, required is True)
    expr = spec.get("expr")
    if not isinstance(expr, str) or not expr.strip():
        problems.append(f"{where}.expr: must be an expression string")
        return None
    return Leaf(where, target, expr, None, required is True)


def _each(spec: Mapping[str, Any], where: str, target: str, problems: list[str]) -> Each | None:
    for k in spec:
        if k not in _EACH_KEYS:
            problems.append(f"{where}.{k}: unknown key in an each block (each, as, fields, value)")
    source, var = spec.get("each"), spec.get("as", "item")
    ok = True
    if not isinstance(source, str) or not source.strip():
        problems.append(f"{where}.each: must be an expression giving a list")
        ok = False
    if not isinstance(var, str) or not _VAR.match(var) or var in _RESERVED_VARS:
        problems.append(f"{where}.as: must be a simple name other than {', '.join(sorted(_RESERVED_VARS))}")
        ok = False
    has_fields, has_value = "fields" in spec, "value" in spec
    if has_fields == has_value:
        problems.append(f"{where}: an each block needs exactly one of fields (objects) or value (scalars)")
        return None
    item: Obj | Leaf | Each | None
    if has_fields:
        builder = _ObjBuilder(f"{where}.fields", f"{target}[]")
        if not isinstance(spec["fields"], dict) or not spec["fields"]:
            problems.append(f"{where}.fields: must be a non-empty mapping of target -> expression")
        else:
            _fill(builder, spec["fields"], f"{where}.fields", problems)
        item = builder.build()
    else:
        item = _node(spec["value"], f"{where}.value", f"{target}[]", problems)
        if isinstance(item, Each):
            problems.append(f"{where}.value: nested each must sit under fields")
            item = None
    if not ok or item is None or isinstance(item, Each):
        return None
    return Each(where, target, str(source), str(var), item)


def _check_root_fields(
    fields: Obj, tenant: str | None, xdm_class: str, event_id: str | None, problems: list[str]
) -> None:
    for name, node in fields.children.items():
        if name == "identityMap":
            problems.append(f"{node.where}: identityMap is built from identities:, do not map it in fields")
        elif name.startswith("_") and name not in SYSTEM_FIELDS:
            if tenant is None:
                problems.append(f"{node.where}: custom field {name} needs tenant: set to your tenant id")
            elif name != f"_{tenant}":
                problems.append(
                    f"{node.where}: custom field {name} is outside the tenant namespace _{tenant} "
                    f"(custom fields must live under _{tenant})"
                )
    if xdm_class == "experienceevent":
        ts = fields.children.get("timestamp")
        if ts is None:
            problems.append("fields.timestamp: an experienceevent mapping must map timestamp")
        elif not isinstance(ts, Leaf):
            problems.append(f"{ts.where}: timestamp must be a single expression")
        if event_id is not None and "_id" in fields.children:
            problems.append("event_id: give event_id or fields._id, not both")
    id_node = fields.children.get("_id")
    if id_node is not None and not isinstance(id_node, Leaf):
        problems.append(f"{id_node.where}: _id must be a single expression")
