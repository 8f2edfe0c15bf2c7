"""Rebalance benchmark: scale a consumer group 2 -> 4 -> 2 workers while records flow, per group protocol.

    make bench-rebalance                       # or:
    .venv/bin/python -m bench.rebalance [--records 100000] [--rate 2500] [--protocols eager,...]

For each protocol a fresh topic (12 partitions) and group on one real Kafka broker (the test
harness's, Kafka 4.1.2 KRaft). A producer writes `records` ~1 KB loyalty events at `rate`/s; two
`aep-connector run` processes start; at 20% of the records delivered two more join, at 55% those two
get SIGTERM (a graceful leave, as a Kubernetes scale-down does). A stub DCS inlet on loopback
(answers 200 to every batch after `--latency-ms`, DCS's round trip) records when each message
arrived and its `header.msgId` (topic/partition/offset of the Kafka record). Reported per protocol:

    duplicates              messages received more than once (by msgId)
    no delivery at all      the longest time in which the inlet received nothing, first to last arrival
    partitions stalled      partitions that received nothing for 1 s or more while records flowed,
                            and the sum of those stretches (partition-seconds)
    lost                    records produced and never received (must be 0; exit 1 otherwise)

Protocols: eager (classic, `range`: every member gives up every partition at each rebalance),
cooperative (classic, cooperative-sticky, KIP-429), consumer (KIP-848). Not part of `make test`:
the figures depend on the machine's load, so they are printed, never asserted (only lost == 0).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import yaml
from confluent_kafka import Producer

from bench.workload import json_event, json_mapping, write_config
from tests.harness.kafka_broker import KafkaBroker, committed_offsets, create_topic, end_offsets, set_group_config

PROTOCOLS: dict[str, tuple[str, dict[str, Any]]] = {
    # name -> (kafka.group_protocol, kafka.consumer passthrough); heartbeats at the defaults unless -hb1s
    "eager": ("classic", {"partition.assignment.strategy": "range"}),
    "cooperative": ("classic", {}),
    "consumer": ("consumer", {}),
    "cooperative-hb1s": ("classic", {"heartbeat.interval.ms": 1000}),
    "consumer-hb1s": ("consumer", {}),  # the group's consumer.heartbeat.interval.ms set to 1 s on the broker
}
PARTITIONS = 12
STALL_S = 1.0  # a partition that gets nothing for this long is stalled (it normally gets a batch every ~0.1 s)


class Inlet:
    """A DCS batch inlet stub on loopback: 200 for every batch, each message's arrival time kept."""

    def __init__(self, latency_s: float) -> None:
        self.arrivals: list[tuple[float, str]] = []  # (monotonic time, msgId)
        self._lock = threading.Lock()
        inlet = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                body = orjson.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                now = time.monotonic()
                messages = body.get("messages", [body])
                with inlet._lock:
                    inlet.arrivals.extend((now, m["header"]["msgId"]) for m in messages)
                time.sleep(latency_s)  # DCS's round trip from the worker's side
                out = orjson.dumps({"inletId": "bench", "batchId": "b", "receivedTimeMs": int(time.time() * 1000),
                                    "responses": [{"xactionId": f"bench:{i}"} for i in range(len(messages))]})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_port}/collection/bench"

    def snapshot(self) -> list[tuple[float, str]]:
        with self._lock:
            return list(self.arrivals)

    def distinct(self, prefix: str) -> int:
        with self._lock:
            return len({m for _, m in self.arrivals if m.startswith(prefix)})

    def close(self) -> None:
        self._server.shutdown()


@dataclass
class Result:
    scenario: str
    protocol: str
    produced: int
    received: int
    distinct: int
    taken_from_stayers: int  # partitions revoked from the two workers that run throughout, 2 -> 4 -> 2
    longest_gap_s: float
    stalled_partitions: int  # partitions that went STALL_S or longer without a delivery
    stall_s: float  # the sum over partitions of such stretches
    seconds: float

    @property
    def duplicates(self) -> int:
        return self.received - self.distinct

    @property
    def lost(self) -> int:
        return self.produced - self.distinct


