"""Connector settings: frozen dataclasses and `load_settings`, which collects every problem.

The YAML file has the sections kafka, aep, dead_letter, batching, delivery, mappings,
observability, schema_registry, xdm. `${ENV_VAR}` (or `${ENV_VAR:-default}`) anywhere in a string value is replaced from
the environment, once; `*_file` keys (secrets and the values that become AEP headers) read the
value from a file, dropping one trailing newline (`\n` or `\r\n`) and nothing else. Every value
that becomes an HTTP header or URL is checked here, so a stray newline fails at start.
Mapping bodies are validated and compiled by `connector.mapping`; this module only finds them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from connector.aep.headers import control_problem, header_name_problem, header_value_problem, url_problem
from connector.errors import ConfigError

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
DEFAULT_IMS_URL = "https://ims-na1.adobelogin.com/ims/token/v3"
DEFAULT_SCOPES = ("openid", "AdobeID", "read_organizations", "additional_info.projectedProductContext", "session")
DCS_MAX_REQUEST_BYTES = 1_000_000
EDGE_MAX_REQUEST_BYTES = 64_000  # Adobe: "64 KB" (developer docs) or "64Kib" (Experience League); the lower reading
EDGE_HOSTS = {True: "https://server.adobedc.net", False: "https://edge.adobedc.net"}  # authenticated -> host


class Secret:
    """A secret string whose repr and str never show the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


@dataclass(frozen=True, slots=True)
class KafkaSettings:
    bootstrap_servers: str
    group_id: str
    topics: tuple[str, ...]
    consumer: Mapping[str, Any] = field(default_factory=dict)
    producer: Mapping[str, Any] = field(default_factory=dict)
    # auto: KIP-848 `consumer` protocol, cooperative-sticky `classic` where the broker lacks it
    group_protocol: str = "auto"


@dataclass(frozen=True, slots=True)
class AuthSettings:
    enabled: bool = False
    token_url: str = DEFAULT_IMS_URL
    client_id: str = ""
    client_secret: Secret = field(default_factory=lambda: Secret(""))
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    refresh_margin_s: float = 300.0


@dataclass(frozen=True, slots=True)
class TransportSettings:
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 30.0
    ca_bundle: str | None = None
    proxy_url: str | None = None
    proxy_username: str | None = None
    proxy_password: Secret | None = None
    gzip: bool = False
    pool_size: int = 16


@dataclass(frozen=True, slots=True)
class EdgeSettings:
    """The Edge Network Server API (`/ee/v2/collect`), for mappings with `destination: edge`."""

    url: str | None = None  # None: server.adobedc.net when authenticated, else edge.adobedc.net
    authenticated: bool | None = None  # None: as aep.auth.enabled
    location_hint: str | None = None  # e.g. or2, va6: /ee/{hint}/v2/collect
    max_request_bytes: int = EDGE_MAX_REQUEST_BYTES
    max_events: int | None = None  # Adobe documents no per-request event count
    request_units_per_s: float | None = None  # Adobe's limit: 6,000 RU/s per org for collect
    upstreams: int = 1  # services on the datastream (a request unit is 8 KB per upstream)
    on_upstream_error: str = "retry"  # retry | accept: a 207 whose errors[] name a failed upstream


@dataclass(frozen=True, slots=True)
class AepSettings:
    """The default route; a mapping may override inlet and flow."""

    inlet_url: str
    flow_id: str | None = None
    sandbox: str | None = None
    ims_org: str | None = None
    api_key: str | None = None
    platform_url: str = "https://platform.adobe.io"
    headers: Mapping[str, str] = field(default_factory=dict)
    mode: str = "batch"  # batch | single
    sync_validation: bool = False
    auth: AuthSettings = field(default_factory=AuthSettings)
    transport: TransportSettings = field(default_factory=TransportSettings)
    edge: EdgeSettings = field(default_factory=EdgeSettings)


@dataclass(frozen=True, slots=True)
class DeadLetterSettings:
    topic: str
    create: bool = True
    partitions: int = 3
    replication_factor: int = -1  # -1: the broker's default.replication.factor


