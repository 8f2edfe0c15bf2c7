"""Consumer lag of a group: per partition (topic, partition, committed, end, lag).

Shared by the lag gauges (connector.observability.lag) and `aep-connector lag`. Nothing joins
the group: the committed offsets are read with a Consumer that carries the group id but never
subscribes (`committed()`), the topics' log-end offsets with an AdminClient (`list_offsets`
latest) and, for partitions without a commit, their log-start offsets (a group with
`auto.offset.reset=earliest` will read from there, so that is its lag).

Not AdminClient.list_consumer_group_offsets: librdkafka dereferences a NULL consumer group
when that call meets NOT_COORDINATOR (librdkafka issue #5040), which a fresh broker answers while
__consumer_offsets loads, and the whole process dies with SIGSEGV.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, KafkaException
from confluent_kafka import TopicPartition as KafkaTP
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._listoffsets import OffsetSpec  # confluent_kafka.admin re-exports it untyped

from connector.config import KafkaSettings
from connector.errors import RetriableError
from connector.observability.librdkafka import client_callbacks
from connector.ops.clients import connection_config

Key = tuple[str, int]
CommittedReader = Callable[[str, Sequence[Key]], dict[Key, int]]


@dataclass(frozen=True, slots=True)
class LagRow:
    topic: str
    partition: int
    committed: int | None  # None: the group never committed this partition
    end: int
    lag: int


def resolve_topics(patterns: Iterable[str], available: Iterable[str]) -> list[str]:
    """Topic names for config entries: a name as is, a ^regex matched in full against `available`."""
    names = set(available)
    out: set[str] = set()
    for pattern in patterns:
        if pattern.startswith("^"):
            rx = re.compile(pattern)
            out.update(n for n in names if rx.fullmatch(n) and not n.startswith("__"))
        else:
            out.add(pattern)
    return sorted(out)


def missing_topics(patterns: Iterable[str], available: Iterable[str]) -> list[str]:
    """Config entries that name no existing topic: a missing name, or a ^regex that matches none."""
    names = set(available)
    out: list[str] = []
    for pattern in patterns:
        if pattern.startswith("^"):
            if not resolve_topics([pattern], names):
                out.append(pattern)
        elif pattern not in names:
            out.append(pattern)
    return out


def compute_rows(
    partitions: Mapping[str, Sequence[int]],
    committed: Mapping[Key, int],
    end: Mapping[Key, int],
    start: Mapping[Key, int],
) -> list[LagRow]:
    """One row per partition; lag counts from the commit, or from the log start without one."""
    rows: list[LagRow] = []
    for topic in sorted(partitions):
        for p in sorted(partitions[topic]):
            key = (topic, p)
            if key not in end:
                continue
            high = end[key]
            done = committed.get(key)
            base = done if done is not None else start.get(key, 0)
            rows.append(LagRow(topic, p, done, high, max(0, high - base)))
    return rows


def total_lag(rows: Iterable[LagRow]) -> int:
    return sum(r.lag for r in rows)


class ConsumerCommitted:
    """A group's committed offsets through a Consumer with that group id that never subscribes."""

    def __init__(self, config: Mapping[str, Any], timeout_s: float) -> None:
        self._config = dict(config)
        self._timeout = timeout_s
        self._consumers: dict[str, Any] = {}

    def __call__(self, group: str, keys: Sequence[Key]) -> dict[Key, int]:
        if not keys:
            return {}
        consumer = self._consumers.get(group)
        if consumer is None:
            conf = {**self._config, "group.id": group, "enable.auto.commit": False, "log_level": 3}
            conf.update(client_callbacks("lag_reader", str(conf.get("bootstrap.servers", ""))))
            consumer = self._consumers[group] = Consumer(conf)
        try:
            parts = consumer.committed([KafkaTP(t, p) for t, p in keys], timeout=self._timeout)
        finally:
            consumer.poll(0)  # serves the log callbacks (never joins the group: nothing is subscribed)
        return {(tp.topic, tp.partition): tp.offset for tp in parts if tp.error is None and tp.offset >= 0}

    def close(self) -> None:
        for consumer in self._consumers.values():
            consumer.close()
        self._consumers.clear()


