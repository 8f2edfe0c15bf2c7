"""Run the real worker against a real broker and the emulator, and audit every source record."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import yaml
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer

from connector.app import build_worker, compile_plan
from connector.config import load_settings
from connector.emulator import EmulatorServer
from connector.kafka.dead_letter import H_OFFSET, H_PARTITION, H_TOPIC
from connector.worker import Worker, WorkerOptions
from tests.harness.kafka_broker import committed_offsets, end_offsets

REPO = Path(__file__).resolve().parents[3]
Coord = tuple[str, int, int]


def audit_mapping(topic: str, *, dataset: str = "audit-dataset", **overrides: Any) -> dict[str, Any]:
    """An ExperienceEvent mapping that stamps each record's Kafka coordinates into the XDM entity."""
    spec: dict[str, Any] = {
        "name": f"audit-{topic}",
        "topics": [topic],
        "format": "json",
        "xdm_class": "experienceevent",
        "schema_id": "https://ns.adobe.com/acme/schemas/audit",
        "dataset_id": dataset,
        "tenant": "acme",
        "source_name": "audit",
        "identities": [{"namespace": "Email", "value": "value.email", "primary": True}],
        "fields": {
            "timestamp": "value.ts",
            "eventType": "'test.audit'",
            "_acme.source.topic": "topic",
            "_acme.source.partition": "partition",
            "_acme.source.offset": "offset",
            "_acme.n": "value.n",
        },
    }
    spec.update(overrides)
    return spec


def write_config(
    path: Path,
    *,
    bootstrap: str,
    group: str,
    topics: list[str],
    dead_letter: str,
    inlet_url: str,
    mappings: list[dict[str, Any]],
    batching: dict[str, Any] | None = None,
    delivery: dict[str, Any] | None = None,
    aep: dict[str, Any] | None = None,
    observability: dict[str, Any] | None = None,
) -> Path:
    config = {
        "kafka": {"bootstrap_servers": bootstrap, "group_id": group, "topics": topics},
        "aep": {"inlet_url": inlet_url, **(aep or {})},
        "dead_letter": {"topic": dead_letter},
        "batching": {"linger_ms": 50, "commit_interval_ms": 200, **(batching or {})},
        "delivery": {"initial_backoff_ms": 50, "max_backoff_ms": 1000, **(delivery or {})},
        "observability": {"log_level": "warning", **(observability or {})},
        "mappings": mappings,
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def event(n: int, email: str | None = None) -> bytes:
    return orjson.dumps({"n": n, "email": email or f"user{n % 97}@example.com", "ts": "2024-05-01T10:00:00Z"})


def produce(bootstrap: str, topic: str, values: Iterable[bytes | None], partitions: int = 1) -> int:
    """Produce values round-robin over the partitions; returns the count."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 10, "enable.idempotence": True})
    n = 0
    for i, value in enumerate(values):
        while True:
            try:
                producer.produce(topic, value=value, key=str(i).encode(), partition=i % partitions)
                break
            except BufferError:
                producer.poll(0.1)
        n += 1
    assert producer.flush(30) == 0
    return n


def wait_until(cond: Callable[[], bool], timeout: float, what: str, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


_COORDINATOR_BUSY = frozenset(
    {KafkaError.COORDINATOR_LOAD_IN_PROGRESS, KafkaError.COORDINATOR_NOT_AVAILABLE, KafkaError.NOT_COORDINATOR}
)


def fully_committed(bootstrap: str, group: str, topic: str) -> bool:
    """Committed offsets equal end offsets; a broker still loading its group coordinator means "not yet"."""
    try:
        ends = end_offsets(bootstrap, topic)
        return committed_offsets(bootstrap, group, topic) == ends
    except KafkaException as exc:
        err = exc.args[0] if exc.args else None
        if isinstance(err, KafkaError) and (err.retriable() or err.code() in _COORDINATOR_BUSY):
            return False
        raise


@contextmanager
def worker_thread(config: Path, options: WorkerOptions | None = None) -> Iterator[Worker]:
    """The worker built exactly as `aep-connector run` builds it, running in a thread."""
    plan = compile_plan(load_settings(config))
    worker = build_worker(plan, options=options)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            worker.run()
        except BaseException as exc:  # surfaced to the test below
            errors.append(exc)

    thread = threading.Thread(target=run, name="worker", daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        worker.stop()
        thread.join(60)
        assert not thread.is_alive(), "worker did not stop"
    if errors:
        raise errors[0]


def start_worker_process(config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "connector", "run", "-c", str(config)],
            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO,
        )


def read_topic(bootstrap: str, topic: str, timeout: float = 20.0) -> list[Any]:
    """Every message currently in `topic` (up to its end offsets), with a throwaway group."""
    ends = end_offsets(bootstrap, topic)
    want = sum(ends.values())
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{time.monotonic_ns()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    out: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while len(out) < want and time.monotonic() < deadline:
            for msg in consumer.consume(500, 0.5):
                if msg.error() is None:
                    out.append(msg)
    finally:
        consumer.close()
    assert len(out) == want, f"read {len(out)} of {want} messages from {topic}"
    return out


@dataclass
class Audit:
    produced: set[Coord]
    delivered: dict[Coord, int]  # coordinate -> times received by the emulator
    dead_lettered: dict[Coord, Any]  # coordinate -> the dead-letter message

    @property
    def missing(self) -> set[Coord]:
        return self.produced - set(self.delivered) - set(self.dead_lettered)

    @property
    def duplicates(self) -> int:
        return sum(n - 1 for n in self.delivered.values())


def audit(bootstrap: str, topics: list[str], emulator: EmulatorServer, dead_letter: str) -> Audit:
    """Compare every produced (topic, partition, offset) with the emulator's records and the DLQ."""
    produced: set[Coord] = set()
    for topic in topics:
        for partition, end in end_offsets(bootstrap, topic).items():
            produced.update((topic, partition, off) for off in range(end))
    delivered: dict[Coord, int] = {}
    for row in emulator.store.records():
        src = row["xdmEntity"]["_acme"]["source"]
        coord = (src["topic"], int(src["partition"]), int(src["offset"]))
        delivered[coord] = delivered.get(coord, 0) + 1
    dead: dict[Coord, Any] = {}
    if sum(end_offsets(bootstrap, dead_letter).values()):
        for msg in read_topic(bootstrap, dead_letter):
            h = dict(msg.headers() or [])
            dead[(h[H_TOPIC].decode(), int(h[H_PARTITION]), int(h[H_OFFSET]))] = msg
    return Audit(produced, delivered, dead)
