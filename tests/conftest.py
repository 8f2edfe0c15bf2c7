"""Shared fixtures: the real broker and registry (integration tier) and the emulator."""

from __future__ import annotations

from tests.integration.kafka_fixtures import (
    kafka_bootstrap,
    own_kafka_broker,
    own_schema_registry,
    schema_registry_url,
    unique_name,
)

__all__ = ["kafka_bootstrap", "own_kafka_broker", "own_schema_registry", "schema_registry_url", "unique_name"]
