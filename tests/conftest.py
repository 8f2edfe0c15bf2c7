"""Shared fixtures: the real broker and registry (integration tier) and the emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connector.emulator import EmulatorServer
from tests.integration.kafka_fixtures import (
    kafka_bootstrap,
    own_kafka_broker,
    own_schema_registry,
    schema_registry_url,
    unique_name,
)

__all__ = ["kafka_bootstrap", "own_kafka_broker", "own_schema_registry", "schema_registry_url", "unique_name"]


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    """A fresh local AEP (memory store) on a free loopback port, for this test alone."""
    server = EmulatorServer(port=0, store="memory").start()
    try:
        yield server
    finally:
        server.stop()
