"""Mapping throughput on one core: `python -m bench.mapping_bench [--seconds N]`.

Maps the shipped sample records (pre-decoded dicts) through the shipped mappings in a loop and
prints records/s per mapping next to its target.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connector.config import AepSettings
from connector.mapping import CompiledMapping, compile_mappings, load_mapping_file
from connector.records import SourceRecord

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "connector" / "samples"
AEP = AepSettings(inlet_url="https://dcs.adobedc.net/collection/bench", flow_id="bench-flow", ims_org="BENCH@AdobeOrg")


@dataclass(frozen=True, slots=True)
class Case:
    mapping: str
    samples: str
    target_per_s: int


CASES = (
    Case("loyalty-events", "loyalty-events.json", 100_000),
    Case("loyalty-profiles", "loyalty-profiles.json", 0),
    Case("commerce-orders", "commerce-orders.json", 40_000),
)


def _compile(name: str, mappings_dir: Path) -> CompiledMapping:
    compiled, problems = compile_mappings([load_mapping_file(mappings_dir / f"{name}.yaml")], AEP)
    if problems:
        raise SystemExit("\n".join(problems))
    return compiled[0]


def measure(mapping: CompiledMapping, values: list[Any], seconds: float) -> float:
    """Records per second mapping `values` round-robin for about `seconds`."""
    records = [SourceRecord(mapping.topics[0], 0, i, b"key", b"") for i in range(len(values))]
    pairs = list(zip(records, values, strict=True))
    map_one = mapping.map
    done = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for rec, value in pairs:
            map_one(rec, value)
        done += len(pairs)
        if done % (len(pairs) * 50) == 0 and time.perf_counter() >= deadline:
            break
    return done / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="measuring time per mapping")
    parser.add_argument("--mappings-dir", type=Path, default=ROOT / "config" / "mappings")
    args = parser.parse_args(argv)
    print(f"{'mapping':<20} {'records':>8} {'records/s':>12} {'target':>10}  result")
    ok = True
    for case in CASES:
        mapping = _compile(case.mapping, args.mappings_dir)
        values = json.loads((SAMPLES / case.samples).read_text(encoding="utf-8"))
        rate = measure(mapping, values, args.seconds)
        verdict = "-" if not case.target_per_s else ("ok" if rate >= case.target_per_s else "BELOW TARGET")
        ok = ok and verdict != "BELOW TARGET"
        target = f"{case.target_per_s:,}" if case.target_per_s else "-"
        print(f"{case.mapping:<20} {len(values):>8} {rate:>12,.0f} {target:>10}  {verdict}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
