"""Mapping: any decoded Kafka record -> a DCS envelope (or Edge event) holding a valid XDM Profile or ExperienceEvent.

spec.py         YAML spec -> MappingSpec, collecting every problem with its key path
expressions.py  the expression language parser (AST)
functions.py    the function library
compiler.py     expressions -> Python expression source (the AST's names, literals via repr)
codegen.py      field tree -> the source of one entity function per mapping
mapper.py       compiles and loads that function; CompiledMapping.map (raises only MappingError)
envelope.py     the {header, body} envelope; the {xdm} Edge Network event
dataprep.py     import of an AEP Data Prep mapping set
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import orjson
import yaml

from connector.config import EDGE_HOSTS, AepSettings, MappingSource
from connector.mapping.envelope import EdgeEvent, Envelope
from connector.mapping.functions import CompileEnv
from connector.mapping.mapper import CompiledMapping, compile_mapping
from connector.mapping.spec import MappingSpec, parse_spec
from connector.records import Route

__all__ = ["CompiledMapping", "compile_mappings", "load_mapping_file"]


def edge_collect_url(aep: AepSettings) -> str:
    """The collect URL without its query: host (by authentication), location hint, `/ee/v2/collect`."""
    edge = aep.edge
    authenticated = aep.auth.enabled if edge.authenticated is None else edge.authenticated
    base = (edge.url or EDGE_HOSTS[authenticated]).rstrip("/")
    hint = f"/{edge.location_hint}" if edge.location_hint else ""
    return f"{base}/ee{hint}/v2/collect"


def _route(spec: MappingSpec, aep: AepSettings) -> Route:
    if spec.is_edge:
        meta = {"configOverrides": spec.datastream_overrides} if spec.datastream_overrides else None
        return Route(
            inlet_url=edge_collect_url(aep),
            ims_org=aep.ims_org,
            authenticated=aep.auth.enabled if aep.edge.authenticated is None else aep.edge.authenticated,
            extra_headers=tuple(sorted(aep.headers.items())),
            destination="edge",
            datastream_id=spec.datastream_id,
            edge_meta=orjson.dumps(meta, option=orjson.OPT_SORT_KEYS).decode() if meta else None,
        )
    return Route(
        inlet_url=spec.inlet_url or aep.inlet_url,
        flow_id=spec.flow_id or aep.flow_id,
        sandbox=spec.sandbox or aep.sandbox,
        ims_org=aep.ims_org,
        authenticated=aep.auth.enabled,
        extra_headers=tuple(sorted(aep.headers.items())),
    )


def compile_mappings(
    sources: Sequence[MappingSource], aep: AepSettings, *, clock: Callable[[], float] = time.time
) -> tuple[list[CompiledMapping], list[str]]:
    """Parse, validate and compile every mapping; returns (compiled, problems).

    `problems` lists every error, each prefixed with the mapping name and origin and naming the
    key path; `compiled` is complete only when `problems` is empty. `clock` (epoch seconds)
    serves now() and the future-timestamp check.
    """
    compiled: list[CompiledMapping] = []
    problems: list[str] = []
    for source in sources:
        spec, local = parse_spec(source)
        envelope: Envelope | EdgeEvent = EdgeEvent() if spec.is_edge else Envelope(
            schema_id=spec.schema_id,
            schema_version=spec.schema_version,
            dataset_id=spec.dataset_id,
            ims_org=spec.ims_org or aep.ims_org,
            flow_id=spec.flow_id or aep.flow_id,
            source_name=spec.source_name,
        )
        env = CompileEnv(lookups=spec.lookups, clock=clock)
        route = _route(spec, aep)
        if route.destination == "edge" and route.authenticated and not route.ims_org:
            local.append("destination edge: aep.ims_org is required on the authenticated host (x-gw-ims-org-id)")
        if route.destination == "edge" and route.authenticated and not aep.auth.enabled:
            local.append("destination edge: aep.edge.authenticated needs aep.auth (OAuth server-to-server credentials)")
        mapping = compile_mapping(
            spec=spec,
            raw_spec=source.spec,
            route=route,
            envelope=envelope,
            env=env,
            problems=local,
        )
        problems.extend(f"mapping {source.name} ({source.origin}): {p}" for p in local)
        if mapping is not None and not local:
            compiled.append(mapping)
    return compiled, problems


def load_mapping_file(path: str | Path) -> MappingSource:
    """A MappingSource from one mapping YAML file (name defaults to the file stem)."""
    p = Path(path).resolve()
    raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    spec = raw if isinstance(raw, dict) else {}
    return MappingSource(str(spec.get("name") or p.stem), spec, str(p), p.parent)
