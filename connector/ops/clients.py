"""librdkafka settings for the operator tools' own clients (admin, replay consumer and producer).

Only connection-level keys (security, SASL, TLS, socket, client id) are taken from the
connector's `kafka.consumer` / `kafka.producer` passthrough, so an admin client is not handed
consumer-only properties it would warn about.
"""

from __future__ import annotations

from typing import Any

from connector.config import KafkaSettings

_CONNECTION_PREFIXES = ("security.", "sasl.", "ssl.", "socket.", "client.", "broker.", "reconnect.", "metadata.")


def connection_config(kafka: KafkaSettings) -> dict[str, Any]:
    """bootstrap.servers plus the connection-level keys of the consumer and producer passthrough."""
    conf: dict[str, Any] = {}
    for source in (kafka.producer, kafka.consumer):
        conf.update({k: v for k, v in source.items() if k.startswith(_CONNECTION_PREFIXES)})
    conf["bootstrap.servers"] = kafka.bootstrap_servers
    return conf
