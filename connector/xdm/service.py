"""Every mapping's XDM schema, resolved at start, wrapped around the mappers, kept fresh by one thread.

At start (connector.app.compile_plan), for each distinct `schema:` of the mappings:
  1. a file is read and compiled; an unusable file is a config problem;
  2. otherwise the schema is fetched from AEP (the dataset's schemaRef first, for from-dataset) and
     written to the disk cache; AEP refusing it (404, 403) is a config problem;
  3. AEP unreachable: the cached copy is used (logged with its age) and refreshed later;
  4. nothing cached: fetching is retried for `startup_timeout_s`; then a `validate: strict` mapping
     stops the start (FatalError naming the schema and the cache directory), a `validate: warn` one
     starts unvalidated and is validated from the moment the schema arrives.
Then each mapping is checked against its schema (class, tenant, mapped fields the schema lacks).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from connector.config import Settings, XdmSettings
from connector.errors import FatalError
from connector.interfaces import Clock, Mapper
from connector.mapping.spec import MappingSpec
from connector.xdm.cache import DiskCache
from connector.xdm.fields import mapping_problems
from connector.xdm.mapper import ValidatingMapper
from connector.xdm.prepare import UnusableSchema
from connector.xdm.ref import SchemaRef
from connector.xdm.registry import SchemaRegistryClient, SchemaSource
from connector.xdm.schemas import LiveSchema, SchemaUnavailable, Timing

log = structlog.get_logger(__name__)
TICK_S = 1.0


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "aep-connector" / "xdm-schemas"


@dataclass
class Startup:
    """What loading found: config problems (exit 2) and schemas AEP could not serve (exit 3)."""

    problems: list[str] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class SchemaService:
    """The live schemas of one process and the thread that refreshes them."""

    def __init__(self, schemas: dict[SchemaRef, LiveSchema], modes: dict[str, tuple[SchemaRef, str]], clock: Clock):
        self.schemas = schemas
        self._modes = modes  # mapping name -> (ref, mode)
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._mappers: list[ValidatingMapper] = []

    def wrap(self, mapper: Mapper) -> Mapper:
        """`mapper` behind validation, or `mapper` itself when its mapping does not validate."""
        ref, mode = self._modes.get(mapper.name, (None, "off"))
        if ref is None or mode == "off" or ref not in self.schemas:
            return mapper
        wrapped = ValidatingMapper(mapper, self.schemas[ref], mode, self._clock.monotonic)
        self._mappers.append(wrapped)
        return wrapped

    def start(self) -> None:
        """Start refreshing live (non-file) schemas in the background."""
        if self._thread is not None or not any(s.live for s in self.schemas.values()):
            return
        self._thread = threading.Thread(target=self._run, name="xdm-schema-refresher", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(TICK_S):
            for schema in self.schemas.values():
                if self._stop.is_set():
                    return
                if schema.due():
                    schema.refresh()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        for m in self._mappers:
            m.close()


def platform_source(settings: Settings) -> SchemaSource:
    """The Schema Registry over the Platform API (FatalError when credentials or org are missing)."""
    from connector.ops.platform import PlatformClient

    return SchemaRegistryClient(PlatformClient(settings.aep))


def load_schemas(
    settings: Settings,
    specs: Sequence[MappingSpec],
    *,
    clock: Clock,
    source: SchemaSource | None = None,
    wait: bool = True,
    fetch: bool = True,
) -> tuple[SchemaService, Startup]:
    """Resolve and load every mapping's schema (see the module docstring); never raises.

    `wait=False` (check, preview) tries AEP once instead of retrying; `fetch=False` (check without
    --connect) contacts nothing: files and the disk cache only, a schema found in neither is a note.
    """
    xdm = settings.xdm
    found = Startup()
    wanted = [s for s in specs if s.schema is not None]
    if not wanted:
        return SchemaService({}, {}, clock), found
    if fetch and source is None and any(s.schema is not None and s.schema.kind != "file" for s in wanted):
        try:
            source = platform_source(settings)
        except FatalError as exc:
            for s in wanted:
                if s.schema is not None and s.schema.kind != "file":
                    found.problems.append(
                        f"mapping {s.name}: schema: {s.schema.describe()} is fetched from AEP's Schema Registry, "
                        f"which needs Platform API access: {exc}"
                    )
            wanted = [s for s in wanted if s.schema is not None and s.schema.kind == "file"]
    cache = DiskCache(xdm.cache_dir or default_cache_dir(), org=settings.aep.ims_org, sandbox=settings.aep.sandbox)
    timing = Timing(xdm.refresh_interval_s, xdm.recheck_after_s)
    schemas: dict[SchemaRef, LiveSchema] = {}
    for s in wanted:
        assert s.schema is not None
        if s.schema not in schemas:
            schemas[s.schema] = LiveSchema(s.schema, source, cache, clock, timing)
    missing, refused = _load_all(list(schemas.values()), xdm, clock, wait)
    modes = _judge(wanted, schemas, missing=missing, refused=refused, found=found, fetch=fetch)
    usable = {ref: live for ref, live in schemas.items() if live not in refused}
    return SchemaService(usable, modes, clock), found


def _judge(
    wanted: list[MappingSpec],
    schemas: dict[SchemaRef, LiveSchema],
    *,
    missing: dict[LiveSchema, str],
    refused: dict[LiveSchema, str],
    found: Startup,
    fetch: bool,
) -> dict[str, tuple[SchemaRef, str]]:
    """Each mapping's problems, notes or unavailability; the (schema, mode) of those that can start."""
    modes: dict[str, tuple[SchemaRef, str]] = {}
    for s in wanted:
        assert s.schema is not None
        live = schemas[s.schema]
        before = len(found.problems) + len(found.unavailable)
        if live in refused:
            found.problems.append(f"mapping {s.name}: schema: {refused[live]}")
        elif live in missing and not fetch:
            found.notes.append(f"mapping {s.name}: {missing[live]}: the mapping was not checked against it")
        elif live in missing:
            _missing(s, missing[live], found)
        else:
            _consistency(s, live, found)
        if len(found.problems) + len(found.unavailable) == before:
            modes[s.name] = (s.schema, s.validate)
    return modes


