"""Value types that travel through the pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from connector.errors import RecordError

Headers = tuple[tuple[str, bytes | None], ...]


class TopicPartition(NamedTuple):
    """A tuple, so hashing and equality run in C: the offset tracker does both per record."""

    topic: str
    partition: int


class SourceRecord(NamedTuple):
    """One Kafka record as consumed, bytes untouched (the dead-letter topic gets them verbatim).

    Immutable like the frozen dataclasses elsewhere, but a tuple: one is built per consumed record,
    and a tuple costs a quarter of the instructions of a frozen slots dataclass (whose __init__
    sets each field through object.__setattr__).
    """

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers = ()
    timestamp_ms: int | None = None

    @property
    def tp(self) -> TopicPartition:
        return TopicPartition(self.topic, self.partition)

    @property
    def next_offset(self) -> int:
        """The offset to commit once this record is final."""
        return self.offset + 1


DCS = "dcs"
EDGE = "edge"


@dataclass(frozen=True, slots=True)
class Route:
    """Where a record is sent: one DCS inlet with its flow, sandbox and auth, or one Edge datastream.

    Records of one route may share a batch request. For `destination` "edge", `inlet_url` is the
    Edge Network collect URL (host and location hint applied, no query) and `edge_meta` the JSON
    of the request's `meta` object (datastream config overrides), or None.
    """

    inlet_url: str
    flow_id: str | None = None
    sandbox: str | None = None
    ims_org: str | None = None
    authenticated: bool = False
    extra_headers: tuple[tuple[str, str], ...] = field(default=())
    destination: str = DCS
    datastream_id: str | None = None
    edge_meta: str | None = None

    @property
    def metric_labels(self) -> tuple[str, str]:
        """(destination, inlet) labels of the delivered-records metric: the inlet id, or the datastream id."""
        if self.destination == EDGE:
            return EDGE, self.datastream_id or ""
        return DCS, self.inlet_url.rsplit("/", 1)[-1]

    @property
    def batch_url(self) -> str:
        base, _, inlet = self.inlet_url.rstrip("/").rpartition("/collection/")
        inlet = inlet.removeprefix("batch/")
        return f"{base}/collection/batch/{inlet}"

    @property
    def single_url(self) -> str:
        base, _, inlet = self.inlet_url.rstrip("/").rpartition("/collection/")
        inlet = inlet.removeprefix("batch/")
        return f"{base}/collection/{inlet}"


@dataclass(frozen=True, slots=True)
class Accepted:
    """AEP accepted the message (DCS: HTTP 200 or a success entry of a 207; Edge: a 2xx for the request)."""

    xaction_id: str | None = None


Outcome = Accepted | RecordError
"""Per message: Accepted, or a RecordError to dead-letter."""
