"""Delivery behaviour through the real worker, a real broker and the emulator over loopback HTTP."""

from __future__ import annotations

import os
import time
from pathlib import Path

import orjson
import pytest
import requests
from confluent_kafka import Producer

from connector.emulator import EmulatorOptions, EmulatorServer
from connector.emulator.ims import TOKENS
from connector.kafka.dead_letter import H_HTTP_STATUS, H_REASON
from tests.harness.kafka_broker import create_topic
from tests.integration.pipeline.harness import (
    audit,
    audit_mapping,
    event,
    fully_committed,
    produce,
    start_worker_process,
    wait_until,
    worker_thread,
    write_config,
)

pytestmark = pytest.mark.integration
INLET = "667b41cf2dbf3509927da1ebf7e93c20afa727cc8d8373e51da18b62e1b985ec"



def _topics(bootstrap: str, name: str, partitions: int = 2, config: dict[str, str] | None = None) -> tuple[str, str]:
    topic, dlq = f"{name}-src", f"{name}-dlq"
    create_topic(bootstrap, topic, partitions, config=config)
    create_topic(bootstrap, dlq, 1, config={"max.message.bytes": "3000000"})
    return topic, dlq


def test_requests_stay_under_1mb_and_an_oversized_record_is_dead_lettered(
    kafka_bootstrap: str, unique_name: str, emulator: EmulatorServer, tmp_path: Path
) -> None:
    """No request body exceeds 1 MB (DCS would answer 413); a 1.2 MB record is dead-lettered as too large."""
    topic, dlq = _topics(kafka_bootstrap, unique_name, config={"max.message.bytes": "3000000"})
    pad = "p" * 90_000
    values = [orjson.dumps({"n": i, "email": "a@b.co", "ts": "2024-05-01T10:00:00Z", "pad": pad}) for i in range(60)]
    values[31] = orjson.dumps({"n": 31, "email": "a@b.co", "ts": "2024-05-01T10:00:00Z", "pad": "x" * 1_200_000})
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "message.max.bytes": 3_000_000})
    for i, v in enumerate(values):
        producer.produce(topic, value=v, key=str(i).encode(), partition=i % 2)
    assert producer.flush(30) == 0
    mapping = audit_mapping(topic)
    mapping["fields"]["_acme.pad"] = "value.pad"
    cfg = write_config(
        tmp_path / "c.yaml", bootstrap=kafka_bootstrap, group=unique_name, topics=[topic], dead_letter=dlq,
        inlet_url=emulator.inlet_url(INLET), mappings=[mapping],
        batching={"max_bytes": 1_000_000, "max_records": 500, "linger_ms": 200},
    )
    with worker_thread(cfg):
        wait_until(lambda: fully_committed(kafka_bootstrap, unique_name, topic), 90, "all offsets committed")
    stats = emulator.store.stats()["totals"]
    assert "413" not in stats["requests_by_status"], stats
    assert stats["requests"] < 60, "records were batched, not sent one by one"
    result = audit(kafka_bootstrap, [topic], emulator, dlq)
    assert result.missing == set()
    [(coord, msg)] = result.dead_lettered.items()
    assert coord == (topic, 1, 15)
    assert dict(msg.headers())[H_REASON] == b"too-large"
    assert len(msg.value()) > 1_200_000, "the original bytes are kept"
    assert len(result.delivered) == 59 and result.duplicates == 0


def test_429_with_retry_after_is_honoured_before_the_next_attempt(
    kafka_bootstrap: str, unique_name: str, emulator: EmulatorServer, tmp_path: Path
) -> None:
    """After a 429 with Retry-After: 2 the next attempt comes no earlier than 2 s later; nothing is lost."""
    topic, dlq = _topics(kafka_bootstrap, unique_name, partitions=1)
    produce(kafka_bootstrap, topic, (event(i) for i in range(50)))
    requests.post(
        f"{emulator.url}/emulator/faults",
        json={"rules": [{"kind": "status", "status": 429, "sequence": [True], "retry_after": 2}]},
        timeout=5,
    ).raise_for_status()
    cfg = write_config(
        tmp_path / "c.yaml", bootstrap=kafka_bootstrap, group=unique_name, topics=[topic], dead_letter=dlq,
        inlet_url=emulator.inlet_url(INLET), mappings=[audit_mapping(topic)],
        delivery={"initial_backoff_ms": 10, "max_backoff_ms": 100},
    )
    with worker_thread(cfg):
        wait_until(lambda: emulator.store.stats()["faults"].get("status_429", 0) == 1, 60, "the 429", 0.01)
        throttled_at = time.monotonic()
        wait_until(lambda: emulator.store.stats()["totals"]["accepted"] > 0, 30, "the retry", 0.01)
        retried_after = time.monotonic() - throttled_at
        wait_until(lambda: fully_committed(kafka_bootstrap, unique_name, topic), 30, "all offsets committed")
    assert retried_after >= 1.95, f"retried {retried_after:.2f}s after a 429 with Retry-After: 2"
    result = audit(kafka_bootstrap, [topic], emulator, dlq)
    assert result.missing == set() and result.dead_lettered == {}


