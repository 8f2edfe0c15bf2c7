"""Prometheus metrics the connector exports (one registry per process, `REGISTRY`).

Names are part of the operations contract: the Grafana dashboard and the README table use them.
Under `run --processes N` every process writes its values to PROMETHEUS_MULTIPROC_DIR and the
supervisor exposes them merged; `multiprocess_mode` says how a gauge's per-process values combine.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)
_P = "aep_connector_"

RECORDS_CONSUMED = Counter(_P + "records_consumed_total", "Records read from Kafka", ["topic"], registry=REGISTRY)
RECORDS_DELIVERED = Counter(
    _P + "records_delivered_total",
    "Records accepted by AEP (inlet: the DCS inlet id, or the Edge datastream id)",
    ["mapping", "destination", "inlet"],
    registry=REGISTRY,
)
RECORDS_DEAD_LETTERED = Counter(
    _P + "records_dead_lettered_total",
    "Records written to the dead-letter topic (acknowledged by the broker)",
    ["reason", "mapping"],
    registry=REGISTRY,
)
DCS_REQUEST_SECONDS = Histogram(
    _P + "dcs_request_seconds",
    "DCS request latency by HTTP status ('error' for transport failures)",
    ["status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=REGISTRY,
)
DCS_RETRIES = Counter(_P + "dcs_retries_total", "DCS request retries by cause", ["cause"], registry=REGISTRY)
REQUESTS_IN_FLIGHT = Gauge(
    _P + "requests_in_flight", "DCS requests in flight", registry=REGISTRY, multiprocess_mode="livesum"
)
BATCH_RECORDS = Histogram(
    _P + "batch_records",
    "Messages per DCS request",
    buckets=(1, 10, 50, 100, 250, 500, 1000, 2500),
    registry=REGISTRY,
)
BATCH_BYTES = Histogram(
    _P + "batch_bytes",
    "Bytes per DCS request body",
    buckets=(1e3, 1e4, 5e4, 1e5, 2.5e5, 5e5, 7.5e5, 1e6),
    registry=REGISTRY,
)
PAUSED_PARTITIONS = Gauge(
    _P + "paused_partitions", "Partitions paused by backpressure or outage", registry=REGISTRY,
    multiprocess_mode="livesum",
)
BUFFERED_RECORDS = Gauge(
    _P + "buffered_records", "Records consumed but not yet final", registry=REGISTRY, multiprocess_mode="livesum"
)
TOKEN_REFRESHES = Counter(_P + "token_refreshes_total", "IMS access tokens fetched", ["result"], registry=REGISTRY)
LAST_COMMIT = Gauge(
    _P + "last_commit_timestamp_seconds", "Unix time of the last offset commit", registry=REGISTRY,
    multiprocess_mode="max",
)
# Set by one process only (the worker, or under `run --processes N` the supervisor).
CONSUMER_LAG = Gauge(
    _P + "consumer_lag", "End offset minus committed offset", ["topic", "partition"], registry=REGISTRY,
    multiprocess_mode="mostrecent",
)
COMMITTED_OFFSET = Gauge(
    _P + "committed_offset", "Committed offset of the group", ["topic", "partition"], registry=REGISTRY,
    multiprocess_mode="mostrecent",
)
END_OFFSET = Gauge(
    _P + "end_offset", "High watermark of the partition", ["topic", "partition"], registry=REGISTRY,
    multiprocess_mode="mostrecent",
)
EDGE_REQUEST_SECONDS = Histogram(
    _P + "edge_request_seconds",
    "Edge Network collect request latency by HTTP status ('error' for transport failures)",
    ["status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=REGISTRY,
)
EDGE_RETRIES = Counter(_P + "edge_retries_total", "Edge Network request retries by cause", ["cause"], registry=REGISTRY)
EDGE_ERRORS = Counter(
    _P + "edge_errors_total",
    "Edge Network problems seen, by EXEG code (fatal answers, 207 upstream errors and warnings)",
    ["code"],
    registry=REGISTRY,
)
XDM_INVALID_SENT = Counter(
    _P + "xdm_invalid_sent_total",
    "Records sent although they break their XDM schema (validate: warn); strict ones are dead-lettered",
    ["mapping"],
    registry=REGISTRY,
)
XDM_SCHEMA_REFRESHES = Counter(
    _P + "xdm_schema_refreshes_total", "XDM schema fetches from AEP's Schema Registry", ["result"], registry=REGISTRY
)
