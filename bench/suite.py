"""The benchmark's phases, in order, sharing one broker and one count-mode emulator."""

from __future__ import annotations

import contextlib
import pstats
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import structlog

from bench import emulator_bench, hotpath, multicore, stages, workload, xdm_bench
from bench.e2e import (
    BenchError,
    CeilingResult,
    Child,
    Emulator,
    LatencyResult,
    RunResult,
    consume_ceiling,
    offered_load_latency,
    run_workers,
)
from bench.emulator_bench import EmulatorFigure
from tests.harness.kafka_broker import KafkaBroker, create_topic

log = structlog.get_logger(__name__)
T = TypeVar("T")

PARTITIONS = 4
Row = tuple[str, float, float, int, str]  # function, self s, cumulative s, calls, component

# What the worker runs with in every phase: the shipped defaults unless listed here.
BATCHING: dict[str, Any] = {}
CONSUMER: dict[str, Any] = {}
LATENCY_LINGER_MS = 50

# The end-to-end comparison on the bench topic, in this order in every round.
PROJECT, PROCESSES, RAW, QUIX = "connector", "connector --processes 2", "hand-written loop, 4 in flight", "quix-streams"
CONTENDERS = (PROJECT, PROCESSES, RAW, QUIX)


@dataclass(frozen=True, slots=True)
class Options:
    records: int
    backlog: int
    latency_rate: float
    latency_seconds: float
    profile_records: int
    stage_seconds: float
    delivery_records: int
    delivery_in_flight: list[int]
    delivery_batches: list[int]
    workdir: Path
    rounds: int = 3
    quix_python: str | None = None  # the quix-streams virtualenv's python; None leaves quix out