def produce_at_rate(bootstrap: str, topic: str, records: int, rate: float, done: threading.Event) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "enable.idempotence": True, "log_level": 4})
    started = time.monotonic()
    for i in range(records):
        due = started + i / rate
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        while True:
            try:
                producer.produce(topic, value=json_event(i), key=str(i).encode(), partition=i % PARTITIONS)
                break
            except BufferError:
                producer.poll(0.05)
        if i % 500 == 0:
            producer.poll(0)
    if producer.flush(60):
        raise RuntimeError("producer: records left unacknowledged")
    done.set()


def wait_for(cond: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.1)


def longest_gap(times: Sequence[float], start: float = float("-inf"), end: float = float("inf")) -> float:
    """The longest time with no arrival, between consecutive arrivals that fall in [start, end]."""
    inside = [t for t in times if start <= t <= end]
    return max((b - a for a, b in itertools.pairwise(inside)), default=0.0)


def partition_stalls(mine: Sequence[tuple[float, str]]) -> tuple[int, float]:
    """(partitions, seconds): stretches of STALL_S or more between two arrivals of one partition."""
    by_partition: dict[str, list[float]] = {}
    for t, msg_id in mine:
        by_partition.setdefault(msg_id.rsplit("/", 2)[1], []).append(t)
    stalled, total = 0, 0.0
    for times in by_partition.values():
        times.sort()
        gaps = [b - a for a, b in itertools.pairwise(times) if b - a >= STALL_S]
        stalled += bool(gaps)
        total += sum(gaps)
    return stalled, total


def spawn(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "connector", "run", "-c", str(config)],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip


def stop(procs: Sequence[subprocess.Popen[bytes]], timeout_s: float = 60.0) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout_s)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(10)


def revocations(log: Path, after_wall: float, before_wall: float) -> int:
    """Partitions named by the worker's partitions_revoked lines logged between the two times."""
    n = 0
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if '"partitions_revoked"' not in line or not line.startswith("{"):
            continue
        event = json.loads(line)
        when = datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")).timestamp()
        if event.get("event") == "partitions_revoked" and after_wall <= when < before_wall:
            n += len(event["partitions"])
    return n


def worker_config(path: Path, bootstrap: str, group: str, topic: str, *, inlet_url: str, protocol: str) -> Path:
    group_protocol, consumer = PROTOCOLS[protocol]
    write_config(
        path, bootstrap=bootstrap, group=group, topics=[topic], inlet_url=inlet_url, mappings=[json_mapping(topic)],
        batching={"max_records": 200, "linger_ms": 50, "commit_interval_ms": 1000}, consumer=consumer,
    )  # fmt: skip
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw["kafka"]["group_protocol"] = group_protocol
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def run_one(
    broker: KafkaBroker, inlet: Inlet, protocol: str, args: argparse.Namespace, workdir: Path, *, scenario: str
) -> Result:
    bootstrap = broker.bootstrap
    name = f"rebalance-{scenario}-{protocol}-{int(time.time())}"
    topic = f"{name}-src"
    create_topic(bootstrap, topic, PARTITIONS)
    create_topic(bootstrap, f"{name}-dlq", 1)
    if protocol == "consumer-hb1s":
        set_group_config(bootstrap, name, {"consumer.heartbeat.interval.ms": "1000"})  # the harness allows it
    config = worker_config(workdir / f"{name}.yaml", bootstrap, name, topic, inlet_url=inlet.url, protocol=protocol)
    prefix = f"{topic}/"
    produced = threading.Event()
    rate = args.rate if scenario == "flowing" else float("inf")
    producer = threading.Thread(
        target=produce_at_rate, args=(bootstrap, topic, args.records, rate, produced), daemon=True
    )
    if scenario == "backlog":  # the group is behind when it scales (what a lag-based autoscaler reacts to)
        producer.start()
        wait_for(produced.is_set, 600, "the backlog")
    logs = [workdir / f"{name}-w{i}.log" for i in (1, 2, 3, 4)]
    workers = [spawn(config, log) for log in logs[:2]]
    started, scale_up_wall = time.monotonic(), time.time()
    try:
        if scenario == "flowing":
            time.sleep(args.warmup_s)  # the first two workers join before records flow
            producer.start()
        wait_for(lambda: inlet.distinct(prefix) >= args.records * 0.20, 600, "20% delivered")
        scale_up_wall = time.time()
        print(f"  [{protocol}] 2 -> 4 workers at {time.monotonic() - started:.1f} s", flush=True)
        workers += [spawn(config, log) for log in logs[2:]]
        wait_for(lambda: inlet.distinct(prefix) >= args.records * 0.55, 600, "55% delivered")
        scale_down = time.monotonic()
        print(f"  [{protocol}] 4 -> 2 workers at {scale_down - started:.1f} s", flush=True)
        stop(workers[2:])
        wait_for(produced.is_set, 600, "the producer")
        wait_for(lambda: inlet.distinct(prefix) >= args.records, args.drain_s, "every record delivered")
        ends = end_offsets(bootstrap, topic)
        wait_for(lambda: committed_offsets(bootstrap, name, topic) == ends, 120, "offsets committed")
    except RuntimeError as exc:
        print(f"  [{protocol}] {exc}", flush=True)
    finally:
        final_stop = time.time()
        stop(workers)
    seconds = time.monotonic() - started
    mine = [(t, m) for t, m in inlet.snapshot() if m.startswith(prefix)]
    times = sorted(t for t, _ in mine)
    counts = Counter(m for _, m in mine)
    stalled, stall_s = partition_stalls(mine)
    taken = sum(revocations(log, scale_up_wall, final_stop) for log in logs[:2])
    return Result(
        scenario, protocol, args.records, len(mine), len(counts), taken, longest_gap(times), stalled, stall_s, seconds
    )


