"""The exception tree, named by what the handler does.

    ConnectorError
    +-- ConfigError            fail at start, listing every problem (exit 2)
    +-- FatalError             stop the worker: retrying cannot help (403, bad credentials)
    +-- RetriableError         retry with backoff, pause partitions; never dead-letter, never commit
    |   +-- RetryAfterError    ... and wait at least `retry_after` seconds first
    +-- DeliveryAbandoned      in-flight work given up on shutdown or revocation; records stay unfinished
    +-- RecordError            dead-letter this one record with `reason`, keep running
        +-- DecodeError        the bytes could not be read (stage "decode")
        +-- MappingError       the record could not be mapped to XDM (stage "map")
        |   +-- SchemaViolation    the mapped entity breaks its XDM schema (stage "validate")
        +-- RejectedError      AEP refused the record, or it can never be sent (stage "deliver")

Per-record failures travel as values (a RecordError instance paired with the record) to the
dead-letter topic; whole-batch failures are raised.
"""

from __future__ import annotations

from connector.retry_after import bounded_delay


class ConnectorError(Exception):
    """Root of every error this package raises on purpose."""


class ConfigError(ConnectorError):
    """The configuration is invalid; `problems` lists every one found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in self.problems))


class FatalError(ConnectorError):
    """Stop the worker; a person must change something (credentials, permissions, config)."""


class RetriableError(ConnectorError):
    """A transient condition: retry later. Nothing is committed or dead-lettered because of it."""


class RetryAfterError(RetriableError):
    """A transient condition with a server-given minimum wait, bounded to [0, MAX_SERVER_DELAY_S]."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = bounded_delay(retry_after)


class DeliveryAbandoned(ConnectorError):
    """Delivery was cancelled (shutdown or revocation); the records stay unfinished."""


class RecordError(ConnectorError):
    """One record cannot be delivered; it goes to the dead-letter topic with this reason.

    `reason` is a short stable code (e.g. "invalid-json", "aep-rejected") used in metrics and
    headers; the message is the human explanation.
    """

    stage = "unknown"

    def __init__(self, reason: str, message: str, *, http_status: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.http_status = http_status


class DecodeError(RecordError):
    """The record's bytes could not be decoded."""

    stage = "decode"


class MappingError(RecordError):
    """The decoded record could not be mapped to an XDM envelope.

    Names the target path and the expression that failed, and the cause.
    """

    stage = "map"

    def __init__(
        self,
        message: str,
        *,
        target: str | None = None,
        expression: str | None = None,
        reason: str = "mapping-failed",
    ) -> None:
        super().__init__(reason, message)
        self.target = target
        self.expression = expression


class SchemaViolation(MappingError):
    """The mapped entity breaks the target XDM schema: AEP would accept it, then drop it into a failed batch.

    Reason `xdm-invalid`; the message names each violation (JSON pointer, rule) and the schema
    `$id` and version it was checked against.
    """

    stage = "validate"

    def __init__(self, message: str, *, target: str | None, schema_id: str, schema_version: str) -> None:
        super().__init__(message, target=target, reason="xdm-invalid")
        self.schema_id = schema_id
        self.schema_version = schema_version


class RejectedError(RecordError):
    """AEP rejected the record (a 4xx entry, an isolated 400) or it can never be sent."""

    stage = "deliver"