@dataclass(frozen=True, slots=True)
class BatchingSettings:
    max_records: int = 500
    max_bytes: int = 900_000
    linger_ms: int = 100
    max_in_flight: int = 4
    max_buffered_records: int = 10_000
    commit_interval_ms: int = 1_000
    poll_batch: int = 1_000


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    initial_backoff_ms: int = 200
    max_backoff_ms: int = 30_000
    attempts_before_exhausted: int = 10
    on_retries_exhausted: str = "pause"  # pause | dead_letter
    requests_per_s: float | None = None
    messages_per_s: float | None = None


@dataclass(frozen=True, slots=True)
class ObservabilitySettings:
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    log_format: str = "auto"  # auto | json | console
    log_level: str = "info"
    lag_refresh_s: float = 5.0
    stuck_after_s: float = 120.0
    progress_interval_s: float = 30.0  # the periodic progress log line; 0 turns it off


@dataclass(frozen=True, slots=True)
class SchemaRegistrySettings:
    """A Confluent-compatible schema registry, for `format: avro` mappings."""

    url: str | None = None
    basic_auth_user: str | None = None
    basic_auth_password: Secret | None = None
    bearer_token: Secret | None = None
    ca_bundle: str | None = None
    timeout_s: float = 10.0


@dataclass(frozen=True, slots=True)
class XdmSettings:
    """Pre-flight XDM validation (connector.xdm): where fetched schemas are cached, how often refreshed."""

    cache_dir: Path | None = None  # None: $XDG_CACHE_HOME (or ~/.cache)/aep-connector/xdm-schemas
    refresh_interval_s: float = 300.0
    startup_timeout_s: float = 60.0
    recheck_after_s: float = 60.0


@dataclass(frozen=True, slots=True)
class MappingSource:
    """A mapping as found in the config: its raw spec and where it came from (for messages)."""

    name: str
    spec: Mapping[str, Any]
    origin: str
    base_dir: Path


@dataclass(frozen=True, slots=True)
class Settings:
    kafka: KafkaSettings
    aep: AepSettings
    dead_letter: DeadLetterSettings
    batching: BatchingSettings
    delivery: DeliverySettings
    observability: ObservabilitySettings
    mappings: tuple[MappingSource, ...]
    schema_registry: SchemaRegistrySettings = field(default_factory=SchemaRegistrySettings)
    path: Path | None = None
    xdm: XdmSettings = field(default_factory=XdmSettings)


