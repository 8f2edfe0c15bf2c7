"""Start-up checks against the cluster: the dead-letter topic must exist before anything needs it."""

from __future__ import annotations

import structlog
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from connector.config import DeadLetterSettings, KafkaSettings
from connector.errors import FatalError
from connector.observability.librdkafka import client_callbacks, list_topics_polling

log = structlog.get_logger(__name__)
# Records DCS refuses as too large (> 1 MB) are dead-lettered whole, so the topic takes up to 16 MiB.
DLQ_MAX_MESSAGE_BYTES = 16 * 1024 * 1024


def ensure_dead_letter_topic(kafka: KafkaSettings, dead_letter: DeadLetterSettings, timeout: float = 30.0) -> None:
    """Create the dead-letter topic when missing (like Kafka Connect), or fail with a clear message.

    Without it, every dead-letter write would be retried forever and the partitions would stall.
    """
    conf = {k: v for k, v in kafka.producer.items() if k.startswith(("security.", "sasl.", "ssl."))}
    bootstrap = kafka.bootstrap_servers
    admin = AdminClient({**conf, "bootstrap.servers": bootstrap, **client_callbacks("admin", bootstrap)})
    topic = dead_letter.topic
    try:
        meta = list_topics_polling(admin, timeout)
    except KafkaException as exc:
        raise FatalError(f"cannot reach Kafka at {kafka.bootstrap_servers}: {exc}") from None
    if topic in meta.topics and meta.topics[topic].error is None:
        return
    if not dead_letter.create:
        raise FatalError(f"dead-letter topic {topic!r} does not exist (dead_letter.create is false): create it first")
    futures = admin.create_topics(
        [
            NewTopic(
                topic,
                dead_letter.partitions,
                dead_letter.replication_factor,
                config={"max.message.bytes": str(DLQ_MAX_MESSAGE_BYTES)},
            )
        ],
        operation_timeout=timeout,
    )
    try:
        futures[topic].result(timeout)
    except TimeoutError:
        raise FatalError(f"dead-letter topic {topic!r} is missing and creating it timed out") from None
    except KafkaException as exc:
        if "TOPIC_ALREADY_EXISTS" not in str(exc):
            raise FatalError(f"dead-letter topic {topic!r} is missing and could not be created: {exc}") from None
    log.info("dead_letter_topic_created", topic=topic, partitions=dead_letter.partitions)
