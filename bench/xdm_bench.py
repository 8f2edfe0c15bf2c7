"""Cost of pre-flight XDM validation on one core: `python -m bench.xdm_bench [--seconds N]`.

Maps the loyalty-events samples with the shipped mapping, plain and behind ValidatingMapper
against the resolved schema config/schemas/loyalty-events.xdm.json (38 KB, ExperienceEvent with
the environment, web, commerce and tenant field groups), interleaving short runs and keeping the
best of each (the machine is shared), and prints the added microseconds per record next to the
target. Self-contained: it needs only the mapping, the samples and the schema file.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connector.clock import SystemClock
from connector.config import AepSettings
from connector.mapping import compile_mappings, load_mapping_file
from connector.records import SourceRecord
from connector.xdm.cache import DiskCache
from connector.xdm.mapper import ValidatingMapper
from connector.xdm.ref import SchemaRef
from connector.xdm.schemas import LiveSchema, Timing

ROOT = Path(__file__).resolve().parents[1]
MAPPING = ROOT / "config" / "mappings" / "loyalty-events.yaml"
SCHEMA = ROOT / "config" / "schemas" / "loyalty-events.xdm.json"
SAMPLES = ROOT / "connector" / "samples" / "loyalty-events.json"
AEP = AepSettings(inlet_url="https://dcs.adobedc.net/collection/bench", ims_org="BENCH@AdobeOrg")
TARGET_US = 3.0


@dataclass(frozen=True, slots=True)
class Cost:
    map_us: float  # mapping alone, us/record
    validated_us: float  # mapping + validation
    is_valid_us: float  # the validator's fast path alone, on mapped entities

    @property
    def added_us(self) -> float:
        return self.validated_us - self.map_us

    @property
    def met(self) -> bool:
        return self.added_us <= TARGET_US


def _per_record_us(fn: Callable[[], int], seconds: float) -> float:
    """CPU microseconds per record (thread CPU time: on a shared machine wall time mostly measures the others)."""
    done, start, cpu = 0, time.perf_counter(), time.thread_time()
    while time.perf_counter() - start < seconds:
        done += fn()
    return (time.thread_time() - cpu) * 1e6 / done


def measure(seconds: float = 3.0, rounds: int = 12) -> Cost:
    compiled, problems = compile_mappings([load_mapping_file(MAPPING)], AEP)
    if problems:
        raise RuntimeError("\n".join(problems))
    plain = compiled[0]
    schema = LiveSchema(
        SchemaRef("file", str(SCHEMA)), None, DiskCache(None, org=None, sandbox=None), SystemClock(), Timing()
    )
    validator = schema.load().validator
    checked = ValidatingMapper(plain, schema, "strict")
    values: list[Any] = json.loads(SAMPLES.read_text(encoding="utf-8"))
    pairs = [(SourceRecord(plain.topics[0], 0, i, b"key", b""), v) for i, v in enumerate(values)]
    entities = [plain.entity(r, v) for r, v in pairs]

    def loop(map_one: Callable[[SourceRecord, Any], Any]) -> Callable[[], int]:
        def run() -> int:
            for _ in range(20):
                for rec, value in pairs:
                    map_one(rec, value)
            return 20 * len(pairs)

        return run

    def fast_path() -> int:
        is_valid = validator.is_valid
        for _ in range(20):
            for e in entities:
                is_valid(e)
        return 20 * len(entities)

    best = {"map": float("inf"), "validated": float("inf"), "is_valid": float("inf")}
    runs = {"map": loop(plain.map), "validated": loop(checked.map), "is_valid": fast_path}
    for _ in range(rounds):
        for name, fn in runs.items():
            best[name] = min(best[name], _per_record_us(fn, seconds / rounds))
    return Cost(best["map"], best["validated"], best["is_valid"])


HEADER = ["XDM validation (xdm_bench: loyalty-events, 38 KB resolved schema)", "CPU us/record", "target"]


def rows(c: Cost) -> list[list[object]]:
    verdict = "ok" if c.met else "ABOVE TARGET"
    return [
        ["loyalty-events mapping", f"{c.map_us:.2f}", "-"],
        ["mapping + validation", f"{c.validated_us:.2f}", "-"],
        ["validation added", f"{c.added_us:+.2f}", f"<= +{TARGET_US:.2f} ({verdict})"],
        ["validator fast path alone", f"{c.is_valid_us:.2f}", "-"],
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="measuring time per variant")
    args = parser.parse_args(argv)
    for what, figure, target in rows(measure(args.seconds)):
        print(f"{what:<28} {figure:>8} us/record   {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