def interpolate(value: Any, environ: Mapping[str, str], problems: list[str], where: str) -> Any:
    """Replace ${VAR} / ${VAR:-default} in every string, recording unset variables."""
    if isinstance(value, str):

        def sub(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in environ:
                return environ[name]
            if default is not None:
                return default
            problems.append(f"{where}: environment variable {name} is not set")
            return ""

        return _ENV.sub(sub, value)
    if isinstance(value, dict):
        return {k: interpolate(v, environ, problems, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, environ, problems, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


class _Section:
    """Reads typed keys out of one YAML mapping, recording problems instead of raising."""

    def __init__(self, raw: Any, where: str, problems: list[str]) -> None:
        self.where = where
        self.problems = problems
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            problems.append(f"{where}: must be a mapping, got {type(raw).__name__}")
            raw = {}
        self.raw: dict[str, Any] = raw
        self.seen: set[str] = set()

    def _get(self, key: str, kinds: tuple[type, ...], default: Any, required: bool) -> Any:
        self.seen.add(key)
        if key not in self.raw or self.raw[key] is None:
            if required:
                self.problems.append(f"{self.where}.{key}: is required")
            return default
        v = self.raw[key]
        if bool not in kinds and isinstance(v, bool) and any(k in (int, float) for k in kinds):
            self.problems.append(f"{self.where}.{key}: expected a number, got {v!r}")
            return default
        if float in kinds and isinstance(v, int) and not isinstance(v, bool):
            return float(v)
        if not isinstance(v, kinds):
            names = " or ".join(k.__name__ for k in kinds)
            self.problems.append(f"{self.where}.{key}: expected {names}, got {type(v).__name__} {v!r}")
            return default
        return v

    def text(self, key: str, default: str | None = None, *, required: bool = False) -> Any:
        v = self._get(key, (str,), default, required)
        if (required or default) and v == "" and key in self.raw:  # "" would not mean the default
            hint = f" (leave it out for the default {default})" if default else ""
            self.problems.append(f"{self.where}.{key}: must not be empty{hint}")
            return default
        return v

    def integer(self, key: str, default: int | None, *, minimum: int | None = None, maximum: int | None = None) -> Any:
        v = self._get(key, (int,), default, False)
        if isinstance(v, int):
            if minimum is not None and v < minimum:
                self.problems.append(f"{self.where}.{key}: must be >= {minimum}, got {v}")
            if maximum is not None and v > maximum:
                self.problems.append(f"{self.where}.{key}: must be <= {maximum}, got {v}")
        return v

    def number(self, key: str, default: float | None, *, minimum: float | None = None) -> Any:
        v = self._get(key, (int, float), default, False)
        if isinstance(v, float) and minimum is not None and v < minimum:
            self.problems.append(f"{self.where}.{key}: must be >= {minimum}, got {v}")
        return v

    def flag(self, key: str, default: bool) -> Any:
        return self._get(key, (bool,), default, False)

    def choice(self, key: str, default: str, choices: tuple[str, ...]) -> Any:
        v = self.text(key, default)
        if v not in choices:
            self.problems.append(f"{self.where}.{key}: must be one of {', '.join(choices)}, got {v!r}")
            return default
        return v

    def mapping(self, key: str) -> Any:
        return self._get(key, (dict,), {}, False)

    def section(self, key: str) -> _Section:
        self.seen.add(key)
        return _Section(self.raw.get(key), f"{self.where}.{key}", self.problems)

    def inline_or_file(self, key: str) -> tuple[str | None, str]:
        """(value, the key it came from): given inline (often ${ENV}) or as `<key>_file` naming a file."""
        inline = self.text(key)
        path = self.text(f"{key}_file")
        if inline and path:
            self.problems.append(f"{self.where}: give {key} or {key}_file, not both")
        if path:
            try:
                return read_value_file(Path(path)), f"{key}_file"
            except OSError as exc:
                self.problems.append(f"{self.where}.{key}_file: cannot read {path}: {exc.strerror}")
                return None, key
        return inline, key

    def secret(self, key: str, *, header: bool = False) -> Secret | None:
        """A secret (inline or `<key>_file`); one line of text, and a valid header value if `header`."""
        value, source = self.inline_or_file(key)
        if not value:
            return None
        problem = header_value_problem(value) if header else control_problem(value)
        if problem is not None:
            self.problems.append(f"{self.where}.{source}: {problem}")
        return Secret(value)

    def line(self, key: str) -> Any:
        """Text that must be one line (no newline or other control character)."""
        v = self.text(key)
        if isinstance(v, str) and (problem := control_problem(v)) is not None:
            self.problems.append(f"{self.where}.{key}: {problem}")
        return v

    def header_value(self, key: str) -> str | None:
        """A value sent as an HTTP header (inline or `<key>_file`); empty means unset."""
        value, source = self.inline_or_file(key)
        if not value:
            return None
        problem = header_value_problem(value)
        if problem is not None:
            self.problems.append(f"{self.where}.{source}: {problem}")
        return value

    def url(self, key: str, default: str | None = None, *, http_only: bool = True) -> Any:
        """A URL: one line, no whitespace; http(s) unless `http_only` is False (a proxy may be socks5://)."""
        v = self.text(key, default)
        if isinstance(v, str) and v:
            problem = url_problem(v)
            if problem is not None:
                self.problems.append(f"{self.where}.{key}: {problem}")
            elif http_only and not _url_ok(v):
                self.problems.append(f"{self.where}.{key}: must be an http(s) URL, got {v!r}")
        return v

    def finish(self) -> None:
        for key in self.raw:
            if key not in self.seen:
                self.problems.append(f"{self.where}.{key}: unknown key")


def read_value_file(path: Path) -> str:
    """A value kept in a file (a Kubernetes Secret or ConfigMap key, a Docker secret).

    Exactly one trailing line ending is dropped (what `echo`, editors and `kubectl create secret
    --from-file` leave); anything else stays, so leftovers are reported, not silently changed.
    """
    text = path.read_text(encoding="utf-8")
    if text.endswith("\r\n"):
        return text[:-2]
    return text[:-1] if text.endswith("\n") else text


def _topics(kafka: _Section) -> tuple[str, ...]:
    raw = kafka._get("topics", (list, str), [], True)
    topics = [raw] if isinstance(raw, str) else raw
    out: list[str] = []
    for i, t in enumerate(topics):
        if not isinstance(t, str) or not t:
            kafka.problems.append(f"kafka.topics[{i}]: must be a non-empty string")
            continue
        if t.startswith("^"):
            try:
                re.compile(t)
            except re.error as exc:
                kafka.problems.append(f"kafka.topics[{i}]: invalid regex {t!r}: {exc}")
        out.append(t)
    if not out and isinstance(raw, list) and "topics" in kafka.raw:
        kafka.problems.append("kafka.topics: at least one topic or ^regex is required")
    return tuple(out)


_PINNED_CONSUMER_KEYS = ("enable.auto.commit", "enable.auto.offset.store", "group.id", "bootstrap.servers")
GROUP_PROTOCOLS = ("auto", "consumer", "classic")
# librdkafka refuses these with group.protocol=consumer: the broker decides them (KIP-848)
CLASSIC_ONLY_CONSUMER_KEYS = {
    "session.timeout.ms": "group.consumer.session.timeout.ms",
    "heartbeat.interval.ms": "group.consumer.heartbeat.interval.ms",
    "partition.assignment.strategy": "group.consumer.assignors",
    "group.protocol.type": None,
}
CONSUMER_ONLY_CONSUMER_KEYS = ("group.remote.assignor",)


def group_protocol_problems(protocol: str, consumer: Mapping[str, Any]) -> list[str]:
    """librdkafka settings in kafka.consumer that the chosen group protocol cannot take."""
    problems = []
    if "group.protocol" in consumer:
        problems.append("kafka.consumer.group.protocol: set kafka.group_protocol (auto, consumer or classic) instead")
    if protocol == "classic":
        problems += [
            f"kafka.consumer.{key}: applies to kafka.group_protocol consumer only (the KIP-848 protocol)"
            for key in CONSUMER_ONLY_CONSUMER_KEYS if key in consumer
        ]  # fmt: skip
        return problems
    for key, broker_key in CLASSIC_ONLY_CONSUMER_KEYS.items():
        if key in consumer:
            decided = f"; the broker decides it ({broker_key})" if broker_key else ""
            problems.append(
                f"kafka.consumer.{key}: applies to the classic group protocol only, and kafka.group_protocol is "
                f"{protocol}{decided}; set kafka.group_protocol: classic to use it"
            )
    return problems


def _kafka(root: _Section) -> KafkaSettings:
    k = root.section("kafka")
    bootstrap = k.text("bootstrap_servers", required=True)
    group = k.text("group_id", "aep-connector")
    topics = _topics(k)
    protocol = k.choice("group_protocol", "auto", GROUP_PROTOCOLS)
    consumer = k.mapping("consumer")
    for key in _PINNED_CONSUMER_KEYS:
        if key in consumer:
            k.problems.append(f"kafka.consumer.{key}: is managed by the connector and cannot be overridden")
    k.problems.extend(group_protocol_problems(protocol, consumer))
    producer = k.mapping("producer")
    k.finish()
    return KafkaSettings(
        bootstrap or "", group or "aep-connector", topics, dict(consumer), dict(producer), group_protocol=protocol
    )


def _url_ok(url: str) -> bool:
    return url.startswith(("http://", "https://"))


def _auth(a: _Section) -> AuthSettings:
    enabled = a.flag("enabled", False)
    token_url = a.url("token_url", DEFAULT_IMS_URL)
    client_id = a.header_value("client_id")  # also the default x-api-key
    secret = a.secret("client_secret")
    scopes_raw = a._get("scopes", (list, str), list(DEFAULT_SCOPES), False)
    scopes = tuple(s.strip() for s in (scopes_raw.split(",") if isinstance(scopes_raw, str) else scopes_raw))
    margin = a.number("refresh_margin_s", 300.0, minimum=0.0)
    if enabled:
        if not client_id:
            a.problems.append(f"{a.where}.client_id: is required when auth is enabled")
        if not secret:
            a.problems.append(f"{a.where}.client_secret: is required when auth is enabled (or client_secret_file)")
    a.finish()
    return AuthSettings(enabled, token_url, client_id or "", secret or Secret(""), scopes, margin)


def _transport(t: _Section) -> TransportSettings:
    out = TransportSettings(
        connect_timeout_s=t.number("connect_timeout_s", 5.0, minimum=0.1),
        read_timeout_s=t.number("read_timeout_s", 30.0, minimum=0.1),
        ca_bundle=t.text("ca_bundle"),
        proxy_url=t.url("proxy_url", http_only=False),
        proxy_username=t.text("proxy_username"),
        proxy_password=t.secret("proxy_password"),
        gzip=t.flag("gzip", False),
        pool_size=t.integer("pool_size", 16, minimum=1),
    )
    if t.raw.get("verify") is False:
        t.problems.append(f"{t.where}.verify: TLS verification cannot be turned off; set ca_bundle instead")
    t.seen.add("verify")
    t.finish()
    return out


_HINT = re.compile(r"^[a-z0-9]+$")


def _edge(e: _Section) -> EdgeSettings:
    out = EdgeSettings(
        url=e.text("url"),
        authenticated=e._get("authenticated", (bool,), None, False),
        location_hint=e.text("location_hint"),
        max_request_bytes=e.integer("max_request_bytes", EDGE_MAX_REQUEST_BYTES, minimum=1_000),
        max_events=e.integer("max_events", None, minimum=1),
        request_units_per_s=e.number("request_units_per_s", None, minimum=0.001),
        upstreams=e.integer("upstreams", 1, minimum=1),
        on_upstream_error=e.choice("on_upstream_error", "retry", ("retry", "accept")),
    )
    if out.url and not _url_ok(out.url):
        e.problems.append(f"{e.where}.url: must be an http(s) URL such as https://server.adobedc.net, got {out.url!r}")
    if out.location_hint is not None and not _HINT.match(out.location_hint):
        e.problems.append(f"{e.where}.location_hint: must be a region such as or2 or va6, got {out.location_hint!r}")
    e.finish()
    return out


def _aep(root: _Section) -> AepSettings:
    a = root.section("aep")
    inlet_url = a.text("inlet_url")
    inlet_id = a.text("inlet_id")
    dcs = a.text("dcs_url", "https://dcs.adobedc.net")
    if inlet_url and inlet_id:
        a.problems.append("aep: give inlet_url or inlet_id, not both")
    if not inlet_url and inlet_id:
        inlet_url = f"{dcs.rstrip('/')}/collection/{inlet_id}"
    if not inlet_url:
        inlet_url = ""  # required unless every mapping delivers to the Edge Network: see parse_settings
    elif (problem := url_problem(inlet_url)) is not None:
        a.problems.append(f"aep.{'inlet_url' if inlet_id is None else 'inlet_id (with dcs_url)'}: {problem}")
    elif not _url_ok(inlet_url) or "/collection/" not in inlet_url:
        a.problems.append(
            f"aep.inlet_url: must look like https://dcs.adobedc.net/collection/<inletId>, got {inlet_url!r}"
        )
    settings = AepSettings(
        inlet_url=inlet_url,
        flow_id=a.header_value("flow_id"),
        sandbox=a.header_value("sandbox"),
        ims_org=a.header_value("ims_org"),
        api_key=a.header_value("api_key"),
        platform_url=a.url("platform_url", "https://platform.adobe.io"),
        headers=_extra_headers(a),
        mode=a.choice("mode", "batch", ("batch", "single")),
        sync_validation=a.flag("sync_validation", False),
        auth=_auth(a.section("auth")),
        transport=_transport(a.section("transport")),
        edge=_edge(a.section("edge")),
    )
    if settings.sync_validation and settings.mode != "single":
        a.problems.append("aep.sync_validation: only works with mode: single (DCS refuses it on the batch endpoint)")
    a.finish()
    return settings


def _extra_headers(a: _Section) -> dict[str, str]:
    """`aep.headers`: every name a valid header name, every value one line of ASCII text."""
    out: dict[str, str] = {}
    for name, value in a.mapping("headers").items():
        where = f"aep.headers.{name}"
        if not isinstance(value, str):
            a.problems.append(f"{where}: must be a string")
            continue
        problem = header_name_problem(str(name))
        if problem is not None:
            a.problems.append(f"{where}: {problem}")
        problem = header_value_problem(value)
        if problem is not None:
            a.problems.append(f"{where}: {problem}")
        out[str(name)] = value
    return out


def _batching(root: _Section) -> BatchingSettings:
    b = root.section("batching")
    out = BatchingSettings(
        max_records=b.integer("max_records", 500, minimum=1),
        max_bytes=b.integer("max_bytes", 900_000, minimum=1_000, maximum=DCS_MAX_REQUEST_BYTES),
        linger_ms=b.integer("linger_ms", 100, minimum=0),
        max_in_flight=b.integer("max_in_flight", 4, minimum=1, maximum=64),
        max_buffered_records=b.integer("max_buffered_records", 10_000, minimum=1),
        commit_interval_ms=b.integer("commit_interval_ms", 1_000, minimum=10),
        poll_batch=b.integer("poll_batch", 1_000, minimum=1),
    )
    b.finish()
    return out


def _delivery(root: _Section) -> DeliverySettings:
    d = root.section("delivery")
    out = DeliverySettings(
        initial_backoff_ms=d.integer("initial_backoff_ms", 200, minimum=1),
        max_backoff_ms=d.integer("max_backoff_ms", 30_000, minimum=1),
        attempts_before_exhausted=d.integer("attempts_before_exhausted", 10, minimum=1),
        on_retries_exhausted=d.choice("on_retries_exhausted", "pause", ("pause", "dead_letter")),
        requests_per_s=d.number("requests_per_s", None, minimum=0.001),
        messages_per_s=d.number("messages_per_s", None, minimum=0.001),
    )
    d.finish()
    return out


def _observability(root: _Section) -> ObservabilitySettings:
    o = root.section("observability")
    out = ObservabilitySettings(
        metrics_port=o.integer("metrics_port", None, minimum=0, maximum=65535),
        metrics_host=o.text("metrics_host", "127.0.0.1"),
        log_format=o.choice("log_format", "auto", ("auto", "json", "console")),
        log_level=o.choice("log_level", "info", ("debug", "info", "warning", "error")),
        lag_refresh_s=o.number("lag_refresh_s", 5.0, minimum=0.1),
        stuck_after_s=o.number("stuck_after_s", 120.0, minimum=1.0),
        progress_interval_s=o.number("progress_interval_s", 30.0, minimum=0.0),
    )
    o.finish()
    return out


def _schema_registry(root: _Section) -> SchemaRegistrySettings:
    r = root.section("schema_registry")
    out = SchemaRegistrySettings(
        url=r.url("url"),
        basic_auth_user=r.line("basic_auth_user"),
        basic_auth_password=r.secret("basic_auth_password"),
        bearer_token=r.secret("bearer_token", header=True),
        ca_bundle=r.text("ca_bundle"),
        timeout_s=r.number("timeout_s", 10.0, minimum=0.1),
    )
    if out.basic_auth_password and out.bearer_token:
        r.problems.append("schema_registry: give basic auth or a bearer token, not both")
    r.finish()
    return out


def _xdm(root: _Section, base_dir: Path) -> XdmSettings:
    x = root.section("xdm")
    cache_dir = x.text("cache_dir")
    out = XdmSettings(
        cache_dir=(base_dir / Path(cache_dir).expanduser()).resolve() if cache_dir else None,
        refresh_interval_s=x.number("refresh_interval_s", 300.0, minimum=10.0),
        startup_timeout_s=x.number("startup_timeout_s", 60.0, minimum=0.0),
        recheck_after_s=x.number("recheck_after_s", 60.0, minimum=1.0),
    )
    x.finish()
    return out


def _mappings(root: _Section, base_dir: Path, environ: Mapping[str, str]) -> tuple[MappingSource, ...]:
    raw = root._get("mappings", (list,), [], True)
    out: list[MappingSource] = []
    names: set[str] = set()
    for i, entry in enumerate(raw):
        where = f"mappings[{i}]"
        item = {"file": entry} if isinstance(entry, str) else entry
        if not isinstance(item, dict):
            root.problems.append(f"{where}: must be a mapping or a file path")
            continue
        if "file" in item:
            path = (base_dir / str(item["file"])).resolve()
            try:
                loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
            except OSError as exc:
                root.problems.append(f"{where}.file: cannot read {path}: {exc.strerror}")
                continue
            except yaml.YAMLError as exc:
                root.problems.append(f"{where}.file: {path} is not valid YAML: {exc}")
                continue
            if not isinstance(loaded, dict):
                root.problems.append(f"{where}.file: {path} must contain a mapping")
                continue
            # the config (overrides included) is interpolated once already: only the file's own text is
            # interpolated here, so a ${...} inside an environment value is never expanded a second time
            overrides = {k: v for k, v in item.items() if k != "file"}
            spec = {**interpolate(loaded, environ, root.problems, str(path)), **overrides}
            origin, mbase = str(path), path.parent
        else:
            spec, origin, mbase = item, f"{root.where}{where}", base_dir
        name = spec.get("name") or (Path(origin).stem if "file" in item else f"mapping-{i}")
        if name in names:
            root.problems.append(f"{where}: duplicate mapping name {name!r}")
        names.add(name)
        out.append(MappingSource(str(name), spec, origin, mbase))
    if not out and "mappings" in root.raw:
        root.problems.append("mappings: at least one mapping is required")
    return tuple(out)


def dead_letter_problems(topic: str, subscribed: tuple[str, ...]) -> list[str]:
    """The dead-letter topic must not be subscribed, by name or by a ^regex: the worker would loop."""
    if not topic:
        return []
    if topic in subscribed:
        return [f"dead_letter.topic: {topic!r} is one of kafka.topics (the worker would consume its own dead letters)"]
    out = []
    for pattern in subscribed:
        if pattern.startswith("^") and _matches(pattern, topic):
            out.append(
                f"dead_letter.topic: {topic!r} matches the subscription {pattern!r} of kafka.topics (the worker "
                "would consume its own dead letters): rename the dead-letter topic or narrow the pattern"
            )
    return out


def _matches(pattern: str, topic: str) -> bool:
    try:
        return re.match(pattern, topic) is not None
    except re.error:
        return False  # reported by _topics


def parse_settings(
    raw: Any, environ: Mapping[str, str], base_dir: Path, path: Path | None = None
) -> tuple[Settings, list[str]]:
    """Build Settings from parsed YAML; returns (settings, problems). Never raises.

    The settings are only meaningful when problems is empty (bad values are replaced by defaults
    so that later stages, e.g. mapping compilation, can still report their own problems).
    """
    unset: list[str] = []
    raw = interpolate(raw, environ, unset, "config")
    unset = [p.removeprefix("config.") for p in unset]
    problems: list[str] = []
    root = _Section(raw, "", problems)
    root.where = ""
    kafka = _kafka(root)
    aep = _aep(root)
    dl = root.section("dead_letter")
    dead_letter = DeadLetterSettings(
        dl.text("topic", required=True) or "",
        dl.flag("create", True),
        dl.integer("partitions", 3, minimum=1),
        dl.integer("replication_factor", -1, minimum=-1),
    )
    dl.finish()
    problems.extend(dead_letter_problems(dead_letter.topic, kafka.topics))
    batching = _batching(root)
    delivery = _delivery(root)
    observability = _observability(root)
    mappings = _mappings(root, base_dir, environ)
    if not aep.inlet_url and (not mappings or any(m.spec.get("destination", "dcs") != "edge" for m in mappings)):
        problems.append("aep.inlet_url: is required (or aep.inlet_id) unless every mapping has destination: edge")
    registry = _schema_registry(root)
    xdm = _xdm(root, base_dir)
    root.finish()
    problems = _one_per_cause(unset, [p.lstrip(".") for p in problems])
    settings = Settings(kafka, aep, dead_letter, batching, delivery, observability, mappings, registry, path, xdm)
    return settings, problems


def _one_per_cause(unset: list[str], problems: list[str]) -> list[str]:
    """An unset ${VAR} is the cause: what it leaves empty at the same key is not a second problem."""
    keys = {p.split(": ", 1)[0] for p in unset}
    return [*unset, *(p for p in problems if p.split(": ", 1)[0] not in keys)]


def read_settings(path: str | Path, environ: Mapping[str, str] | None = None) -> tuple[Settings | None, list[str]]:
    """Load a config file; returns (settings, problems) without raising (settings None if unreadable)."""
    p = Path(path)
    env = os.environ if environ is None else environ
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        return None, [f"cannot read config file {p}: {exc.strerror}"]
    except yaml.YAMLError as exc:
        return None, [f"{p} is not valid YAML: {exc}"]
    return parse_settings(raw, env, p.parent.resolve(), p)


def load_settings(path: str | Path, environ: Mapping[str, str] | None = None) -> Settings:
    """Load and validate a config file; raise ConfigError listing every problem."""
    settings, problems = read_settings(path, environ)
    if problems or settings is None:
        raise ConfigError(problems)
    return settings