class LagReader:
    """Reads a group's lag; its clients are reused across calls (thread-compatible, not shared)."""

    def __init__(
        self,
        admin_config: Mapping[str, Any],
        timeout_s: float = 10.0,
        admin: Any = None,
        committed: CommittedReader | None = None,
    ) -> None:
        if admin is None:
            bootstrap = str(admin_config.get("bootstrap.servers", ""))
            admin = AdminClient({**admin_config, **client_callbacks("lag_reader", bootstrap)})
        self._admin = admin
        self._timeout = timeout_s
        self.missing: list[str] = []  # subscribed names / ^regexes that matched no topic at the last rows()
        self._committed = committed if committed is not None else ConsumerCommitted(admin_config, timeout_s)

    @classmethod
    def for_kafka(cls, kafka: KafkaSettings, timeout_s: float = 10.0) -> LagReader:
        return cls(connection_config(kafka), timeout_s)

    def rows(self, group: str, topics: Iterable[str] = ()) -> list[LagRow]:
        """Lag of `group` on every partition of `topics` (names or ^regexes); of all topics when none given."""
        try:
            available = self._partitions()
            names = list(topics)
            self.missing = missing_topics(names, available)
            wanted = set(resolve_topics(names, available)) if names else set(available)
            parts = {t: available[t] for t in wanted if t in available}
            keys = [(t, p) for t, ps in parts.items() for p in ps]
            committed = self._committed(group, keys)
            if not names:  # any group: only the partitions it has committed
                keys = [k for k in keys if k in committed]
                parts = {t: [p for p in ps if (t, p) in committed] for t, ps in parts.items()}
            end = self._offsets(keys, OffsetSpec.latest())  # type: ignore[no-untyped-call]
            start = self._offsets([k for k in keys if k not in committed], OffsetSpec.earliest())  # type: ignore[no-untyped-call]
        except KafkaException as exc:
            raise RetriableError(f"cannot read the lag of group {group!r}: {exc}") from None
        finally:
            self._admin.poll(0)  # serves the log callbacks
        return compute_rows(parts, committed, end, start)

    def _partitions(self) -> dict[str, list[int]]:
        meta = self._admin.list_topics(timeout=self._timeout)
        return {
            name: sorted(t.partitions)
            for name, t in meta.topics.items()
            if t.error is None and not name.startswith("__")
        }

    def _offsets(self, keys: Sequence[Key], spec: OffsetSpec) -> dict[Key, int]:
        if not keys:
            return {}
        request = {KafkaTP(t, p): spec for t, p in keys}
        futures = self._admin.list_offsets(request, request_timeout=self._timeout)
        return {(tp.topic, tp.partition): f.result(timeout=self._timeout).offset for tp, f in futures.items()}


def format_table(group: str, rows: Sequence[LagRow], missing: Sequence[str] = ()) -> str:
    """A fixed-width table with a total line (and the subscribed topics that do not exist), for the terminal."""
    header = ("TOPIC", "PARTITION", "COMMITTED", "END", "LAG")
    body = [
        (r.topic, str(r.partition), "-" if r.committed is None else str(r.committed), str(r.end), str(r.lag))
        for r in rows
    ]
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        return "  ".join([first, *(c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))])

    out = [f"group {group}", line(header), *(line(b) for b in body)]
    out.append(f"total lag {total_lag(rows)} over {len(rows)} partition(s)")
    for topic in missing:
        what = "matches no topic" if topic.startswith("^") else "does not exist"
        out.append(f"MISSING {topic}: subscribed in kafka.topics but {what} (the worker reads nothing from it)")
    return "\n".join(out)


def as_json(group: str, rows: Sequence[LagRow], missing: Sequence[str] = ()) -> dict[str, Any]:
    return {
        "group": group,
        "total_lag": total_lag(rows),
        "missing_topics": list(missing),
        "partitions": [
            {"topic": r.topic, "partition": r.partition, "committed": r.committed, "end": r.end, "lag": r.lag}
            for r in rows
        ],
    }
