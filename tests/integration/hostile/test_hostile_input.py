"""Hostile input: every class of bad record is dead-lettered with its own reason; good records keep flowing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connector.emulator import EmulatorServer
from connector.kafka.dead_letter import H_MAPPING, H_MESSAGE, H_OFFSET, H_PARTITION, H_REASON, H_STAGE, H_TOPIC
from tests.integration.hostile.helpers import (
    BIG,
    ORIGIN_HEADER,
    Hostile,
    avro_hostiles,
    avro_serializer,
    json_hostiles,
    json_record,
    produce_with_headers,
)
from tests.integration.pipeline.harness import Coord, audit, audit_mapping, wait_until, worker_thread
from tests.integration.reliability.helpers import INLET, all_committed, make_topics, write_worker_config

pytestmark = pytest.mark.integration



def interleave(goods: Iterator[bytes], hostiles: list[Hostile]) -> tuple[list[bytes | None], dict[int, Hostile]]:
    """good, hostile, good, good, hostile, good, ...: each bad record has good neighbours in its partition."""
    values: list[bytes | None] = []
    where: dict[int, Hostile] = {}
    for h in hostiles:
        values += [next(goods), next(goods)]
        where[len(values)] = h
        values += [h.value, next(goods)]
    return values, where


def test_every_hostile_class_is_dead_lettered_with_its_own_reason(
    kafka_bootstrap: str, schema_registry_url: str, unique_name: str, emulator: EmulatorServer, tmp_path: Path
) -> None:
    """15 classes of bad JSON and Avro: each dead-lettered with its bytes and reason; good neighbours delivered."""
    big = {"max.message.bytes": str(BIG)}
    json_topic, dlq = make_topics(kafka_bootstrap, f"{unique_name}-json", 2, config=big)
    avro_topic, _ = make_topics(kafka_bootstrap, f"{unique_name}-avro", 1)
    serialize = avro_serializer(schema_registry_url, avro_topic)

    json_values, json_bad = interleave((json_record(n, count=n) for n in range(10_000)), json_hostiles())
    avro_goods = (serialize({"n": n, "email": f"a{n}@example.com", "ts": "2024-05-01T10:00:00Z"}) for n in range(999))
    avro_values, avro_bad = interleave(avro_goods, avro_hostiles(serialize({"n": 0, "email": "x@y.z", "ts": "t"})))
    json_coords = produce_with_headers(kafka_bootstrap, json_topic, json_values, partitions=2)
    avro_coords = produce_with_headers(kafka_bootstrap, avro_topic, avro_values, partitions=1)
    expected: dict[Coord, tuple[Hostile, str, int]] = {
        json_coords[i]: (h, f"audit-{json_topic}", i) for i, h in json_bad.items()
    }
    expected |= {avro_coords[i]: (h, f"audit-{avro_topic}", i) for i, h in avro_bad.items()}
    goods = (len(json_values) - len(json_bad)) + (len(avro_values) - len(avro_bad))

    json_mapping = audit_mapping(json_topic)
    json_mapping["fields"] |= {"_acme.count": "to_int(value.count)", "_acme.blob": "value.blob"}
    cfg = write_worker_config(
        tmp_path / "c.yaml", bootstrap=kafka_bootstrap, group=unique_name, topics=[json_topic, avro_topic],
        dead_letter=dlq, inlet_url=emulator.inlet_url(INLET),
        mappings=[json_mapping, audit_mapping(avro_topic, format="avro")],
        producer={"message.max.bytes": BIG}, schema_registry={"url": schema_registry_url},
    )
    with worker_thread(cfg) as worker:
        wait_until(all_committed(kafka_bootstrap, unique_name, json_topic, avro_topic), 90, "all offsets committed")
        assert worker.status.running

    result = audit(kafka_bootstrap, [json_topic, avro_topic], emulator, dlq)
    assert result.missing == set()
    assert len(result.delivered) == goods, "every good record, before and after each bad one, is delivered"
    assert set(result.dead_lettered) == set(expected)
    reasons: dict[str, str] = {}
    for coord, (hostile, mapping, index) in expected.items():
        msg: Any = result.dead_lettered[coord]
        headers = dict(msg.headers())
        assert msg.value() == hostile.value, f"{hostile.name}: the original bytes are kept"
        assert msg.key() == str(index).encode(), f"{hostile.name}: the original key is kept"
        assert (headers[H_TOPIC].decode(), int(headers[H_PARTITION]), int(headers[H_OFFSET])) == coord, hostile.name
        assert headers[H_REASON].decode() == hostile.reason, f"{hostile.name}: {headers[H_MESSAGE]!r}"
        assert headers[H_STAGE].decode() == hostile.stage, hostile.name
        assert headers[H_MAPPING].decode() == mapping, hostile.name
        assert headers[ORIGIN_HEADER[0]] == ORIGIN_HEADER[1], f"{hostile.name}: the original headers are kept"
        assert headers[H_MESSAGE], hostile.name
        reasons[hostile.name] = hostile.reason
    assert len(reasons) >= 12 and len(set(reasons.values())) == len(reasons), reasons
