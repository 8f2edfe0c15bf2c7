"""The worker's hot path, stage by stage, in CPU microseconds (or instructions) per record.

    python -m bench.hotpath                         # every stage, best of 5 passes, CPU us/record
    python -m bench.hotpath --stage map --callgrind  # instructions per record under valgrind (deterministic)

Stages, over the bench workload (~1 KB JSON loyalty events, the bench mapping):
  kafka   confluent-kafka Message -> SourceRecord (what KafkaSource.poll_batch does per record)
  decode  the JSON deserializer (bytes -> dict)
  map     the compiled bench mapping (dict -> envelope dict: what `preview` shows)
  encode  the envelope dict -> the bytes DCS receives
  payload map_bytes: dict -> those bytes directly (what the worker runs instead of map + encode)
  record  kafka, decode and payload in a row, as the worker runs them for one record
  loop    the real Worker (lanes, offsets, commits) with an in-memory source and an instant sink

CPU time (`time.process_time`) counts only this process, but on a shared machine a busy sibling core
still slows it; `--callgrind` reruns each stage under `valgrind --tool=callgrind` with one and with two
passes and reports the difference per record: instruction counts do not depend on the machine's load,
so decisions between two versions of the code are taken on them.
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import Message

from bench import workload
from connector.config import AepSettings, MappingSource
from connector.kafka.source import to_record
from connector.mapping import CompiledMapping, compile_mappings
from connector.mapping.envelope import encode as encode_envelope
from connector.records import SourceRecord
from connector.serde.json import JsonDeserializer

TOPIC = "hotpath"
STAGES = ("kafka", "decode", "map", "encode", "payload", "record", "loop")
ROOT = Path(__file__).resolve().parents[1]


def bench_mapping(topic: str = TOPIC) -> CompiledMapping:
    spec = workload.json_mapping(topic)
    compiled, problems = compile_mappings(
        [MappingSource(spec["name"], spec, "bench", workload.ROOT)], AepSettings(inlet_url="http://dcs.bench/collection/x")
    )
    if problems:
        raise SystemExit("\n".join(problems))
    return compiled[0]


def messages(n: int) -> list[Any]:
    return [
        Message(topic=TOPIC, partition=i % 4, offset=i, key=str(i).encode(), value=workload.json_event(i),
                timestamp=(1, 1_700_000_000_000 + i))
        for i in range(n)
    ]


@dataclass
class Prepared:
    msgs: list[Any]
    records: list[SourceRecord]
    values: list[Any]
    envelopes: list[dict[str, Any]]
    mapping: CompiledMapping


def prepare(n: int) -> Prepared:
    mapping = bench_mapping()
    msgs = messages(n)
    records = [to_record(m) for m in msgs]
    decode = JsonDeserializer()
    values = [decode(r) for r in records]
    envelopes = [mapping.map(r, v) for r, v in zip(records, values, strict=True)]
    return Prepared(msgs, records, values, envelopes, mapping)


def stage_fn(stage: str, p: Prepared) -> Callable[[], object]:
    """One pass of `stage` over the prepared records."""
    decode, map_one, payload = JsonDeserializer(), p.mapping.map, p.mapping.map_bytes

    def record() -> None:  # as Worker._ingest runs it (map_record: map_bytes and a size check)
        for m in p.msgs:
            r = to_record(m)
            payload(r, decode(r))

    from bench import loop_bench

    loop_records = loop_bench.records(len(p.msgs)) if stage == "loop" else []

    def loop() -> object:
        return loop_bench.run(len(loop_records), mapped=True, prebuilt=loop_records)

    passes: dict[str, Callable[[], object]] = {
        "kafka": lambda: [to_record(m) for m in p.msgs],
        "decode": lambda: [decode(r) for r in p.records],
        "map": lambda: [map_one(r, v) for r, v in zip(p.records, p.values, strict=True)],
        "encode": lambda: [encode_envelope(e) for e in p.envelopes],
        "payload": lambda: [payload(r, v) for r, v in zip(p.records, p.values, strict=True)],
        "record": record,
        "loop": loop,
    }
    return passes[stage]


def cpu_us(stage: str, n: int, passes: int) -> float:
    """Best CPU microseconds per record over `passes` passes (the GC runs between passes, not in them)."""
    p = prepare(n)
    fn = stage_fn(stage, p)
    fn()  # warm-up: caches, lazily built tables
    best = float("inf")
    for _ in range(passes):
        gc.collect()
        t = time.process_time()
        fn()
        best = min(best, time.process_time() - t)
    return best * 1e6 / n


_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def instructions(stage: str, n: int) -> float:
    """Instructions per record of `stage`: callgrind totals of two passes minus one pass, over n."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    totals = []
    for passes in (1, 2):
        argv = [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-m", "bench.hotpath",
                "--stage", stage, "--records", str(n), "--passes", str(passes), "--once"]
        env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(ROOT)}
        out = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
        found = _COLLECTED.findall(out.stderr)
        if out.returncode != 0 or not found:
            raise SystemExit(f"callgrind run failed:\n{out.stderr[-2000:]}")
        totals.append(int(found[-1]))
    return (totals[1] - totals[0]) / n


def once(stage: str, n: int, passes: int) -> None:
    """The body a callgrind run measures: prepare, then `passes` passes of the stage."""
    p = prepare(n)
    fn = stage_fn(stage, p)
    for _ in range(passes):
        fn()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hotpath", description=__doc__.splitlines()[0])
    parser.add_argument("--stage", action="append", choices=STAGES, help="repeatable; default: all")
    parser.add_argument("--records", type=int, default=None,
                        help="records per pass (default 20000; 2000 under callgrind)")
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--callgrind", action="store_true", help="instructions per record under valgrind")
    parser.add_argument("--once", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    from connector.observability.logging import configure_logging

    configure_logging("console", "warning")
    stages = args.stage or list(STAGES)
    if args.once:
        once(stages[0], args.records, args.passes)
        return 0
    n = args.records or (2_000 if args.callgrind else 20_000)
    for stage in stages:
        if args.callgrind:
            print(f"{stage:<8} {instructions(stage, n):>12,.0f} instructions/record", flush=True)
        else:
            print(f"{stage:<8} {cpu_us(stage, n, args.passes):>8.2f} CPU us/record", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
