"""The per-stage benchmarks (mapping, Avro decode + map, delivery), called in-process for the report."""

from __future__ import annotations

import json
from dataclasses import dataclass

from bench import avro_bench, delivery_bench, loop_bench, mapping_bench, xdm_bench
from connector.aep.dcs import DcsSink
from connector.config import DCS_MAX_REQUEST_BYTES, AepSettings, DeliverySettings, TransportSettings
from connector.mapping import compile_mappings, load_mapping_file
from connector.records import Route


@dataclass(frozen=True, slots=True)
class MappingRate:
    mapping: str
    rate: float
    target: int


def mapping_rates(seconds: float) -> list[MappingRate]:
    """Records/s of the shipped loyalty-events and commerce-orders mappings on pre-decoded samples."""
    out = []
    for case in mapping_bench.CASES:
        if not case.target_per_s:
            continue
        source = load_mapping_file(mapping_bench.ROOT / "config" / "mappings" / f"{case.mapping}.yaml")
        compiled, problems = compile_mappings([source], mapping_bench.AEP)
        if problems:
            raise RuntimeError("\n".join(problems))
        values = json.loads((mapping_bench.SAMPLES / case.samples).read_text(encoding="utf-8"))
        out.append(MappingRate(case.mapping, mapping_bench.measure(compiled[0], values, seconds), case.target_per_s))
    return out


def xdm_cost(seconds: float) -> xdm_bench.Cost:
    """xdm_bench: CPU us/record of the loyalty-events mapping with and without pre-flight XDM validation."""
    return xdm_bench.measure(seconds)


def avro_rates(records: int, runs: int) -> dict[str, float]:
    """avro_bench's stages: decode, map, decode+map, decode+map+serialise (records/s, best of `runs`)."""
    return avro_bench.rates(records, runs)


def loop_rates(records: int) -> dict[str, tuple[float, float]]:
    """loop_bench: (records/s, CPU us/record) of the worker loop with the bench mapping and without."""
    return {
        "worker loop, bench JSON mapping": loop_bench.run(records, mapped=True),
        "worker loop, constant envelope": loop_bench.run(records, mapped=False),
    }


@dataclass(frozen=True, slots=True)
class DeliveryTable:
    envelope_bytes: int
    records: int
    batch_sizes: list[int]
    rows: dict[int, list[float]]  # in-flight -> records/s per batch size


def delivery_table(inlet_url: str, records: int, in_flight: list[int], batch_sizes: list[int]) -> DeliveryTable:
    """delivery_bench's grid against `inlet_url` (the count-mode emulator process)."""
    messages = [delivery_bench.envelope(i) for i in range(records)]
    aep = AepSettings(inlet_url=inlet_url, transport=TransportSettings(pool_size=max(in_flight)))
    sink = DcsSink(aep, DeliverySettings())
    route = Route(inlet_url)
    try:
        delivery_bench.run_once(sink, route, delivery_bench.batches(messages[:200], 100, DCS_MAX_REQUEST_BYTES), 1)
        cut = {b: delivery_bench.batches(messages, b, DCS_MAX_REQUEST_BYTES) for b in batch_sizes}
        rows: dict[int, list[float]] = {}
        for k in in_flight:
            cells = []
            for b in batch_sizes:
                accepted, seconds = delivery_bench.run_once(sink, route, cut[b], k)
                cells.append(accepted / seconds)
            rows[k] = cells
    finally:
        sink.close()
    return DeliveryTable(len(messages[0]), records, batch_sizes, rows)
