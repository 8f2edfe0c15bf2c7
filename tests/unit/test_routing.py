"""The router: one mapping per topic, never the dead-letter topic; overlaps stop the worker, never pick one."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest

from connector.app import compile_plan
from connector.config import (
    AepSettings,
    BatchingSettings,
    DeadLetterSettings,
    DeliverySettings,
    KafkaSettings,
    ObservabilitySettings,
    Settings,
)
from connector.errors import ConfigError, FatalError
from connector.mapping import load_mapping_file
from connector.records import Route, SourceRecord, TopicPartition
from connector.routing import Pipeline, Router
from connector.serde.json import JsonDeserializer
from connector.worker import Worker, WorkerOptions
from tests.fakes import EchoMapper, FakeClock, FakeDeadLetters, FakeSink, FakeSource

ROUTE = Route("http://127.0.0.1:1/collection/abc")
REPO = Path(__file__).resolve().parents[2]


class Named(EchoMapper):
    def __init__(self, name: str) -> None:
        super().__init__(ROUTE)
        self._name = name

    @property
    def name(self) -> str:
        return self._name


def pipe(name: str) -> Pipeline:
    return Pipeline(JsonDeserializer(), Named(name))


def test_router_never_routes_the_dead_letter_topic() -> None:
    """A record of the dead-letter topic (a ^regex subscription matched it) stops the worker: no second dead letter."""
    router = Router([(["events-a"], pipe("a"))], dead_letter_topic="events-dlq")
    assert router.pipeline_for("events-a") is not None
    assert router.pipeline_for("events-b") is None  # an unmapped topic: dead-lettered as no-mapping
    with pytest.raises(FatalError, match="its own dead-letter topic 'events-dlq'"):
        router.pipeline_for("events-dlq")


def test_worker_stops_on_its_own_dead_letters_without_writing_one() -> None:
    """A record of the dead-letter topic (a ^regex subscribed it) stops the worker: nothing dead-lettered, committed."""
    settings = Settings(
        kafka=KafkaSettings("k:9092", "g", ("^loyalty.*",)),
        aep=AepSettings(inlet_url="http://127.0.0.1:1/collection/abc"),
        dead_letter=DeadLetterSettings("loyalty-dlq"),
        batching=BatchingSettings(),
        delivery=DeliverySettings(),
        observability=ObservabilitySettings(),
        mappings=(load_mapping_file(REPO / "config" / "mappings" / "loyalty-events.yaml"),),
    )
    dlq_tp = TopicPartition("loyalty-dlq", 0)
    source = FakeSource([dlq_tp])
    dead = FakeDeadLetters()
    worker = Worker(
        source=source,
        router=compile_plan(settings).router,
        sink=FakeSink(),
        dead_letters=dead,
        batching=BatchingSettings(linger_ms=0, commit_interval_ms=10),
        clock=FakeClock(),
        options=WorkerOptions(revoke_grace_s=0.1, shutdown_timeout_s=0.1),
    )
    source.subscribe(worker)
    source.feed([SourceRecord("loyalty-dlq", 0, 0, b"k", orjson.dumps({"n": 1}), (), 1)])
    with pytest.raises(FatalError, match="its own dead-letter topic"):
        for _ in range(50):
            worker.step()
            time.sleep(0.001)
    assert dead.sent == [] and source.committed == {}


def test_a_live_topic_matching_two_regex_mappings_stops_the_worker() -> None:
    """Two ^regex mappings that both match a live topic: FatalError naming both, never the first one silently."""
    router = Router([(["^orders\\..*"], pipe("orders")), (["^.*\\.eu$"], pipe("eu"))])
    assert router.pipeline_for("orders.us") is not None
    assert router.pipeline_for("returns.eu") is not None
    with pytest.raises(FatalError, match=r"'orders\.eu' matches the \^regex of 2 mappings \(orders, eu\)"):
        router.pipeline_for("orders.eu")


def test_overlaps_visible_in_the_config_are_config_errors() -> None:
    """Named twice, named and matched, or one pattern in two mappings: refused when the router is built."""
    from connector.routing import topic_problems

    with pytest.raises(ConfigError):
        Router([(["t"], pipe("a")), (["t"], pipe("b"))])
    problems = topic_problems([("a", ["t", "^x"]), ("b", ["^t.*", "^x"]), ("c", ["^d.*"])], ["u"], "dlq")
    assert [p.split(":")[0] for p in problems] == [
        "topic 't' is handled by 2 mappings (a, b)",
        "pattern '^x' is used by mappings a and b",
        "mapping c",
    ]
    assert topic_problems([("a", ["t", "^t"])], ["t"], "dlq") == []  # one mapping may name and match a topic
