"""Shared fixtures: the real broker and registry (integration tier) and the emulator."""

from __future__ import annotations

import os
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


SOAK = os.environ.get("AEP_SOAK") == "1"
_SOAK_DESELECTED = pytest.StashKey[int]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Soak variants (marked `slow`) run only with AEP_SOAK=1 (`make soak`); otherwise deselected, and said so."""
    if SOAK:
        return
    slow = [item for item in items if item.get_closest_marker("slow")]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if not item.get_closest_marker("slow")]
        config.stash[_SOAK_DESELECTED] = len(slow)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    n = config.stash.get(_SOAK_DESELECTED, 0)
    if n:
        terminalreporter.write_line(
            f"NOT RUN: {n} soak variant(s) (long fault mixes, marked slow); `make soak` runs them", yellow=True
        )
