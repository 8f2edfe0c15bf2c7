"""The first line `run` logs: what the worker is about to connect to, before anything can block."""

from __future__ import annotations

from typing import Any

from connector import __version__
from connector.serde.registry import redact_url


def starting_fields(settings: Any, mappings: Any) -> dict[str, Any]:
    """Fields of `connector_starting`: Kafka, group, topics, dead-letter topic, inlets, IMS, registry, endpoints."""
    obs, aep = settings.observability, settings.aep
    inlets = sorted({m.route.inlet_url for m in mappings})
    return {
        "version": __version__,
        "kafka": settings.kafka.bootstrap_servers,
        "group": settings.kafka.group_id,
        "topics": list(settings.kafka.topics),
        "dead_letter_topic": settings.dead_letter.topic,
        "mappings": [m.name for m in mappings],
        "inlets": inlets,
        "ims": aep.auth.token_url if aep.auth.enabled else "off",
        "schema_registry": redact_url(settings.schema_registry.url) if settings.schema_registry.url else "off",
        "metrics": f"{obs.metrics_host}:{obs.metrics_port}" if obs.metrics_port is not None else "off",
        "progress_interval_s": obs.progress_interval_s or "off",
    }
