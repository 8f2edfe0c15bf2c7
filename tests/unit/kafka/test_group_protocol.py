"""kafka.group_protocol: the config keys each protocol takes, and the librdkafka settings it becomes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer

from connector.config import KafkaSettings, load_settings
from connector.errors import ConfigError
from connector.kafka.settings import consumer_config

CONFIG = """
kafka:
  bootstrap_servers: 127.0.0.1:9092
  topics: [t]
  {protocol}
  consumer: {consumer}
aep: {{inlet_url: "http://127.0.0.1:1/collection/abc"}}
dead_letter: {{topic: dlq}}
mappings: [{{name: m, topics: [t]}}]
"""


def load(tmp_path: Path, protocol: str | None, consumer: dict[str, Any]) -> Any:
    cfg = tmp_path / "c.yaml"
    line = f"group_protocol: {protocol}" if protocol else ""
    cfg.write_text(CONFIG.format(protocol=line, consumer=consumer or "{}"))
    return load_settings(cfg, {})


def problems(tmp_path: Path, protocol: str | None, consumer: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as err:
        load(tmp_path, protocol, consumer)
    return list(err.value.problems)


def test_default_is_auto_and_joins_with_the_kip848_protocol(tmp_path: Path) -> None:
    kafka = load(tmp_path, None, {}).kafka
    assert kafka.group_protocol == "auto"
    conf = consumer_config(kafka)
    assert conf["group.protocol"] == "consumer"
    assert "session.timeout.ms" not in conf and "partition.assignment.strategy" not in conf


def test_classic_is_cooperative_sticky_unless_the_user_picks_an_eager_strategy(tmp_path: Path) -> None:
    conf = consumer_config(load(tmp_path, "classic", {}).kafka)
    assert conf["partition.assignment.strategy"] == "cooperative-sticky"
    assert conf["session.timeout.ms"] == 45_000
    assert "group.protocol" not in conf
    eager = load(tmp_path, "classic", {"partition.assignment.strategy": "range", "session.timeout.ms": 6000}).kafka
    assert consumer_config(eager)["partition.assignment.strategy"] == "range"
    assert consumer_config(eager)["session.timeout.ms"] == 6000


@pytest.mark.parametrize("protocol", [None, "auto", "consumer"])
def test_classic_only_settings_are_refused_with_the_kip848_protocol(tmp_path: Path, protocol: str | None) -> None:
    """librdkafka refuses to create a consumer with them; the config says so at start, all at once."""
    found = problems(tmp_path, protocol, {"session.timeout.ms": 6000, "heartbeat.interval.ms": 500,
                                          "partition.assignment.strategy": "range"})  # fmt: skip
    assert len(found) == 3
    assert all("set kafka.group_protocol: classic to use it" in p for p in found)
    assert any("group.consumer.session.timeout.ms" in p for p in found)


def test_protocol_keys_are_checked(tmp_path: Path) -> None:
    assert problems(tmp_path, "eager", {}) == [
        "kafka.group_protocol: must be one of auto, consumer, classic, got 'eager'"
    ]
    assert problems(tmp_path, "classic", {"group.protocol": "consumer"}) == [
        "kafka.consumer.group.protocol: set kafka.group_protocol (auto, consumer or classic) instead"
    ]
    assert problems(tmp_path, "classic", {"group.remote.assignor": "range"}) == [
        "kafka.consumer.group.remote.assignor: applies to kafka.group_protocol consumer only (the KIP-848 protocol)"
    ]
    assert load(tmp_path, "consumer", {"group.remote.assignor": "range"}).kafka.group_protocol == "consumer"


def test_auto_falling_back_to_classic_drops_the_kip848_only_settings() -> None:
    kafka = KafkaSettings("127.0.0.1:1", "g", ("t",), {"group.remote.assignor": "range"}, group_protocol="auto")
    assert consumer_config(kafka)["group.remote.assignor"] == "range"
    fallback = consumer_config(kafka, "classic")
    assert "group.remote.assignor" not in fallback
    assert fallback["partition.assignment.strategy"] == "cooperative-sticky"


@pytest.mark.parametrize("protocol", ["auto", "consumer", "classic"])
def test_librdkafka_accepts_the_settings_of_every_protocol(protocol: str) -> None:
    """The settings are valid for the linked librdkafka (it refuses bad combinations when the consumer is created)."""
    kafka = KafkaSettings("127.0.0.1:1", "g", ("t",), group_protocol=protocol)
    consumer = Consumer({**consumer_config(kafka), "logger": None})
    consumer.close()
