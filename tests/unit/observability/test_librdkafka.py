"""librdkafka's log and error callbacks become classified, rate-limited structlog events."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator

import pytest
import structlog
from confluent_kafka import Consumer, KafkaError

from connector.config import KafkaSettings
from connector.kafka.settings import consumer_config
from connector.observability.events import EventAggregator
from connector.observability.librdkafka import KafkaLogBridge, clean_message
from connector.observability.logging import configure_logging
from tests.harness.ports import free_port
from tests.unit.observability.fakes import Clock, RecordingLogger

FAIL = (
    "[thrd:127.0.0.1:1/bootstrap]: 127.0.0.1:1/bootstrap: Connect to ipv4#127.0.0.1:1 failed: "
    "Connection refused (after 0ms in state CONNECT)"
)


def _bridge() -> tuple[KafkaLogBridge, RecordingLogger]:
    logger = RecordingLogger()
    events = EventAggregator(logger, clock=Clock(), background=False)
    return KafkaLogBridge("consumer", "127.0.0.1:1", events), logger


def test_clean_message_strips_thread_tag_broker_and_volatile_suffix() -> None:
    """The broker is split out and `(after Nms in state X)` dropped, so repeats compare equal."""
    assert clean_message(FAIL) == ("127.0.0.1:1/bootstrap", "Connect to ipv4#127.0.0.1:1 failed: Connection refused")
    assert clean_message("1/1 brokers are down") == (None, "1/1 brokers are down")


def test_connect_failures_and_errors_are_one_kafka_unreachable_episode() -> None:
    """FAIL log lines and _TRANSPORT / _ALL_BROKERS_DOWN errors of one client share one episode."""
    bridge, logger = _bridge()
    for _ in range(200):
        bridge.log(40, "%s [%s] %s", "FAIL", "rdkafka#consumer-1", FAIL)
        bridge.error(KafkaError(KafkaError._TRANSPORT, FAIL))
        bridge.error(KafkaError(KafkaError._ALL_BROKERS_DOWN, "1/1 brokers are down"))
    assert logger.lines == [
        (
            "warning",
            "kafka_unreachable",
            {
                "client": "consumer",
                "brokers": "127.0.0.1:1",
                "broker": "127.0.0.1:1/bootstrap",
                "error": "Connect to ipv4#127.0.0.1:1 failed: Connection refused",
            },
        )
    ]


def test_other_lines_are_classified() -> None:
    """Idle disconnects are info, auth failures errors, fatal errors errors, the rest kafka_log by facility."""
    bridge, logger = _bridge()
    bridge.log(40, "%s [%s] %s", "FAIL", "c", "[thrd:b]: b:9092/1: Disconnected (after 600000ms in state UP)")
    bridge.error(KafkaError(KafkaError._AUTHENTICATION, "SASL authentication error: bad password"))
    bridge.error(KafkaError(KafkaError._FATAL, "Fatal error: producer fenced", fatal=True))
    bridge.log(30, "%s [%s] %s", "CONFWARN", "c", "[thrd:app]: Configuration property x is a producer property")
    assert [(lvl, ev) for lvl, ev, _ in logger.lines] == [
        ("info", "kafka_disconnected"),
        ("error", "kafka_auth_failed"),
        ("error", "kafka_error"),
        ("warning", "kafka_log"),
    ]
    assert logger.lines[3][2]["facility"] == "CONFWARN"


@pytest.fixture
def log_buffer() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    configure_logging("json", "info", buffer)
    yield buffer
    structlog.reset_defaults()


def test_a_real_consumer_on_a_closed_port_logs_one_structured_line(
    log_buffer: io.StringIO, capfd: pytest.CaptureFixture[str]
) -> None:
    """The worker's consumer config routes librdkafka through structlog: no raw %3| lines, one event."""
    bootstrap = f"127.0.0.1:{free_port()}"
    consumer = Consumer(consumer_config(KafkaSettings(bootstrap, "g", ("t",))))
    try:
        consumer.subscribe(["t"])
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            consumer.consume(10, 0.2)
    finally:
        consumer.close()
    raw = capfd.readouterr()
    assert "%3|" not in raw.err and "%3|" not in raw.out
    # logging is process-wide: a client another test left behind may log here too; count this one's lines
    events = [json.loads(line) for line in log_buffer.getvalue().splitlines()]
    events = [e for e in events if e.get("brokers") == bootstrap]  # not the repeat counts other tests leave
    unreachable = [e for e in events if e["event"] == "kafka_unreachable"]
    assert len(unreachable) == 1, events
    assert unreachable[0]["brokers"] == bootstrap and unreachable[0]["client"] == "consumer"
    assert len(events) <= 3, events


def test_a_peer_that_answers_http_is_unreachable_with_a_hint() -> None:
    """librdkafka reads "HTTP" as a 1213486160-byte frame: one kafka_unreachable naming the likely cause."""
    bridge, logger = _bridge()
    text = "[thrd:h:80/bootstrap]: h:80/bootstrap: Receive failed: Invalid response size 1213486160 (0..100000000)"
    bridge.log(40, "%s [%s] %s", "FAIL", "c", text)
    bridge.error(KafkaError(KafkaError._BAD_MSG, text))
    assert [e for _, e, _ in logger.lines] == ["kafka_unreachable"]
    assert "answers HTTP, not Kafka" in logger.lines[0][2]["error"]