@dataclass
class Results:
    options: Options
    ceilings: list[CeilingResult] = field(default_factory=list)
    contenders: dict[str, list[RunResult]] = field(default_factory=dict)  # name -> one run per round
    avro_run: RunResult | None = None
    avro_mode: str = ""
    latency: LatencyResult | None = None
    backlog_run: RunResult | None = None
    profile: dict[str, list[Row]] = field(default_factory=dict)
    profile_records: int = 0
    profile_seconds: float = 0.0
    mapping: list[stages.MappingRate] = field(default_factory=list)
    xdm: xdm_bench.Cost | None = None
    avro_stages: dict[str, float] = field(default_factory=dict)
    delivery: stages.DeliveryTable | None = None
    emulator_stores: list[EmulatorFigure] = field(default_factory=list)
    loop: dict[str, tuple[float, float]] = field(default_factory=dict)
    hotpath: dict[str, float] = field(default_factory=dict)  # stage -> CPU us/record
    multicore: multicore.Choice | None = None
    phase_seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    produce_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def json_run(self) -> RunResult | None:
        """The connector's median run (by rate) of the comparison rounds."""
        runs = sorted(self.contenders.get(PROJECT, []), key=lambda r: r.window_rate)
        return runs[len(runs) // 2] if runs else None

    @property
    def ceiling(self) -> CeilingResult | None:
        """The higher of the two consume-only ceilings."""
        return max(self.ceilings, key=lambda c: c.rate, default=None)


class Suite:
    def __init__(self, options: Options, broker: KafkaBroker, emulator: Emulator) -> None:
        self.o = options
        self.broker = broker
        self.emulator = emulator
        self.results = Results(options)
        self.bootstrap = broker.bootstrap

    @property
    def pids(self) -> dict[str, int | None]:
        return {"broker": self.broker.pid, "emulator": self.emulator.pid}

    def phase(self, name: str, fn: Callable[[], T]) -> T:
        print(f"-- {name} ...", flush=True)
        started = time.monotonic()
        try:
            return fn()
        finally:
            self.results.phase_seconds[name] = time.monotonic() - started
            print(f"   {name}: {self.results.phase_seconds[name]:.1f} s", flush=True)

    def topic(self, name: str, values: Iterator[bytes], compression: str = "lz4") -> int:
        create_topic(self.bootstrap, name, PARTITIONS)
        started = time.monotonic()
        n = workload.produce(self.bootstrap, name, values, compression=compression)
        self.results.produce_seconds[name] = time.monotonic() - started
        return n

    def config(
        self, name: str, group: str, topic: str, mapping: dict[str, Any], inlet: str, **extra: Any
    ) -> Path:
        return workload.write_config(
            self.o.workdir / f"{name}.yaml",
            bootstrap=self.bootstrap,
            group=group,
            topics=[topic],
            inlet_url=extra.pop("inlet_url", None) or self.emulator.inlet_url(inlet),
            mappings=[mapping],
            batching={**BATCHING, **extra.pop("batching", {})},
            consumer=CONSUMER,
            **extra,
        )

    def throughput(self, label: str, topic: str, records: int, mapping: dict[str, Any], workers: int = 1,
                   **extra: Any) -> RunResult:
        group = f"{label}-group"
        inlet = f"bench-{label}"
        configs = [self.config(f"{label}-{i}", group, topic, mapping, inlet, **dict(extra)) for i in range(workers)]
        return run_workers(
            configs=configs, workdir=self.o.workdir, label=label, bootstrap=self.bootstrap, group=group,
            topic=topic, records=records, emulator=self.emulator, inlet=inlet, pids=self.pids,
            timeout_s=max(120.0, records / 2_000),
        )

    def contender(self, name: str, rnd: int, topic: str, records: int) -> RunResult:
        """One run of `name` over `topic` with a fresh group and inlet, on the shared emulator."""
        label = f"{CONTENDERS.index(name)}-r{rnd}"
        group, inlet = f"cmp-{label}-group", f"bench-cmp-{label}"
        batch_url = f"{self.emulator.url}/collection/batch/{inlet}"
        peer = ["--bootstrap", self.bootstrap, "--topic", topic, "--url", batch_url, "--group", group]
        cfg = self.config(f"cmp-{label}", group, topic, workload.json_mapping(topic), inlet)

        def spawn(config: Path, log_path: Path) -> Child:
            if name == PROJECT:
                return Child(["-m", "connector", "run", "-c", str(config)], log_path)
            if name == PROCESSES:
                return Child(["-m", "connector", "run", "-c", str(config), "--processes", "2"], log_path)
            if name == RAW:
                return Child(["-m", "bench.peers.raw_worker", *peer, "--pool", "4"], log_path)
            assert self.o.quix_python is not None
            return Child(["-m", "bench.peers.quix_worker", *peer], log_path, python=self.o.quix_python)

        return run_workers(
            configs=[cfg], workdir=self.o.workdir, label=f"cmp-{label}", bootstrap=self.bootstrap, group=group,
            topic=topic, records=records, emulator=self.emulator, inlet=inlet, pids=self.pids,
            timeout_s=max(180.0, records / 1_000), spawn=spawn,
        )

    # ------------------------------------------------------------------ phases

    def run_json(self) -> None:
        """The consume-only ceilings, then the connector and its peers in interleaved rounds."""
        n = self.o.records
        self.phase("produce JSON", lambda: self.topic("bench-json", workload.json_events(n)))
        for consumer in (None, CONSUMER):
            label = "librdkafka defaults" if consumer is None else "connector settings"
            self.results.ceilings.append(self.phase(f"consume-only ceiling ({label})", partial(
                consume_ceiling, workdir=self.o.workdir, bootstrap=self.bootstrap, topic="bench-json", records=n,
                consumer=consumer, timeout_s=300)))  # fmt: skip
        names = [c for c in CONTENDERS if c != QUIX or self.o.quix_python]
        if not self.o.quix_python:
            self.results.notes.append("quix-streams not run: no --quix-python (make bench builds .venv-quix)")
        for rnd in range(self.o.rounds):
            for name in names:
                run = self.phase(f"round {rnd + 1}: {name}", partial(self.contender, name, rnd, "bench-json", n))
                self.results.contenders.setdefault(name, []).append(run)

    def run_avro(self) -> None:
        from tests.harness.schema_registry import SchemaRegistry

        n = self.o.records
        registry = SchemaRegistry()
        try:
            self.phase("start schema registry", registry.start)
            url: str | None = registry.url
            self.results.avro_mode = f"Confluent-framed, real registry (Apicurio {registry_version()})"
        except Exception as exc:  # the registry is optional: fall back to schemaless Avro
            registry.close()
            url = None
            self.results.avro_mode = "plain Avro (registry did not start)"
            self.results.notes.append(f"schema registry did not start ({type(exc).__name__}); Avro ran as avro-plain")
        try:
            values = workload.registry_avro_values(url, "bench-avro", n) if url else workload.plain_avro_values(n)
            self.phase("produce Avro", lambda: self.topic("bench-avro", values))
            mapping = workload.avro_mapping("bench-avro", plain=url is None)
            self.results.avro_run = self.phase(
                "worker Avro", lambda: self.throughput("avro", "bench-avro", n, mapping, registry_url=url)
            )
        finally:
            registry.close()

    def run_latency(self) -> None:
        emulator = self.phase("start memory emulator", lambda: Emulator("memory", self.o.workdir))
        try:
            create_topic(self.bootstrap, "bench-latency", PARTITIONS)
            cfg = self.config(
                "latency", "latency-group", "bench-latency", workload.json_mapping("bench-latency"), "bench-latency",
                inlet_url=emulator.inlet_url("bench-latency"), batching={"linger_ms": LATENCY_LINGER_MS},
            )
            self.results.latency = self.phase("latency at offered load", lambda: offered_load_latency(
                workdir=self.o.workdir, config=cfg, bootstrap=self.bootstrap, topic="bench-latency",
                emulator=emulator, rate=self.o.latency_rate, seconds=self.o.latency_seconds,
                linger_ms=LATENCY_LINGER_MS))  # fmt: skip
        finally:
            emulator.stop()

    def run_backlog(self) -> None:
        n = self.o.backlog
        if not n:
            return
        free_gb = shutil.disk_usage(self.o.workdir).free / 1e9
        need_gb = n * 1.1e3 / 1e9 * 0.6 + 2  # lz4 shrinks the repetitive events; keep 2 GB spare
        if free_gb < need_gb:
            fit = int(max(0.0, free_gb - 2) / 1.1e3 * 1e9 / 0.6)
            self.results.notes.append(f"only {free_gb:.1f} GB free: backlog cut from {n:,} to {fit:,} records")
            n = fit
        self.phase("produce backlog", lambda: self.topic("bench-backlog", workload.json_events(n)))
        self.results.backlog_run = self.phase(
            "worker through backlog",
            lambda: self.throughput("backlog", "bench-backlog", n, workload.json_mapping("bench-backlog")),
        )

    def run_profile(self) -> None:
        n = self.o.profile_records
        self.phase("produce profile topic", lambda: self.topic("bench-profile", workload.json_events(n)))
        prof = self.o.workdir / "worker.prof"
        cfg = self.config("profile", "profile-group", "bench-profile", workload.json_mapping("bench-profile"),
                          "bench-profile")

        def spawn(config: Path, log_path: Path) -> Child:
            return Child(["-m", "bench.child", "profile", "-c", str(config), "--out", str(prof)], log_path)

        def go() -> RunResult:
            return run_workers(
                configs=[cfg], workdir=self.o.workdir, label="profile", bootstrap=self.bootstrap,
                group="profile-group", topic="bench-profile", records=n, emulator=self.emulator,
                inlet="bench-profile", pids=self.pids, timeout_s=max(180.0, n / 1_000), spawn=spawn,
            )

        run = self.phase("profile the worker", go)
        self.results.profile_records = n
        self.results.profile_seconds = run.seconds
        for which, path in (("loop thread", prof), ("all threads", Path(str(prof) + ".all"))):
            if path.exists():
                self.results.profile[which] = top_functions(path)

    def run_stages(self) -> None:
        self.results.hotpath = self.phase("hot path bench", lambda: {
            stage: hotpath.cpu_us(stage, 20_000, 5) for stage in hotpath.STAGES if stage != "loop"})
        self.results.multicore = self.phase("multi-core choice", multicore.measure)
        self.results.mapping = self.phase("mapping bench", lambda: stages.mapping_rates(self.o.stage_seconds))
        self.results.xdm = self.phase("xdm validation bench", lambda: stages.xdm_cost(self.o.stage_seconds))
        self.results.avro_stages = self.phase("avro bench", lambda: stages.avro_rates(50_000, 2))
        self.results.loop = self.phase("worker loop bench", lambda: stages.loop_rates(self.o.profile_records))
        self.results.delivery = self.phase("delivery bench", lambda: stages.delivery_table(
            self.emulator.inlet_url("bench-delivery"), self.o.delivery_records, self.o.delivery_in_flight,
            self.o.delivery_batches))  # fmt: skip
        self.results.emulator_stores = self.phase(
            "emulator bench", lambda: [emulator_bench.measure(store, 4.0) for store in ("count", "sqlite")]
        )


_COMPONENTS = (
    ("_queue.SimpleQueue", "waiting (idle threads)"),
    ("recv_into", "waiting (for DCS responses)"),
    ("'consume' of 'cimpl", "kafka consume() (incl. waiting)"),
    ("'acquire' of '_thread", "waiting (idle threads)"),
    ("<mapping ", "mapping"),  # the generated code of each mapping
    ("connector/mapping/", "mapping"),
    ("connector/serde/", "decode"),
    ("orjson.loads", "decode"),
    ("orjson.dumps", "serialise"),
    ("connector/worker.py", "worker loop"),
    ("connector/offsets.py", "worker loop"),
    ("connector/records.py", "worker loop"),
    ("connector/kafka/", "kafka"),
    ("cimpl", "kafka"),
    ("connector/aep/", "delivery (connector)"),
    ("requests/", "HTTP client"),
    ("urllib3/", "HTTP client"),
    ("http/client.py", "HTTP client"),
    ("socket", "HTTP client"),
    ("ssl", "HTTP client"),
    ("prometheus_client", "metrics"),
    ("structlog", "logging"),
    ("threading.py", "threads and queues"),
    ("queue.py", "threads and queues"),
    ("concurrent/futures", "threads and queues"),
    ("acquire", "threads and queues"),
)

def component(filename: str, name: str) -> str:
    text = f"{filename} {name}"
    for needle, label in _COMPONENTS:
        if needle in text:
            return label
    return "other"


def top_functions(path: Path) -> list[Row]:
    """(function, self s, cumulative s, calls, component) of every function in a cProfile dump, by self time."""
    stats = pstats.Stats(str(path))
    rows = []
    for (filename, line, name), (_cc, calls, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        short = filename.split("/site-packages/")[-1].split("/connector/")[-1].split("/lib/python3")[-1]
        where = f"{short}:{line}({name})" if line else name
        rows.append((where, tottime, cumtime, calls, component(filename, name)))
    rows.sort(key=lambda r: r[1], reverse=True)
    return rows


def registry_version() -> str:
    from tests.harness.schema_registry import APICURIO_VERSION

    return APICURIO_VERSION


@contextlib.contextmanager
def services(workdir: Path) -> Iterator[tuple[KafkaBroker, Emulator]]:
    """The broker (child JVM) and the count-mode emulator (child Python process)."""
    with KafkaBroker(heap_max="1g") as broker:
        emulator = Emulator("count", workdir)
        try:
            yield broker, emulator
        finally:
            emulator.stop()


__all__ = ["BenchError", "Options", "Results", "Suite", "services"]
