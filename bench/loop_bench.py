"""The worker loop alone: `python -m bench.loop_bench [--records N]`.

Runs the real Worker (decode, map, lanes, offsets, commits) over pre-built ~1 KB JSON records with an
in-memory source and a sink that accepts every message at once, so neither Kafka nor HTTP is in the
figure. Prints records/s and process CPU microseconds per record: the loop's own cost, which bounds
end-to-end throughput on one core. `--no-map` replaces the mapping with a constant envelope to show
the loop's bookkeeping alone.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bench import workload
from connector.clock import SystemClock
from connector.config import AepSettings, BatchingSettings, MappingSource
from connector.errors import RecordError
from connector.interfaces import RebalanceListener
from connector.mapping import compile_mappings
from connector.mapping.envelope import encode
from connector.records import Accepted, Outcome, Route, SourceRecord, TopicPartition
from connector.routing import Pipeline, Router
from connector.serde.json import JsonDeserializer
from connector.worker import Worker

TOPIC = "loop-bench"
PARTITIONS = 4
INLET = "http://dcs.bench/collection/loop"


class _Source:
    """Hands out pre-built records in poll-sized slices, partition runs as librdkafka returns them."""

    def __init__(self, records: list[SourceRecord], stop: threading.Event) -> None:
        self._records = records
        self._at = 0
        self._stop = stop
        self.committed: dict[TopicPartition, int] = {}

    def subscribe(self, listener: RebalanceListener) -> None:
        listener.on_assigned([TopicPartition(TOPIC, p) for p in range(PARTITIONS)])

    def poll_batch(self, max_records: int, timeout: float) -> list[SourceRecord]:
        out = self._records[self._at : self._at + max_records]
        self._at += len(out)
        if not out:
            time.sleep(min(timeout, 0.001))
        return out

    def commit(self, offsets: dict[TopicPartition, int], asynchronous: bool) -> None:
        self.committed.update(offsets)
        if sum(self.committed.values()) >= len(self._records):
            self._stop.set()

    def pause(self, partitions: Sequence[TopicPartition]) -> None:
        pass

    def resume(self, partitions: Sequence[TopicPartition]) -> None:
        pass

    def seek(self, tp: TopicPartition, offset: int) -> None:
        pass

    def assignment(self) -> list[TopicPartition]:
        return [TopicPartition(TOPIC, p) for p in range(PARTITIONS)]

    def close(self) -> None:
        pass


class _Sink:
    def deliver(self, route: Route, messages: Sequence[bytes], cancel: threading.Event) -> list[Outcome]:
        return [Accepted()] * len(messages)


class _NoDeadLetters:
    def send(
        self, record: SourceRecord, error: RecordError, on_written: Callable[[], None], mapping: str | None = None
    ) -> None:
        raise AssertionError(f"unexpected dead letter: {error}")

    def poll(self) -> None:
        pass

    def flush(self, timeout: float) -> int:
        return 0


@dataclass(frozen=True, slots=True)
class _ConstantMapper:
    name: str
    route: Route

    def map(self, record: SourceRecord, value: Any, key: Any = None) -> dict[str, Any]:
        return {"header": {"datasetId": "d"}, "body": {"xdmEntity": {"_id": "1"}}}

    def map_bytes(self, record: SourceRecord, value: Any, key: Any = None) -> bytes:
        return encode(self.map(record, value, key))


def records(n: int) -> list[SourceRecord]:
    """`n` records in runs of 250 per partition, offsets dense per partition."""
    out: list[SourceRecord] = []
    next_offset = [0] * PARTITIONS
    for i in range(n):
        p = (i // 250) % PARTITIONS
        value = workload.json_event(i)
        out.append(SourceRecord(TOPIC, p, next_offset[p], str(i).encode(), value, (), 1_700_000_000_000))
        next_offset[p] += 1
    return out


def run(
    n: int, mapped: bool = True, batching: BatchingSettings | None = None, prebuilt: list[SourceRecord] | None = None
) -> tuple[float, float]:
    """(records/s, CPU us/record) of the worker loop over `n` records (`prebuilt`: these instead)."""
    spec = workload.json_mapping(TOPIC)
    if mapped:
        compiled, problems = compile_mappings([MappingSource(spec["name"], spec, "loop-bench", workload.ROOT)],
                                              AepSettings(inlet_url=INLET))
        if problems:
            raise SystemExit("\n".join(problems))
        mapper: Any = compiled[0]
    else:
        mapper = _ConstantMapper("constant", Route(INLET))
    stop = threading.Event()
    source = _Source(prebuilt if prebuilt is not None else records(n), stop)
    worker = Worker(
        source=source, router=Router([([TOPIC], Pipeline(JsonDeserializer(), mapper))]), sink=_Sink(),
        dead_letters=_NoDeadLetters(), batching=batching or BatchingSettings(commit_interval_ms=0),
        clock=SystemClock(),
    )
    def stop_when_committed() -> None:
        stop.wait()
        worker.stop()

    watcher = threading.Thread(target=stop_when_committed, daemon=True)
    watcher.start()
    cpu, wall = time.process_time(), time.perf_counter()
    worker.run()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return n / wall, cpu * 1e6 / n


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.loop_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--no-map", action="store_true", help="constant envelope instead of the mapping")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)
    from connector.observability.logging import configure_logging

    configure_logging("console", "warning")
    if args.profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.runcall(run, args.records, not args.no_map)
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
        return 0
    rate, us = run(args.records, not args.no_map)
    print(f"worker loop ({'mapped' if not args.no_map else 'constant envelope'}): {rate:,.0f} records/s, "
          f"{us:.1f} CPU us/record")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
