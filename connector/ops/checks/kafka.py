"""Kafka side of `check --connect`: cluster, topics, group, dead-letter topic (and a write probe).

The dead-letter write probe (`probe_dead_letter`) writes nothing. It sends one record per
partition with the dead-letter producer's own settings (acks=all, idempotence) whose timestamp
lies a day beyond the topic's `message.timestamp.after.max.ms` (Kafka 4's default is one hour).
The broker answers a produce request in this order: authorisation of the topic (a missing
permission is TOPIC_AUTHORIZATION_FAILED), the partition's leader, the in-sync replicas for
acks=all (NOT_ENOUGH_REPLICAS), and only then the record's timestamp: INVALID_TIMESTAMP means
every check the real dead-letter writes meet has passed, and the record was refused, not
written. The record is marked anyway (key `aep-connector-check-probe`, header `__aep.probe`), in
case a broker accepts it. When the topic cannot refuse such a record (LogAppendTime, or no
after.max.ms limit as on brokers before 4.0), nothing is sent and the check says so; the
in-sync replica counts from the metadata are checked in every case.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, ConfigResource  # type: ignore[attr-defined]

from connector.config import Settings
from connector.kafka.settings import dead_letter_producer_config
from connector.observability.librdkafka import client_callbacks, list_topics_polling
from connector.ops.checks import Finding, Status
from connector.ops.clients import connection_config
from connector.ops.lag import LagReader, resolve_topics

PROBE_KEY = b"aep-connector-check-probe"
PROBE_HEADER = "__aep.probe"
_NO_LIMIT = 2**62
_DAY_MS = 86_400_000
PROTOCOLS = {  # what each kafka.group_protocol does (docs/rebalancing.md)
    "auto": "KIP-848, or cooperative-sticky where the broker lacks it",
    "consumer": "KIP-848",
    "classic": "cooperative-sticky unless kafka.consumer names another assignor",
}
_WRITE_AUTH = ("TOPIC_AUTHORIZATION_FAILED", "CLUSTER_AUTHORIZATION_FAILED", "_AUTHENTICATION")


class KafkaChecks:
    def __init__(self, settings: Settings, timeout_s: float = 10.0) -> None:
        self._settings = settings
        self._kafka = settings.kafka
        self._timeout = timeout_s
        bootstrap = settings.kafka.bootstrap_servers
        self._admin = AdminClient({**connection_config(settings.kafka), **client_callbacks("check", bootstrap)})
        self.topics: dict[str, int] = {}  # every topic of the cluster -> partition count, once reached

    def run(self) -> list[Finding]:
        bootstrap = self._kafka.bootstrap_servers
        try:
            meta = list_topics_polling(self._admin, self._timeout)
        except KafkaException as exc:
            return [Finding("kafka", "unreachable", f"{bootstrap}: {exc.args[0].str()} (after {self._timeout:g} s)")]
        self.topics = {n: len(t.partitions) for n, t in meta.topics.items() if t.error is None}
        findings = [
            Finding("kafka", "ok", f"{bootstrap}: {len(meta.brokers)} broker(s), cluster {meta.cluster_id}"),
            *self.subscribed_topics(),
            self.group(),
            *self.dead_letter(meta),
        ]
        self._admin.poll(0)
        return findings

    def subscribed_topics(self) -> list[Finding]:
        out = []
        for topic in self._kafka.topics:
            if topic.startswith("^"):
                matches = resolve_topics([topic], self.topics)
                if matches:
                    listed = ", ".join(f"{t} ({self.topics[t]})" for t in matches)
                    out.append(Finding("topic", "ok", f"{topic} matches {listed}"))
                else:
                    out.append(Finding("topic", "warn", f"{topic} matches no topic yet (new matches are picked up)"))
            elif topic in self.topics:
                out.append(Finding("topic", "ok", f"{topic}: {self.topics[topic]} partition(s)"))
            else:
                out.append(Finding("topic", "config", f"{topic}: does not exist (the worker would read nothing)"))
        return out

    def group(self) -> Finding:
        group = self._kafka.group_id
        try:
            desc = self._admin.describe_consumer_groups([group], request_timeout=self._timeout)[group].result(
                self._timeout
            )
        except KafkaException as exc:
            return Finding("group", "warn", f"{group}: cannot describe the group: {exc.args[0].str()}")
        state = str(desc.state).rsplit(".", 1)[-1]
        protocol = f"kafka.group_protocol {self._kafka.group_protocol} ({PROTOCOLS[self._kafka.group_protocol]})"
        if state == "DEAD":
            detail = f"{group}: no such group yet (created when the first worker joins); {protocol}"
            return Finding("group", "ok", detail)
        kind = str(getattr(desc, "type", "")).rsplit(".", 1)[-1].lower()
        protocol = f"a {kind} group; {protocol}" if kind in ("classic", "consumer") else protocol
        try:
            rows = LagReader(connection_config(self._kafka), self._timeout, admin=self._admin).rows(
                group, self._kafka.topics
            )
            lag = f", lag {sum(r.lag for r in rows)} over {len(rows)} partition(s)"
        except Exception as exc:  # the lag is a bonus; the state is the finding
            lag = f", lag unknown ({type(exc).__name__})"
        return Finding("group", "ok", f"{group}: {state}, {len(desc.members)} member(s){lag}; {protocol}")

    def dead_letter(self, meta: Any) -> list[Finding]:
        dl = self._settings.dead_letter
        topic = meta.topics.get(dl.topic)
        if topic is None or topic.error is not None:
            if dl.create:
                detail = f"{dl.topic}: missing; run creates it ({dl.partitions} partitions)"
                return [Finding("dead-letter", "ok", detail)]
            return [Finding("dead-letter", "config", f"{dl.topic}: does not exist and dead_letter.create is false")]
        partitions = sorted(topic.partitions.values(), key=lambda p: p.id)
        config = self._topic_config(dl.topic)
        findings = [self._replicas(dl.topic, partitions, config)]
        findings.append(probe_dead_letter(self._settings, dl.topic, [p.id for p in partitions], config, self._timeout))
        return findings

    def _topic_config(self, topic: str) -> dict[str, str] | None:
        resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
        try:
            found = self._admin.describe_configs([resource], request_timeout=self._timeout)[resource].result(
                self._timeout
            )
        except KafkaException:
            return None
        return {k: v.value for k, v in found.items()}

    def _replicas(self, topic: str, partitions: Sequence[Any], config: dict[str, str] | None) -> Finding:
        min_isr = int((config or {}).get("min.insync.replicas") or 1)
        short = [
            f"{p.id} (isr {len(p.isrs)}/{min(min_isr, len(p.replicas))})"
            for p in partitions
            if p.leader < 0 or len(p.isrs) < min(min_isr, len(p.replicas))
        ]
        if short:
            return Finding("dead-letter", "unreachable", f"{topic}: partitions without a leader or enough in-sync "
                           f"replicas for acks=all: {', '.join(short)}")  # fmt: skip
        return Finding("dead-letter", "ok", f"{topic}: {len(partitions)} partition(s), leaders and in-sync replicas "
                       f"for acks=all (min.insync.replicas {min_isr})")  # fmt: skip


def probe_dead_letter(
    settings: Settings, topic: str, partitions: Sequence[int], config: dict[str, str] | None, timeout_s: float
) -> Finding:
    """Send one record the broker must refuse to each partition; see the module docstring."""
    if config is None:
        return Finding("dead-letter", "warn", f"{topic}: cannot read its configuration; writability not probed")
    after = int(config.get("message.timestamp.after.max.ms") or _NO_LIMIT)
    if config.get("message.timestamp.type") != "CreateTime" or after >= _NO_LIMIT:
        return Finding("dead-letter", "warn", f"{topic}: writability not probed (the topic accepts any timestamp, "
                       "so a probe would be written)")  # fmt: skip
    conf = dead_letter_producer_config(settings.kafka)  # the acks and idempotence the real writes use
    conf.update(client_callbacks("check", settings.kafka.bootstrap_servers))
    conf["message.timeout.ms"] = int(timeout_s * 1000)
    producer = Producer(conf)
    results: dict[int, KafkaError | None] = {}
    stamp = int(time.time() * 1000) + after + _DAY_MS
    for p in partitions:
        producer.produce(
            topic, key=PROBE_KEY, value=None, partition=p, timestamp=stamp,
            headers=[(PROBE_HEADER, b"check --connect: must be refused (INVALID_TIMESTAMP)")],
            on_delivery=lambda err, msg: results.__setitem__(msg.partition() or 0, err),
        )  # fmt: skip
    producer.flush(timeout_s + 5)
    return _probe_verdict(topic, partitions, results)


def _probe_verdict(topic: str, partitions: Sequence[int], results: dict[int, KafkaError | None]) -> Finding:
    written = [p for p in partitions if p in results and results[p] is None]
    errors = {p: e for p, e in results.items() if e is not None and e.name() != "INVALID_TIMESTAMP"}
    if errors:
        p, err = next(iter(errors.items()))
        status: Status = "config" if err.name() in _WRITE_AUTH else "unreachable"
        return Finding("dead-letter", status, f"{topic}: a write with acks=all fails on partition {p}: {err.str()}")
    if len(results) < len(partitions):
        return Finding("dead-letter", "unreachable", f"{topic}: the write probe got no answer")
    if written:
        return Finding("dead-letter", "warn", f"{topic}: writable, but the broker stored the probe record on "
                       f"partition(s) {written} (key {PROBE_KEY.decode()}, header {PROBE_HEADER})")  # fmt: skip
    return Finding("dead-letter", "ok", f"{topic}: writable with acks=all on {len(partitions)} partition(s) "
                   "(probe refused for its timestamp; nothing written)")  # fmt: skip