def test_whole_batch_400_caused_by_one_record_dead_letters_only_that_record(
    kafka_bootstrap: str, unique_name: str, emulator: EmulatorServer, tmp_path: Path
) -> None:
    """A request-level 400 triggered by one record is bisected down to that record; the rest is delivered once."""
    topic, dlq = _topics(kafka_bootstrap, unique_name, partitions=1)
    values = [event(i) for i in range(400)]
    values[123] = orjson.dumps({"n": 123, "email": "POISON@example.com", "ts": "2024-05-01T10:00:00Z"})
    produce(kafka_bootstrap, topic, values)
    emulator.faults.set_rules([{"kind": "status", "status": 400, "body_contains": "POISON"}])
    cfg = write_config(
        tmp_path / "c.yaml", bootstrap=kafka_bootstrap, group=unique_name, topics=[topic], dead_letter=dlq,
        inlet_url=emulator.inlet_url(INLET), mappings=[audit_mapping(topic)],
        batching={"max_records": 200, "linger_ms": 200},
    )
    with worker_thread(cfg):
        wait_until(lambda: fully_committed(kafka_bootstrap, unique_name, topic), 60, "all offsets committed")
    result = audit(kafka_bootstrap, [topic], emulator, dlq)
    assert result.missing == set()
    assert list(result.dead_lettered) == [(topic, 0, 123)]
    h = dict(result.dead_lettered[(topic, 0, 123)].headers())
    assert h[H_HTTP_STATUS] == b"400" and h[H_REASON].startswith(b"aep-rejected")
    assert len(result.delivered) == 399 and result.duplicates == 0


def test_authenticated_inlet_refreshes_tokens_and_never_logs_secrets(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    """Tokens come from the emulator's IMS, are refreshed before expiry and after a forced 401; nothing leaks."""
    server = EmulatorServer(port=0, store="memory", options=EmulatorOptions(token_ttl_s=6)).start()
    secret = "s3cr3t-" + os.urandom(6).hex()
    try:
        server.add_client("kafka-connector", secret)
        inlet = server.create_inlet(authenticated=True)
        topic, dlq = _topics(kafka_bootstrap, unique_name, partitions=2)
        cfg = write_config(
            tmp_path / "c.yaml", bootstrap=kafka_bootstrap, group=unique_name, topics=[topic], dead_letter=dlq,
            inlet_url=server.inlet_url(inlet), mappings=[audit_mapping(topic)],
            aep={"auth": {"enabled": True, "token_url": f"{server.url}/ims/token/v3", "client_id": "kafka-connector",
                          "client_secret": "${TEST_AEP_SECRET}", "refresh_margin_s": 3}},
            observability={"log_level": "debug", "log_format": "json"},
        )
        log = tmp_path / "worker.log"
        os.environ["TEST_AEP_SECRET"] = secret
        proc = start_worker_process(cfg, log)
        try:
            produce(kafka_bootstrap, topic, (event(i) for i in range(1000)), partitions=2)
            wait_until(lambda: len(server.store.records()) >= 1000, 60, "first wave delivered")
            time.sleep(4.0)  # past ttl - margin: the next request must use a proactively refreshed token
            produce(kafka_bootstrap, topic, (event(i) for i in range(1000, 2000)), partitions=2)
            wait_until(lambda: len(server.store.records()) >= 2000, 60, "second wave delivered")
            requests.post(f"{server.url}/emulator/tokens/expire", timeout=5).raise_for_status()
            produce(kafka_bootstrap, topic, (event(i) for i in range(2000, 3000)), partitions=2)
            wait_until(lambda: fully_committed(kafka_bootstrap, unique_name, topic), 60, "all offsets committed")
        finally:
            proc.terminate()
            proc.wait(30)
            os.environ.pop("TEST_AEP_SECRET", None)
        result = audit(kafka_bootstrap, [topic], server, dlq)
        assert result.missing == set() and result.dead_lettered == {}
        tokens = [t for t, _ in server.store.items(TOKENS)]
        assert len(tokens) >= 3, "initial token, a proactive refresh, and one after the forced expiry"
        statuses = server.store.stats()["totals"]["requests_by_status"]
        assert "401" in statuses, "the forced expiry was seen as a 401 and survived"
        text = log.read_text()
        assert "batch_sent" in text or "partitions_assigned" in text, "the log capture is real"
        assert secret not in text
        for token in tokens:
            assert token not in text
    finally:
        server.stop()