def table(results: Sequence[Result]) -> str:
    header = ("scenario", "protocol", "produced", "duplicates", "lost", "revoked from staying workers",
              "no delivery at all, longest s", f"partitions stalled >= {STALL_S:g} s", "stalled partition-s", "run s")
    rows = [header] + [
        (r.scenario, r.protocol, str(r.produced), str(r.duplicates), str(r.lost), str(r.taken_from_stayers),
         f"{r.longest_gap_s:.2f}", f"{r.stalled_partitions}/{PARTITIONS}", f"{r.stall_s:.1f}", f"{r.seconds:.0f}")
        for r in results
    ]  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=2_500.0, help="records produced per second")
    parser.add_argument("--protocols", default=",".join(PROTOCOLS))
    parser.add_argument("--scenarios", default="flowing,backlog",
                        help="flowing: produced at --rate while the group keeps up; backlog: all produced first")
    parser.add_argument("--warmup-s", type=float, default=8.0, help="wait for the first two workers to join")
    parser.add_argument("--drain-s", type=float, default=300.0)
    parser.add_argument("--latency-ms", type=float, default=150.0, help="the stub inlet's answer time (DCS round trip)")
    args = parser.parse_args(argv)
    protocols = [p.strip() for p in args.protocols.split(",") if p.strip()]
    unknown = [p for p in protocols if p not in PROTOCOLS]
    if unknown:
        parser.error(f"unknown protocol(s) {unknown}; choose from {', '.join(PROTOCOLS)}")
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    if set(scenarios) - {"flowing", "backlog"}:
        parser.error("scenarios: flowing, backlog")
    results = []
    with tempfile.TemporaryDirectory(prefix="rebalance-bench-") as tmp, KafkaBroker() as broker:
        inlet = Inlet(args.latency_ms / 1000.0)
        try:
            for scenario in scenarios:
                for protocol in protocols:
                    print(f"{scenario} {protocol}: {args.records} records, 12 partitions, 2 -> 4 -> 2 workers",
                          flush=True)  # fmt: skip
                    results.append(run_one(broker, inlet, protocol, args, Path(tmp), scenario=scenario))
        finally:
            inlet.close()
    print()
    print(f"{os.cpu_count()} CPUs; records={args.records} rate={args.rate:g}/s partitions={PARTITIONS} "
          f"inlet latency={args.latency_ms:g} ms")  # fmt: skip
    print(table(results))
    return 1 if any(r.lost for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
