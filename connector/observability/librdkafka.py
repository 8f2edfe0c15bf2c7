"""librdkafka's log and error callbacks as structured, rate-limited structlog events.

Without them librdkafka prints a raw `%3|...|FAIL|...` line on stderr for every failed connect
(hundreds a minute while a broker is down). With `client_callbacks(role, bootstrap)` merged
into a client's config, each log line and error goes through an EventAggregator:

  kafka_unreachable  connection failures of any kind (librdkafka's FAIL lines: refused, resolve,
                     timeouts, a peer that does not speak Kafka), "all brokers down" (warning, once per window per
                     client, then a repeat count); `kafka_reachable` once no failure was seen
                     for a whole window
  kafka_disconnected an established connection closed (idle timeout, broker restart) (info)
  kafka_auth_failed  SASL/SSL authentication and authorisation failures (error)
  kafka_error        any other error callback (warning, error when librdkafka says fatal)
  kafka_log          any other log line at warning or worse, by facility

librdkafka hands log lines to Python only while the client is polled (consume(), poll(),
flush()); `list_topics_polling` keeps an AdminClient's log queue served while it waits.
"""

from __future__ import annotations

import re
import time
from typing import Any

from confluent_kafka import KafkaError, KafkaException

from connector.observability.events import EventAggregator

_THREAD_PREFIX = re.compile(r"^\[thrd:[^\]]*\]:\s*")
_BROKER_PREFIX = re.compile(r"^(?P<broker>[^\s:]+:\d+/[\w-]+):\s*")
_SUFFIX = re.compile(r"\s*\((?:after \d+ms in state \w+)?(?:, )?(?:\d+ identical error\(s\) suppressed)?\)\s*$")
_UNREACHABLE_CODES = frozenset(
    {"_TRANSPORT", "_ALL_BROKERS_DOWN", "_RESOLVE", "_TIMED_OUT", "_MSG_TIMED_OUT", "NETWORK_EXCEPTION", "_BAD_MSG"}
)
_HTTP_AS_SIZE = "Invalid response size 1213486160"  # the bytes "HTTP" read as a Kafka frame length
_AUTH_CODES = frozenset(
    {
        "_AUTHENTICATION",
        "_SSL",
        "SASL_AUTHENTICATION_FAILED",
        "TOPIC_AUTHORIZATION_FAILED",
        "GROUP_AUTHORIZATION_FAILED",
        "CLUSTER_AUTHORIZATION_FAILED",
    }
)
_UNREACHABLE_TEXT = ("connect to", "failed to resolve", "connection refused", "brokers are down", "timed out")


def clean_message(text: str) -> tuple[str | None, str]:
    """(broker, message) from a librdkafka line, without the thread tag and the volatile suffix."""
    text = _THREAD_PREFIX.sub("", text.strip())
    broker = None
    m = _BROKER_PREFIX.match(text)
    if m:
        broker = m.group("broker")
        text = text[m.end() :]
    text = _SUFFIX.sub("", text)
    if _HTTP_AS_SIZE in text:
        text += " (this address answers HTTP, not Kafka: check bootstrap_servers)"
    return broker, text


class KafkaLogBridge:
    """The `logger` and `error_cb` of one librdkafka client (role: consumer, dead_letter_producer, ...)."""

    def __init__(self, role: str, bootstrap: str, events: EventAggregator | None = None) -> None:
        self.role = role
        self.bootstrap = bootstrap
        self.events = events or EventAggregator()

    # confluent-kafka calls logger.log(level, "%s [%s] %s", facility, client name, message)
    def log(self, level: int, fmt: str, *args: Any) -> None:
        facility, message = (str(args[0]), str(args[2])) if len(args) == 3 else ("LOG", fmt % args if args else fmt)
        broker, text = clean_message(message)
        lowered = text.lower()
        if facility in ("FAIL", "ERROR") and "disconnected" in lowered and "state up" in message.lower():
            self._note("kafka_disconnected", "info", broker, text)
        elif facility == "FAIL" or (facility == "ERROR" and any(t in lowered for t in _UNREACHABLE_TEXT)):
            self._unreachable(broker, text)  # FAIL is librdkafka's broker-connection failure
        elif "authentication" in lowered or "sasl" in lowered or "ssl handshake" in lowered:
            self._note("kafka_auth_failed", "error", broker, text)
        else:
            level_name = "error" if level >= 40 else "warning" if level >= 30 else "info"
            self.events.note(
                "kafka_log", {"client": self.role, "facility": facility}, level=level_name, broker=broker, message=text
            )

    def error(self, err: KafkaError) -> None:
        name = err.name()
        broker, text = clean_message(err.str())
        if name in _UNREACHABLE_CODES:
            self._unreachable(broker, text)
        elif name in _AUTH_CODES:
            self._note("kafka_auth_failed", "error", broker, text, code=name)
        else:
            level = "error" if err.fatal() else "warning"
            self.events.note(
                "kafka_error", {"client": self.role, "code": name}, level=level, broker=broker, error=text,
                fatal=err.fatal(),
            )  # fmt: skip

    def callbacks(self) -> dict[str, Any]:
        """Config entries for a confluent-kafka client: {"logger": ..., "error_cb": ...}."""
        return {"logger": self, "error_cb": self.error}

    def _unreachable(self, broker: str | None, text: str) -> None:
        self.events.note(
            "kafka_unreachable", {"client": self.role, "brokers": self.bootstrap}, level="warning",
            ended="kafka_reachable", broker=broker, error=text,
        )  # fmt: skip

    def _note(self, event: str, level: str, broker: str | None, text: str, **extra: Any) -> None:
        self.events.note(event, {"client": self.role, "brokers": self.bootstrap}, level=level, broker=broker,
                         error=text, **extra)  # fmt: skip


def client_callbacks(role: str, bootstrap: str) -> dict[str, Any]:
    """`logger` and `error_cb` for one client's config: librdkafka's output as structured events."""
    return KafkaLogBridge(role, bootstrap).callbacks()


def list_topics_polling(admin: Any, timeout: float, topic: str | None = None, step_s: float = 1.0) -> Any:
    """admin.list_topics, retried in `step_s` slices with poll(0) between, so log callbacks run while waiting.

    Raises the last KafkaException once `timeout` has passed without an answer.
    """
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        try:
            return admin.list_topics(topic=topic, timeout=max(0.1, min(step_s, remaining)))
        except KafkaException:
            admin.poll(0)
            if time.monotonic() + 0.01 >= deadline:
                raise