def _load_all(
    pending: list[LiveSchema], xdm: XdmSettings, clock: Clock, wait: bool
) -> tuple[dict[LiveSchema, str], dict[LiveSchema, str]]:
    """(unavailable, refused): schemas AEP could not serve after retrying, and those that cannot be used."""
    deadline = clock.monotonic() + (xdm.startup_timeout_s if wait else 0.0)
    delay = 1.0
    failed: dict[LiveSchema, str] = {}
    refused: dict[LiveSchema, str] = {}
    while pending:
        failed = {}
        for live in pending:
            try:
                live.load()
            except (UnusableSchema, FatalError) as exc:
                refused[live] = f"{live.ref.describe()}: {exc}"
            except SchemaUnavailable as exc:
                failed[live] = str(exc)
        if not failed or clock.monotonic() + delay > deadline:
            break
        log.warning(
            "xdm_schema_unavailable_retrying",
            schemas=[live.ref.describe() for live in failed],
            retry_in_s=delay,
            gives_up_in_s=round(deadline - clock.monotonic()),
        )
        clock.sleep(delay)
        delay = min(delay * 2, 10.0)
        pending = list(failed)
    return failed, refused


def _missing(spec: MappingSpec, why: str, found: Startup) -> None:
    if spec.validate == "strict":
        found.unavailable.append(
            f"mapping {spec.name}: {why}. With validate: strict the worker does not start without its schema: "
            "start it while AEP is reachable (the schema is then cached), or export it with "
            "`aep-connector schema pull` and set schema: to the file, or set validate: warn"
        )
    else:
        found.notes.append(f"mapping {spec.name}: {why}; records are sent unvalidated until it can be fetched")
        log.warning("xdm_schema_missing_sending_unvalidated", mapping=spec.name, error=why)


def _consistency(spec: MappingSpec, live: LiveSchema, found: Startup) -> None:
    loaded = live.current
    assert loaded is not None
    prefix = f"mapping {spec.name}: "
    if live.ref.kind != "id" and spec.schema_id and loaded.schema_id != spec.schema_id:
        found.problems.append(
            f"{prefix}schema_id: {spec.schema_id}, but {live.ref.describe()} is {loaded.schema_id}: "
            "DCS checks the envelope's schemaRef against the dataset's schema"
        )
    for problem in mapping_problems(spec, loaded.validator.prepared):
        if spec.validate == "strict":
            found.problems.append(prefix + problem)
        else:
            found.notes.append(prefix + problem)
            log.warning("xdm_mapping_mismatch", mapping=spec.name, problem=problem)
    if loaded.origin == "cache":
        found.notes.append(
            f"{prefix}using the cached copy of {loaded.schema_id} version {loaded.version}, not the live schema "
            "(AEP not reachable, or not asked)"
        )
