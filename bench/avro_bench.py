"""Avro decode + map throughput on one core, for the loyalty event schema.

    python -m bench.avro_bench                  # 100,000 records, best of 3 runs
    python -m bench.avro_bench --records 20000 --profile

Records are Confluent-framed (magic byte, schema id, Avro body) and decoded by AvroDeserializer
through the real RegistryClient (its schema fetched once from an in-process stand-in registry),
then mapped with config/mappings/loyalty-events-avro.yaml and serialised with orjson, as the
worker does. Prints records/s per stage; the target is >= 60,000 records/s for decode + map.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import fastavro
import orjson
import requests
from requests.adapters import BaseAdapter
from requests.models import PreparedRequest

from bench import workload
from connector.config import AepSettings
from connector.records import SourceRecord
from connector.serde.avro import AvroDeserializer
from connector.serde.registry import RegistryClient

PACKAGE = Path(__file__).resolve().parents[1] / "connector"
SCHEMA_PATH = PACKAGE / "samples" / "loyalty-event-v2.avsc"
SAMPLES_PATH = PACKAGE / "samples" / "loyalty-events.json"
MAPPING_PATH = PACKAGE.parent / "config" / "mappings" / "loyalty-events-avro.yaml"
REGISTRY = "http://registry.bench/apis/ccompat/v7"
SCHEMA_ID = 1
TARGET = 60_000


class _OneSchema(BaseAdapter):
    """Answers every GET with the bench schema, as a registry would for /schemas/ids/1."""

    def __init__(self, schema_text: str) -> None:
        super().__init__()
        self._body = orjson.dumps({"schema": schema_text})

    def send(self, request: PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        response = requests.Response()
        response.status_code = 200
        response._content = self._body
        return response

    def close(self) -> None:
        pass


def events(n: int) -> list[dict[str, Any]]:
    """`n` loyalty events derived from the 20 samples (distinct ids, half with a transaction id)."""
    return [workload.avro_event(i) for i in range(n)]


def framed_records(n: int) -> list[SourceRecord]:
    schema = fastavro.parse_schema(json.loads(SCHEMA_PATH.read_text()))
    header = b"\x00" + SCHEMA_ID.to_bytes(4, "big")
    records = []
    for i, event in enumerate(events(n)):
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, schema, event)
        records.append(SourceRecord("loyalty-events-avro", 0, i, None, header + buf.getvalue(), (), 1_583_217_295_000))
    return records


def deserializer() -> AvroDeserializer:
    session = requests.Session()
    session.mount("http://", _OneSchema(SCHEMA_PATH.read_text()))
    return AvroDeserializer(RegistryClient(REGISTRY, session=session).writer_schema)


def mapper() -> Any | None:
    """The compiled loyalty-events-avro mapping, or None when connector.mapping is not available."""
    try:
        from connector.mapping import compile_mappings, load_mapping_file
    except ImportError:
        return None
    compiled, problems = compile_mappings(
        [load_mapping_file(MAPPING_PATH)], AepSettings(inlet_url="http://dcs.bench/collection/bench")
    )
    if problems:
        raise SystemExit("mapping problems:\n" + "\n".join(problems))
    return compiled[0]


def best_rate(fn: Callable[[], None], n: int, runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return n / best


def rates(n: int, runs: int) -> dict[str, float]:
    """Records/s per stage (decode, map, decode+map, decode+map+serialise), best of `runs`."""
    records = framed_records(n)
    decode = deserializer()
    mp = mapper()
    decoded = [decode(r) for r in records]  # warms the schema cache (one registry fetch)
    dumps = orjson.dumps

    def decode_only() -> None:
        for r in records:
            decode(r)

    out = {"decode": best_rate(decode_only, n, runs)}
    if mp is None:
        return out
    mapping = mp.map

    def map_only() -> None:
        for r, v in zip(records, decoded, strict=True):
            mapping(r, v)

    def decode_map() -> None:
        for r in records:
            mapping(r, decode(r))

    def decode_map_dump() -> None:
        for r in records:
            dumps(mapping(r, decode(r)))

    out["map"] = best_rate(map_only, n, runs)
    out["decode+map"] = best_rate(decode_map, n, runs)
    out["decode+map+serialise"] = best_rate(decode_map_dump, n, runs)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.avro_bench")
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="print the top of a cProfile of decode + map")
    args = parser.parse_args(argv)
    n = args.records
    measured = rates(n, args.runs)
    body = len(framed_records(1)[0].value or b"")
    print(f"records: {n:,}  body: {body} bytes  schema: {SCHEMA_PATH.name}")
    if "map" not in measured:
        print(f"decode only (connector.mapping not importable): {measured['decode']:,.0f} records/s")
        return 0
    for stage, rate in measured.items():
        print(f"{stage:<22} {rate:>10,.0f} records/s  ({1e6 / rate:5.2f} us/record)")
    verdict = "meets" if measured["decode+map"] >= TARGET else "MISSES"
    print(f"decode+map {verdict} the {TARGET:,} records/s target on one core")
    if args.profile:
        records = framed_records(n)
        decode = deserializer()
        mp = mapper()
        assert mp is not None
        mapping = mp.map
        decode(records[0])

        def decode_map() -> None:
            for r in records:
                mapping(r, decode(r))

        profiler = cProfile.Profile()
        profiler.runcall(decode_map)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
