"""End-to-end runs: the real worker process against a real broker and the emulator in its own process.

Every component is a separate process (broker JVM, emulator, worker, helper clients), so the CPU
each used is read from /proc. Delivered counts come from the emulator's stats, polled 10x a second.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from bench.procstat import (
    CpuWindow,
    cpu_seconds,
    machine_busy_since,
    machine_jiffies,
    peak_rss_mb,
    tree_cpu_seconds,
    tree_peak_rss_mb,
)
from tests.harness.kafka_broker import committed_offsets, end_offsets
from tests.harness.ports import free_port

POLL_S = 0.1
MIN_WINDOW_S = 4.0  # shorter, a window after the last worker process joined is mostly the run's tail
ROOT = Path(__file__).resolve().parents[1]  # the checkout: children import `bench` from here


class BenchError(RuntimeError):
    """The benchmark could not run (a service did not start, a run timed out)."""


class Child:
    """A Python child process of the benchmark, its output in a log file."""

    def __init__(self, argv: Sequence[str], log_path: Path, python: str = sys.executable) -> None:
        self.log_path = log_path
        self.started_wall = time.time()
        self.started = time.monotonic()
        with log_path.open("ab") as out:
            self.proc = subprocess.Popen(
                [python, *argv],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)},
                cwd=ROOT,
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout_s: float = 30.0) -> int:
        """SIGTERM, SIGKILL after `timeout_s`; the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return int(self.proc.returncode)

    def wait(self, timeout_s: float) -> int:
        try:
            return int(self.proc.wait(timeout=timeout_s))
        except subprocess.TimeoutExpired:
            self.stop(5)
            raise BenchError(f"{self.log_path.name} did not finish in {timeout_s:.0f}s") from None

    def lines(self) -> list[str]:
        return self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()

    def last_json(self) -> dict[str, Any]:
        for line in reversed(self.lines()):
            if line.startswith("{"):
                result: dict[str, Any] = json.loads(line)
                return result
        raise BenchError(f"no result line in {self.log_path}:\n" + "\n".join(self.lines()[-20:]))

    def tail(self, n: int = 30) -> str:
        return "\n".join(self.lines()[-n:])


