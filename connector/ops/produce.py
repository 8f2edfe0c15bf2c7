"""Feeding a topic for tests and demos: the value encoder a topic's mapping implies, the topic check, the send.

Encoders by the mapping's `format`:
  json        the input line's bytes as given (a JSON array element re-encoded)
  avro        Confluent framing with the registry's id: `--schema FILE` is registered under
              `<topic>-value` (an identical schema gets its existing id), else the subject's
              latest version is used
  avro-plain  schemaless Avro with the mapping's `avro_schema` (or `--schema FILE`)
A topic no mapping reads is written as JSON.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from connector.config import Settings
from connector.errors import ConfigError, RetriableError
from connector.observability.librdkafka import client_callbacks, list_topics_polling
from connector.ops.clients import connection_config
from connector.serde.avro_write import AvroEncodeError, AvroEncoder
from connector.serde.registry_write import RegistryWriter, value_subject

Encoder = Callable[[Any, bytes | None], bytes]


def mapping_for(topic: str, mappings: Sequence[Any]) -> Any | None:
    """The compiled mapping that reads `topic` (a name first, then a ^regex), as the worker routes it."""
    for mp in mappings:
        if topic in mp.topics:
            return mp
    for mp in mappings:
        if any(t.startswith("^") and re.match(t, topic) for t in mp.topics):
            return mp
    return None


def _json(value: Any, raw: bytes | None) -> bytes:
    return raw if raw is not None else orjson.dumps(value)


def value_encoder(
    topic: str, mapping: Any | None, settings: Settings, schema: tuple[str, str] | None = None
) -> tuple[Encoder, str]:
    """(encoder, description) for the topic's format; `schema` is (Avro schema text, where it came from).

    ConfigError when no writer schema can be found; RetriableError when the registry is unreachable.
    """
    fmt = mapping.format if mapping is not None else "json"
    if fmt == "json":
        return _json, "JSON"
    assert mapping is not None
    if fmt == "avro-plain":
        if schema is None:
            path = mapping.avro_schema_path
            schema = (read_schema(path), path.name)
        encoder = _avro(schema[0], None, schema[1])
        return lambda value, _: encoder(value), f"plain Avro ({schema[1]})"
    if not settings.schema_registry.url:
        raise ConfigError([f"mapping {mapping.name}: format avro needs schema_registry.url"])
    registry = RegistryWriter.from_settings(settings.schema_registry)
    subject = value_subject(topic)
    if schema is not None:
        schema_id = registry.register(subject, schema[0])
        text, origin = schema[0], f"{schema[1]} (id {schema_id} under {subject})"
    else:
        latest = registry.latest(subject)
        if latest is None:
            raise ConfigError(
                [f"schema registry {registry.url} has no subject {subject}: give --schema FILE.avsc to register one"]
            )
        text, schema_id = latest.text, latest.schema_id
        origin = f"{subject} v{latest.version} (id {schema_id})"
    encoder = _avro(text, schema_id, origin)
    return lambda value, _: encoder(value), f"Avro, Confluent framing, {origin}"


def read_schema(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"cannot read Avro schema {path}: {exc.strerror}"]) from None


def _avro(text: str, schema_id: int | None, origin: str) -> AvroEncoder:
    try:
        return AvroEncoder(text, schema_id, origin)
    except AvroEncodeError as exc:
        raise ConfigError([str(exc)]) from None


def key_bytes(value: Any, key_field: str | None, key_format: str) -> bytes | None:
    """The Kafka key from `key_field` of the value (JSON-encoded for key_format json); ValueError if missing."""
    if key_field is None:
        return None
    from connector.ops.records_input import lookup_path

    key = lookup_path(value, key_field)
    if key is None:
        raise ValueError(f"key field {key_field!r} is missing or null")
    if key_format == "json":
        return orjson.dumps(key)
    return (key if isinstance(key, str) else orjson.dumps(key).decode()).encode()


class TopicWriter:
    """An admin client and an idempotent acks=all producer for one topic; librdkafka logs as events."""

    def __init__(self, settings: Settings, timeout_s: float = 15.0) -> None:
        conf = connection_config(settings.kafka)
        self.bootstrap = settings.kafka.bootstrap_servers
        self._timeout = timeout_s
        self._admin = AdminClient({**conf, **client_callbacks("admin", self.bootstrap)})
        self._producer = Producer(
            {
                **conf,
                "acks": "all",
                "enable.idempotence": True,
                "linger.ms": 20,
                "partitioner": "murmur2_random",  # the Java client's key -> partition, so keys land alike
                **client_callbacks("producer", self.bootstrap),
            }
        )

    def partitions(self, topic: str) -> int | None:
        """The topic's partition count, None when it does not exist; RetriableError when Kafka is unreachable."""
        try:
            meta = list_topics_polling(self._admin, self._timeout)
        except KafkaException as exc:
            raise RetriableError(f"cannot reach Kafka at {self.bootstrap}: {exc.args[0].str()}") from None
        found = meta.topics.get(topic)
        if found is None or found.error is not None:
            return None
        return len(found.partitions)

    def create(self, topic: str, partitions: int) -> None:
        future = self._admin.create_topics([NewTopic(topic, partitions, -1)], operation_timeout=self._timeout)[topic]
        try:
            future.result(self._timeout)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise ConfigError([f"cannot create topic {topic!r} on {self.bootstrap}: {exc.args[0].str()}"]) from None

    def send(self, topic: str, records: Iterable[tuple[int, bytes | None, bytes]]) -> ProduceReport:
        """Produce (index, key, value) records, wait for every acknowledgement, say what became of each."""
        report = ProduceReport()

        def delivered(index: int) -> Callable[[KafkaError | None, Any], None]:
            def on_delivery(err: KafkaError | None, _: Any) -> None:
                if err is None:
                    report.delivered += 1
                else:
                    report.failures.append((index, f"not written: {err.str()}"))

            return on_delivery

        for index, key, value in records:
            while True:
                try:
                    self._producer.produce(topic, value=value, key=key, on_delivery=delivered(index))
                    break
                except BufferError:
                    self._producer.poll(0.1)
                except KafkaException as exc:
                    report.failures.append((index, f"refused: {exc.args[0].str()}"))
                    break
            self._producer.poll(0)
        left = self._producer.flush(60)
        if left:
            report.failures.append((-1, f"{left} record(s) not acknowledged within 60 s"))
        self._admin.poll(0)
        return report


@dataclass(slots=True)
class ProduceReport:
    delivered: int = 0
    failures: list[tuple[int, str]] = field(default_factory=list)
