"""How to use several cores: worker processes in one group, or a decode+map pool fed by one loop?

    python -m bench.multicore [--records 20000] [--batch 500]

Measures, on the bench workload, the CPU per record of decode + map + encode run in-process (what
each of N worker processes does) and run in a `multiprocessing` pool fed batches of raw values by
one parent (records pickled over a pipe, envelopes pickled back). The pool's parent cost is the
serial part that would bound a pool design (with the Kafka loop, offsets and delivery on top);
its total cost is what the pool spends per record across processes. The supervisor design has no
serial part and no pickling: each process spends the in-process figure.
"""

from __future__ import annotations

import argparse
import multiprocessing
import pickle
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench import hotpath
from bench.procstat import cpu_seconds
from connector.mapping import CompiledMapping
from connector.records import SourceRecord
from connector.serde.json import JsonDeserializer

_MAPPING: CompiledMapping | None = None


def _init() -> None:
    global _MAPPING  # noqa: PLW0603 - one compiled mapping per pool process
    _MAPPING = hotpath.bench_mapping()


def _work(batch: list[SourceRecord]) -> list[bytes]:
    """decode + map + encode one batch (in a pool process), as the worker does it."""
    assert _MAPPING is not None
    decode, payload = JsonDeserializer(), _MAPPING.map_bytes
    return [payload(r, decode(r)) for r in batch]


def _serve(conn: Any) -> None:
    """A lean pool process: pickled batches of records in, pickled payload lists out, over one pipe."""
    _init()
    while True:
        data = conn.recv_bytes()
        if not data:
            return
        conn.send_bytes(pickle.dumps(_work(pickle.loads(data)), protocol=5))  # noqa: S301 - our own parent


def _lean(batches: list[list[SourceRecord]], processes: int) -> tuple[float, float]:
    """(parent CPU s, pool CPU s) feeding `processes` pipe-connected processes round-robin."""
    ctx = multiprocessing.get_context("spawn")
    pipes = [ctx.Pipe() for _ in range(processes)]
    procs = [ctx.Process(target=_serve, args=(child,), daemon=True) for _, child in pipes]
    for proc in procs:
        proc.start()
    conns = [parent for parent, _ in pipes]
    for conn in conns:  # warm-up
        conn.send_bytes(pickle.dumps(batches[0], protocol=5))
        conn.recv_bytes()
    pids = [proc.pid for proc in procs if proc.pid is not None]
    t, c = time.process_time(), _cpu(pids)
    for i in range(0, len(batches), processes):
        group = batches[i : i + processes]
        for conn, b in zip(conns, group, strict=False):
            conn.send_bytes(pickle.dumps(b, protocol=5))
        for conn, _ in zip(conns, group, strict=False):
            pickle.loads(conn.recv_bytes())  # noqa: S301 - our own child
    parent, children = time.process_time() - t, _cpu(pids) - c
    for conn in conns:
        conn.send_bytes(b"")
    for proc in procs:
        proc.join(10)
    return parent, children


@dataclass(frozen=True, slots=True)
class Choice:
    in_process_us: float  # decode+map+encode per record, one process
    pool_parent_us: float  # the feeding process per record (serial)
    pool_total_us: float  # parent + pool processes per record
    pool_processes: int
    pipe_parent_us: float  # the same with one pipe per process and plain pickle
    pipe_total_us: float

    def lines(self) -> list[str]:
        return [
            f"decode+map+encode in the worker process: {self.in_process_us:.1f} CPU us/record "
            "(what each of N worker processes spends; nothing serial, nothing pickled)",
            f"the same in a pool of {self.pool_processes} fed by one process: parent {self.pool_parent_us:.1f} "
            f"CPU us/record (serial, before Kafka, offsets and delivery), all processes "
            f"{self.pool_total_us:.1f} CPU us/record",
            f"the same over one pipe per process (no Pool machinery): parent {self.pipe_parent_us:.1f}, "
            f"all processes {self.pipe_total_us:.1f} CPU us/record",
        ]


def _cpu(pids: list[int]) -> float:
    return sum(cpu_seconds(pid) for pid in pids)


def measure(records: int = 20_000, batch: int = 500, processes: int = 2) -> Choice:
    p = hotpath.prepare(records)
    batches = [p.records[i : i + batch] for i in range(0, len(p.records), batch)]
    _init()
    _work(batches[0])  # warm-up
    t = time.process_time()
    for b in batches:
        _work(b)
    in_process = (time.process_time() - t) * 1e6 / records
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(processes, initializer=_init) as pool:
        pool.map(_work, batches[:processes])  # start and warm every process
        pids = [proc.pid for proc in pool._pool]  # type: ignore[attr-defined]
        t, c = time.process_time(), _cpu(pids)
        out: Any = pool.map(_work, batches, chunksize=1)
        parent = time.process_time() - t
        children = _cpu(pids) - c
        assert len(out) == len(batches)
    lean_parent, lean_children = _lean(batches, processes)
    return Choice(
        in_process, parent * 1e6 / records, (parent + children) * 1e6 / records, processes,
        lean_parent * 1e6 / records, (lean_parent + lean_children) * 1e6 / records,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.multicore", description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args(argv)
    for line in measure(args.records, args.batch, args.processes).lines():
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
