"""Reliability-suite pieces on top of the pipeline harness: config variants, duplicate bounds, kill accounting."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from connector.emulator import EmulatorServer
from tests.harness.kafka_broker import committed_offsets, create_topic, set_group_config
from tests.integration.pipeline.harness import Audit, Coord, fully_committed, write_config

SOAK = os.environ.get("AEP_SOAK") == "1"
soak_only = pytest.mark.slow  # deselected, and reported as not run, unless AEP_SOAK=1 (tests/conftest.py)
INLET = "9b0cb233972f3b0092992284c7353f5eead496218e8441a79b25e9421ea127f5"

# A killed member is evicted after its session times out; 6 s is the classic protocol's minimum.
# Under KIP-848 (the default kafka.group_protocol) the broker decides it: see fast_group().
FAST_GROUP = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 500}


def fast_group(bootstrap: str, group: str) -> None:
    """Evict a killed member of `group` after 6 s under the KIP-848 protocol, as FAST_GROUP does for classic.

    The session timeout and heartbeat interval are the broker's (per group: KIP-848 group configs);
    the test broker's minimums allow these values (tests/harness/kafka_broker.py).
    """
    set_group_config(bootstrap, group, {"consumer.session.timeout.ms": "6000", "consumer.heartbeat.interval.ms": "500"})


def make_topics(bootstrap: str, name: str, partitions: int, config: dict[str, str] | None = None) -> tuple[str, str]:
    """A source topic with `partitions` partitions and its one-partition dead-letter topic."""
    topic, dlq = f"{name}-src", f"{name}-dlq"
    create_topic(bootstrap, topic, partitions, config=config)
    create_topic(bootstrap, dlq, 1, config=config)
    return topic, dlq


def write_worker_config(
    path: Path,
    *,
    consumer: dict[str, Any] | None = None,
    producer: dict[str, Any] | None = None,
    schema_registry: dict[str, Any] | None = None,
    group_protocol: str | None = None,
    **kwargs: Any,
) -> Path:
    """`harness.write_config` plus librdkafka passthrough (kafka.consumer/producer), kafka.group_protocol
    and schema_registry."""
    write_config(path, **kwargs)
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    if consumer:
        config["kafka"]["consumer"] = consumer
    if group_protocol:
        config["kafka"]["group_protocol"] = group_protocol
    if producer:
        config["kafka"]["producer"] = producer
    if schema_registry:
        config["schema_registry"] = schema_registry
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


@dataclass(frozen=True, slots=True)
class DuplicateWindow:
    """How many records one kill or rebalance may deliver twice, from the worker's config.

    in_flight: every lane may have a request that DCS stored but whose answer the worker never applied.
    between_commits: what can become final after the last commit that landed. Delivery is capped at
    `messages_per_s`, whose token bucket holds at most one second of tokens, so in the commit interval
    plus that burst at most `messages_per_s * (commit_interval + 1 s)` records are accepted.
    """

    max_in_flight: int
    max_records: int
    commit_interval_ms: int
    messages_per_s: int

    @property
    def in_flight(self) -> int:
        return self.max_in_flight * self.max_records

    @property
    def between_commits(self) -> int:
        return int(self.messages_per_s * (self.commit_interval_ms / 1000.0 + 1.0))

    @property
    def per_disruption(self) -> int:
        return self.in_flight + self.between_commits

    def batching(self, **extra: Any) -> dict[str, Any]:
        return {
            "max_records": self.max_records,
            "max_in_flight": self.max_in_flight,
            "commit_interval_ms": self.commit_interval_ms,
            "linger_ms": 20,
            **extra,
        }

    def delivery(self, **extra: Any) -> dict[str, Any]:
        return {"messages_per_s": self.messages_per_s, "initial_backoff_ms": 50, "max_backoff_ms": 1000, **extra}


def all_committed(bootstrap: str, group: str, *topics: str) -> Callable[[], bool]:
    """A `wait_until` condition: `harness.fully_committed` for every topic."""
    return lambda: all(fully_committed(bootstrap, group, topic) for topic in topics)


def delivered_coords(emulator: EmulatorServer) -> list[Coord]:
    """The (topic, partition, offset) of every record the emulator accepted, in arrival order."""
    out: list[Coord] = []
    for row in emulator.store.records():
        src = row["xdmEntity"]["_acme"]["source"]
        out.append((src["topic"], int(src["partition"]), int(src["offset"])))
    return out


def distinct_delivered(emulator: EmulatorServer, topic: str) -> int:
    return len({c for c in delivered_coords(emulator) if c[0] == topic})


def delivered_at_least(emulator: EmulatorServer, topic: str, n: int) -> Callable[[], bool]:
    """A `wait_until` condition: at least `n` distinct records of `topic` reached the emulator."""
    return lambda: distinct_delivered(emulator, topic) >= n


def log_contains(path: Path, text: bytes) -> Callable[[], bool]:
    return lambda: text in path.read_bytes()


def delivered_uncommitted(emulator: EmulatorServer, bootstrap: str, group: str, topic: str) -> set[Coord]:
    """The records DCS already holds at or past the group's committed offsets: a restart sends them again."""
    committed = committed_offsets(bootstrap, group, topic)
    return {c for c in delivered_coords(emulator) if c[0] == topic and c[2] >= committed.get(c[1], 0)}


def report_duplicates(label: str, result: Audit, bound: int) -> None:
    """Print the duplicate count (at-least-once is expected to produce some) and the most repeated records."""
    repeated = Counter({c: n - 1 for c, n in result.delivered.items() if n > 1})
    print(
        f"[{label}] produced={len(result.produced)} delivered={len(result.delivered)} "
        f"dead-lettered={len(result.dead_lettered)} duplicates={result.duplicates} (bound {bound}); "
        f"most repeated: {repeated.most_common(3)}"
    )


def terminate(proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """SIGTERM a worker process (graceful shutdown) and wait for it; SIGKILL if it hangs."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
        raise AssertionError(f"worker pid {proc.pid} ignored SIGTERM for {timeout}s") from None


def kill_9(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL a worker process and give requests it already handed to the emulator time to land."""
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    time.sleep(0.5)


def log_tail(path: Path, chars: int = 4000) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-chars:]
    except FileNotFoundError:
        return ""
