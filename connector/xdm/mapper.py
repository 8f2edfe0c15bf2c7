"""ValidatingMapper: a Mapper that checks what the mapper it wraps produced against the live XDM schema.

strict  a violation raises SchemaViolation (reason `xdm-invalid`): the worker dead-letters the record
warn    the record is sent anyway; violations are logged at once the first time, then as one
        aggregated line per `WARN_EVERY_S` (counts per pointer and rule), never one line per record
The wrapped mapper is untouched: validation is a separate stage composed in the wiring (connector.app).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import structlog

from connector.errors import SchemaViolation
from connector.interfaces import Mapper
from connector.mapping.envelope import encode_or_fail
from connector.observability.metrics import XDM_INVALID_SENT
from connector.records import EDGE, Route, SourceRecord
from connector.xdm.schemas import LiveSchema
from connector.xdm.validator import Violation

log = structlog.get_logger(__name__)
WARN_EVERY_S = 60.0
_NO_KEY: Any = object()


def violation_message(violations: list[Violation], schema_id: str, version: str) -> str:
    listed = "; ".join(str(v) for v in violations)
    return f"{len(violations)} XDM violation(s) of schema {schema_id} version {version}: {listed}"


class WarnLog:
    """Aggregates warn-mode violations of one mapping into rate-limited log lines."""

    def __init__(self, mapping: str, clock: Callable[[], float], every_s: float = WARN_EVERY_S) -> None:
        self._mapping = mapping
        self._clock = clock
        self._every = every_s
        self._next = float("-inf")
        self._records = 0
        self._rules: Counter[tuple[str, str]] = Counter()

    def add(self, violations: list[Violation], schema_id: str, version: str) -> None:
        XDM_INVALID_SENT.labels(self._mapping).inc()
        self._records += 1
        self._rules.update((v.pointer or "/", v.keyword) for v in violations)
        now = self._clock()
        if now >= self._next:
            self._emit(schema_id, version, violations)
            self._next = now + self._every

    def _emit(self, schema_id: str, version: str, example: list[Violation] | None) -> None:
        if not self._records:
            return
        top = [f"{p} {k} x{n}" for (p, k), n in self._rules.most_common(5)]
        log.warning(
            "xdm_invalid_sent",
            mapping=self._mapping,
            records=self._records,
            schema=schema_id,
            version=version,
            top=top,
            example=violation_message(example, schema_id, version)[:1000] if example else None,
        )
        self._records = 0
        self._rules.clear()

    def flush(self, schema_id: str, version: str) -> None:
        self._emit(schema_id, version, None)


class ValidatingMapper:
    """Implements connector.interfaces.Mapper around another Mapper."""

    def __init__(
        self, inner: Mapper, schema: LiveSchema, mode: str, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if mode not in ("strict", "warn"):
            raise ValueError(f"mode must be strict or warn, got {mode!r}")
        self.inner = inner
        self.schema = schema
        self.mode = mode
        self._map = inner.map
        self._edge = inner.route.destination == EDGE  # an Edge Network event {"xdm": entity}
        self._warn = WarnLog(inner.name, clock)

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def route(self) -> Route:
        return self.inner.route

    def __repr__(self) -> str:
        return f"ValidatingMapper({self.inner!r}, schema={self.schema.ref.describe()!r}, mode={self.mode!r})"

    def map(self, record: SourceRecord, value: Any, key: Any = _NO_KEY) -> dict[str, Any]:
        envelope = self._map(record, value) if key is _NO_KEY else self._map(record, value, key=key)
        check = self.schema.check
        try:
            if check is None or check(envelope["xdm"] if self._edge else envelope["body"]["xdmEntity"]):
                return envelope
        except ValueError:  # a value with no JSON form: explained by violations()
            pass
        return self._invalid(envelope)

    def map_bytes(self, record: SourceRecord, value: Any, key: Any = _NO_KEY) -> bytes:
        """The checked envelope's bytes (the dict is built: the check reads it)."""
        return encode_or_fail(self.map(record, value, key))

    def _invalid(self, envelope: dict[str, Any]) -> dict[str, Any]:
        entity = envelope["xdm"] if self._edge else envelope["body"]["xdmEntity"]
        if self.schema.recheck():  # the schema may have moved on (a field added in AEP)
            loaded = self.schema.current
            if loaded is None or loaded.validator.is_valid(entity):
                return envelope
        loaded = self.schema.current
        assert loaded is not None
        violations = loaded.validator.violations(entity)
        if self.mode == "warn":
            self._warn.add(violations, loaded.schema_id, loaded.version)
            return envelope
        first = violations[0].pointer if violations else None
        raise SchemaViolation(
            violation_message(violations, loaded.schema_id, loaded.version),
            target=first,
            schema_id=loaded.schema_id,
            schema_version=loaded.version,
        )

    def close(self) -> None:
        loaded = self.schema.current
        if loaded is not None:
            self._warn.flush(loaded.schema_id, loaded.version)
