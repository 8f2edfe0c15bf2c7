"""Pytest fixtures for the real Kafka broker and schema registry (import them from conftest.py).

``KAFKA_BOOTSTRAP_SERVERS`` / ``SCHEMA_REGISTRY_URL`` point the session fixtures at services
that are already running (CI services, ``python -m tests.harness.kafka_broker run``);
otherwise one broker and one registry are started for the whole session. A service that
cannot be started fails the tests: the integration tier never skips.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator

import pytest

from tests.harness.kafka_broker import KafkaBroker
from tests.harness.schema_registry import SchemaRegistry

__all__ = [
    "kafka_bootstrap",
    "own_kafka_broker",
    "own_schema_registry",
    "schema_registry_url",
    "unique_name",
]

KAFKA_ENV = "KAFKA_BOOTSTRAP_SERVERS"
REGISTRY_ENV = "SCHEMA_REGISTRY_URL"


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """Bootstrap servers of the session's broker (``$KAFKA_BOOTSTRAP_SERVERS`` or one started here)."""
    external = os.environ.get(KAFKA_ENV)
    if external:
        yield external
        return
    with KafkaBroker() as broker:
        yield broker.bootstrap


@pytest.fixture(scope="session")
def schema_registry_url() -> Iterator[str]:
    """Confluent-compatible registry URL (``$SCHEMA_REGISTRY_URL`` or an Apicurio started here)."""
    external = os.environ.get(REGISTRY_ENV)
    if external:
        yield external
        return
    with SchemaRegistry() as registry:
        yield registry.url


@pytest.fixture
def own_kafka_broker() -> Iterator[KafkaBroker]:
    """A private broker for this test alone, free to stop, kill and restart."""
    with KafkaBroker() as broker:
        yield broker


@pytest.fixture
def own_schema_registry() -> Iterator[SchemaRegistry]:
    """A private registry for this test alone; schemas survive its stop/start."""
    with SchemaRegistry() as registry:
        yield registry


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> str:
    """A topic/group/subject prefix unique to this test run: ``<test name>-<8 hex>``."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", request.node.name).strip("-.")[:80]
    return f"{stem}-{uuid.uuid4().hex[:8]}"