class Emulator:
    """`python -m connector emulator --store STORE` on a free port, in its own process."""

    def __init__(self, store: str, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # memory mode keeps every record: run it with the cyclic GC off (see child.emulator)
        command = ["-m", "bench.child"] if store == "memory" else ["-m", "connector"]
        self.child = Child([*command, "emulator", "--store", store, "--port", str(self.port)],
                           workdir / f"emulator-{store}.log")
        self.session = requests.Session()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if not self.child.alive():
                raise BenchError("emulator exited at start:\n" + self.child.tail())
            try:
                if self.session.get(f"{self.url}/emulator/health", timeout=1).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.child.stop()
        raise BenchError("emulator did not answer /emulator/health within 30 s")

    @property
    def pid(self) -> int:
        return self.child.pid

    def inlet_url(self, inlet_id: str) -> str:
        return f"{self.url}/collection/{inlet_id}"

    def accepted(self, inlet_id: str) -> int:
        stats = self.session.get(f"{self.url}/emulator/stats", timeout=5).json()
        return int(stats["inlets"].get(inlet_id, {}).get("accepted", 0))

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self.session.get(f"{self.url}/emulator/stats", timeout=5).json()
        return result

    def records(self, page: int = 5_000) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while True:
            rows = self.session.get(
                f"{self.url}/emulator/records", params={"limit": page, "offset": len(out)}, timeout=60
            ).json()
            out.extend(rows)
            if len(rows) < page:
                return out

    def stop(self) -> None:
        self.session.close()
        self.child.stop()


@dataclass
class RunResult:
    """One end-to-end run of one or more workers over a topic."""

    records: int
    seconds: float  # worker spawn -> committed offsets == end offsets
    delivered_s: float  # worker spawn -> last record accepted by the emulator
    startup_s: float  # spawn -> `worker_started` (imports, config, mapping compile)
    join_s: float  # spawn -> partitions assigned (the last worker to get some)
    steady_rate: float  # records/s between 10 % and 90 % delivered
    peak_rss_mb: list[float]
    cpu_s: dict[str, float]
    emulator_stats: dict[str, Any] = field(default_factory=dict)
    duplicates: int = 0
    machine_busy: float = 0.0  # every process on the machine, ours and others'
    first_accepted_s: float = 0.0  # spawn -> the sink accepted the first records
    accepted_at_first: int = 0  # how many it had accepted at that moment
    window_cpu_s: float = 0.0  # the worker's CPU (all its processes) from the first acceptance to the end
    all_held_s: float = 0.0  # spawn -> the last worker process got its first partitions
    all_held_rate: float = 0.0  # records/s from then until every offset was committed (0: too short to tell)

    @property
    def e2e_rate(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0

    @property
    def window_rate(self) -> float:
        """Records/s from the first acceptance until every offset was committed (the peer comparison's rate)."""
        span = self.seconds - self.first_accepted_s
        return (self.records - self.accepted_at_first) / span if span > 0 else 0.0

    @property
    def window_us_per_record(self) -> float:
        """The worker's CPU microseconds per record over that window (interpreter start-up left out)."""
        n = self.records - self.accepted_at_first
        return self.window_cpu_s * 1e6 / n if n > 0 else 0.0

    @property
    def emulator_share(self) -> float:
        total = sum(self.cpu_s.values())
        return self.cpu_s.get("emulator", 0.0) / total if total else 0.0


def rate_after(samples: list[tuple[float, int]], start_s: float, end_s: float, total: int) -> float:
    """Records/s from `start_s` (accepted count interpolated there) to `end_s`, when all `total` were in."""
    if end_s - start_s < MIN_WINDOW_S:
        return 0.0
    prev_t, prev_n = samples[0] if samples else (0.0, 0)
    at: float = prev_n
    for t, n in samples:
        if t >= start_s:
            at = n if t == prev_t else prev_n + (n - prev_n) * (start_s - prev_t) / (t - prev_t)
            break
        prev_t, prev_n = t, n
    return (total - at) / (end_s - start_s)


def first_assignments(child: Child) -> list[float]:
    """Wall time each worker process in `child`'s log (one, or a supervisor's children) first got partitions."""
    first: dict[object, float] = {}
    for at, event in _log_events(child, "partitions_assigned"):
        first.setdefault(event.get("process"), at)
    return list(first.values())


def steady_rate(samples: list[tuple[float, int]], total: int, lo: float = 0.1, hi: float = 0.9) -> float:
    """Records/s between the moments `lo` and `hi` of `total` had been delivered (interpolated)."""

    def crossing(target: float) -> float | None:
        prev_t, prev_n = samples[0] if samples else (0.0, 0)
        for t, n in samples:
            if n >= target:
                if n == prev_n:
                    return t
                return prev_t + (t - prev_t) * (target - prev_n) / (n - prev_n)
            prev_t, prev_n = t, n
        return None

    t_lo, t_hi = crossing(lo * total), crossing(hi * total)
    if t_lo is None or t_hi is None or t_hi <= t_lo:
        return 0.0
    return (hi - lo) * total / (t_hi - t_lo)


def _log_events(child: Child, event: str) -> list[tuple[float, dict[str, Any]]]:
    """(wall time, the event) of each JSON log line of `event` in a worker's output."""
    out = []
    for line in child.lines():
        if f'"{event}"' in line and line.startswith("{"):
            try:
                fields = json.loads(line)
                stamp = fields["timestamp"]
            except (ValueError, KeyError):
                continue
            out.append((datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp(), fields))
    return out


def _log_times(child: Child, event: str) -> list[float]:
    """Wall times of a JSON log event in a worker's output."""
    return [at for at, _ in _log_events(child, event)]


def spawn_worker(config: Path, log_path: Path) -> Child:
    return Child(["-m", "connector", "run", "-c", str(config)], log_path)


def run_workers(
    *,
    configs: Sequence[Path],
    workdir: Path,
    label: str,
    bootstrap: str,
    group: str,
    topic: str,
    records: int,
    emulator: Emulator,
    inlet: str,
    pids: dict[str, int | None],
    timeout_s: float,
    spawn: Callable[[Path, Path], Child] = spawn_worker,
) -> RunResult:
    """Start the workers, wait until every record is delivered and committed, stop them; the figures."""
    base = emulator.accepted(inlet)
    window = CpuWindow.start(pids)
    jiffies = machine_jiffies()
    workers = [spawn(cfg, workdir / f"{label}-worker{i}.log") for i, cfg in enumerate(configs)]
    t0 = workers[0].started
    samples: list[tuple[float, int]] = [(0.0, 0)]
    deadline = t0 + timeout_s
    delivered_at = 0.0
    ends = end_offsets(bootstrap, topic)
    committed_at = 0.0
    last_commit_check = 0.0
    first_at, first_n, first_cpu = 0.0, 0, 0.0
    while time.monotonic() < deadline:
        for w in workers:
            if not w.alive():
                raise BenchError(f"{label}: worker exited early:\n{w.tail()}")
        now = time.monotonic()
        n = emulator.accepted(inlet) - base
        samples.append((now - t0, n))
        if n and not first_at:
            first_at, first_n, first_cpu = now, n, sum(tree_cpu_seconds(w.pid) for w in workers)
        if n >= records and not delivered_at:
            delivered_at = now
        if delivered_at and now - last_commit_check >= 0.1:
            last_commit_check = now
            if committed_offsets(bootstrap, group, topic) == ends:
                committed_at = time.monotonic()
                break
        time.sleep(max(0.0, POLL_S - (time.monotonic() - now)))
    if not committed_at:
        tails = "\n".join(w.tail(10) for w in workers)
        for w in workers:
            w.stop()
        raise BenchError(f"{label}: not delivered and committed within {timeout_s:.0f}s "
                         f"(delivered {samples[-1][1]} of {records}):\n{tails}")
    cpu = window.stop()
    busy = machine_busy_since(jiffies)
    for i, w in enumerate(workers):
        cpu[f"worker{i}" if len(workers) > 1 else "worker"] = tree_cpu_seconds(w.pid)
    window_cpu = sum(tree_cpu_seconds(w.pid) for w in workers) - first_cpu
    rss = [mb for w in workers for mb in tree_peak_rss_mb(w.pid)]
    stats = emulator.stats()
    for w in workers:
        w.stop()
    started = [min(_log_times(w, "worker_started") or [w.started_wall]) - w.started_wall for w in workers]
    joined = [min(_log_times(w, "partitions_assigned") or [w.started_wall]) - w.started_wall for w in workers]
    inlet_stats = stats["inlets"].get(inlet, {})
    held = [at - w.started_wall for w in workers for at in first_assignments(w)]
    all_held_s = max(held) if held else 0.0
    end_s = committed_at - t0
    return RunResult(
        records=records,
        seconds=committed_at - t0,
        delivered_s=delivered_at - t0,
        startup_s=max(started),
        join_s=max(joined),
        steady_rate=steady_rate(samples, records),
        peak_rss_mb=rss,
        cpu_s=cpu,
        emulator_stats=inlet_stats,
        duplicates=int(inlet_stats.get("accepted", 0)) - base - records,
        machine_busy=busy,
        first_accepted_s=first_at - t0,
        accepted_at_first=first_n,
        window_cpu_s=window_cpu,
        all_held_s=all_held_s,
        all_held_rate=rate_after(samples, max(all_held_s, first_at - t0), end_s, records),
    )


@dataclass
class CeilingResult:
    settings: str  # "librdkafka defaults" or "the connector's settings"
    records: int
    rate: float  # partitions assigned -> last record (fetching starts at assignment)
    rate_first_last: float  # first record -> last record (starts late when the pre-fetch queue is large)
    join_s: float  # process start -> partitions assigned
    cpu_s: float
    peak_rss_mb: float


def consume_ceiling(
    *, workdir: Path, bootstrap: str, topic: str, records: int, consumer: dict[str, Any] | None, timeout_s: float
) -> CeilingResult:
    """A plain confluent-kafka consumer reading `topic` and doing nothing with the records.

    `consumer` None: librdkafka's defaults; else the connector's consumer_config() with these on top.
    """
    settings = ["--defaults"] if consumer is None else ["--consumer", json.dumps(consumer)]
    which = "defaults" if consumer is None else "project"
    child = Child(
        [
            "-m", "bench.child", "consume", "--bootstrap", bootstrap, "--topic", topic,
            "--group", f"ceiling-{which}-{time.monotonic_ns()}", "--expect", str(records),
            *settings, "--timeout", str(timeout_s),
        ],
        workdir / f"ceiling-{which}-{topic}.log",
    )
    # Read the child's CPU and RSS just before it exits: poll until its result line appears.
    cpu = rss = 0.0
    deadline = time.monotonic() + timeout_s + 30
    while child.alive() and time.monotonic() < deadline:
        cpu, rss = cpu_seconds(child.pid) or cpu, peak_rss_mb(child.pid) or rss
        time.sleep(0.05)
    if child.wait(30) != 0:
        raise BenchError("consume-only child failed:\n" + child.tail())
    out = child.last_json()
    if out["count"] < records:
        raise BenchError(f"consume-only child read {out['count']} of {records} records")
    span, span_first = out["done"] - out["assigned"], out["done"] - out["first"]
    return CeilingResult(
        "librdkafka defaults" if consumer is None else "the connector's settings", records,
        out["count"] / span if span > 0 else 0.0, out["count"] / span_first if span_first > 0 else 0.0,
        out["assigned"] - out["started"], cpu, rss,
    )  # fmt: skip


@dataclass
class LatencyResult:
    offered_rate: float
    achieved_rate: float
    seconds: float
    records: int
    delivered: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    linger_ms: int
    worker_cpu_s: float
    emulator_cpu_s: float
    producer_behind_s: float


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[k]


def offered_load_latency(
    *,
    workdir: Path,
    config: Path,
    bootstrap: str,
    topic: str,
    emulator: Emulator,
    rate: float,
    seconds: float,
    linger_ms: int,
) -> LatencyResult:
    """Worker caught up on an empty topic; offer `rate` records/s; Kafka timestamp -> emulator receipt."""
    worker = spawn_worker(config, workdir / "latency-worker.log")
    try:
        deadline = time.monotonic() + 60
        while not _log_times(worker, "partitions_assigned"):
            if not worker.alive() or time.monotonic() > deadline:
                raise BenchError("latency worker did not get its partitions:\n" + worker.tail())
            time.sleep(0.1)
        time.sleep(1.0)
        cpu = CpuWindow.start({"worker": worker.pid, "emulator": emulator.pid})
        producer = Child(
            [
                "-m", "bench.child", "offer", "--bootstrap", bootstrap, "--topic", topic,
                "--rate", str(rate), "--seconds", str(seconds),
            ],
            workdir / "latency-producer.log",
        )
        if producer.wait(seconds + 60) != 0:
            raise BenchError("offered-load producer failed:\n" + producer.tail())
        offered = producer.last_json()
        sent = int(offered["sent"])
        deadline = time.monotonic() + 60
        while emulator.accepted("bench-latency") < sent and time.monotonic() < deadline:
            time.sleep(0.1)
        used = cpu.stop()
    finally:
        worker.stop()
    rows = emulator.records()
    latencies = [
        float(r["receivedTimeMs"] - r["xdmEntity"]["_exchangeinternal"]["kafkaTs"])
        for r in rows
        if "kafkaTs" in r.get("xdmEntity", {}).get("_exchangeinternal", {})
    ]
    return LatencyResult(
        offered_rate=rate,
        achieved_rate=float(offered["rate"]),
        seconds=float(offered["seconds"]),
        records=sent,
        delivered=len(latencies),
        p50_ms=percentile(latencies, 0.50),
        p90_ms=percentile(latencies, 0.90),
        p99_ms=percentile(latencies, 0.99),
        max_ms=max(latencies) if latencies else float("nan"),
        linger_ms=linger_ms,
        worker_cpu_s=used["worker"],
        emulator_cpu_s=used["emulator"],
        producer_behind_s=float(offered["max_behind_s"]),
    )
