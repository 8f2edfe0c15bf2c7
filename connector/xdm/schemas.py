"""One live XDM schema: loaded at start (AEP, else the disk cache), refreshed on an interval.

A refresh fetches the schema again; when the document changed (a new `version`, or any other edit)
the validator is recompiled and swapped in atomically, otherwise nothing happens. A record that
fails validation triggers an early refresh (at most once per `recheck_after_s`, and only while AEP
answers), so a field just added to the schema in AEP does not dead-letter the records using it
until the next interval. Refresh failures keep the current schema and are logged once per streak
(then at most every `FAILURE_LOG_EVERY_S`), never per attempt.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import structlog

from connector.errors import FatalError, RetriableError
from connector.interfaces import Clock
from connector.observability.metrics import XDM_SCHEMA_REFRESHES
from connector.xdm.cache import DiskCache
from connector.xdm.prepare import UnusableSchema, digest_of, prepare
from connector.xdm.ref import SchemaRef
from connector.xdm.registry import SchemaSource
from connector.xdm.validator import XdmValidator

log = structlog.get_logger(__name__)
FAILURE_LOG_EVERY_S = 600.0
MIN_RETRY_S = 5.0


@dataclass(frozen=True, slots=True)
class Timing:
    refresh_interval_s: float = 300.0
    recheck_after_s: float = 60.0


@dataclass(frozen=True, slots=True)
class Loaded:
    """A compiled schema and where it came from."""

    validator: XdmValidator
    origin: str  # "aep", "cache" or "file"
    fetched_at: float  # epoch seconds of the fetch (the file's mtime for files)

    @property
    def schema_id(self) -> str:
        return self.validator.schema_id

    @property
    def version(self) -> str:
        return self.validator.version


class SchemaUnavailable(Exception):
    """The schema cannot be had now: AEP is unreachable and there is no usable cached copy."""


def load_file(path: str | Path) -> Loaded:
    """A schema exported earlier (`aep-connector schema pull`); UnusableSchema says why it cannot be used."""
    p = Path(path)
    try:
        doc = orjson.loads(p.read_bytes())
    except OSError as exc:
        raise UnusableSchema(f"cannot read {p}: {exc.strerror}") from None
    except orjson.JSONDecodeError as exc:
        raise UnusableSchema(f"{p} is not JSON: {exc}") from None
    return Loaded(XdmValidator(prepare(doc)), "file", p.stat().st_mtime)


class LiveSchema:
    """The current validator of one SchemaRef; `current` is None only while a warn-mode schema is missing."""

    def __init__(
        self, ref: SchemaRef, source: SchemaSource | None, cache: DiskCache, clock: Clock, timing: Timing
    ) -> None:
        self.ref = ref
        self._source = source
        self._cache = cache
        self._clock = clock
        self._timing = timing
        self._lock = threading.Lock()
        self._current: Loaded | None = None
        self.check: Callable[[Any], bool] | None = None  # the current validator's raw fast path
        self._schema_id: str | None = ref.value if ref.kind == "id" else None
        self._next_refresh = 0.0
        self._last_attempt = float("-inf")
        self._reachable = False
        self._failures = 0
        self._failure_logged_at = float("-inf")

    @property
    def current(self) -> Loaded | None:
        return self._current

    @current.setter
    def current(self, loaded: Loaded | None) -> None:
        self._current = loaded
        self.check = loaded.validator.raw_is_valid if loaded is not None else None

    @property
    def schema_id(self) -> str | None:
        """The `$id` validated against (for `from-dataset`, known once the dataset was read)."""
        return self._schema_id

    @property
    def live(self) -> bool:
        return self.ref.kind != "file"

    # ------------------------------------------------------------------ start

    def load(self) -> Loaded:
        """Load for the first time: a file, else AEP, else the disk cache.

        Raises UnusableSchema (file or document unusable), FatalError (AEP refused: not found,
        forbidden) or SchemaUnavailable (AEP unreachable and nothing cached: retry, or give up).
        """
        if self.ref.kind == "file":
            self.current = load_file(self.ref.value)
            return self.current
        if self._source is None:  # not to be fetched (check without --connect): the disk cache only
            cached = self._from_cache()
            if cached is None:
                raise SchemaUnavailable(
                    f"{self.ref.describe()}: not fetched from AEP (check --connect does) and no copy is cached in "
                    f"{self._cache.directory or '(no cache directory)'}"
                )
            self.current = cached
            return cached
        try:
            return self._fetch(initial=True)
        except RetriableError as exc:
            cached = self._from_cache()
            if cached is None:
                raise SchemaUnavailable(
                    f"{self.ref.describe()}: AEP is unreachable ({exc}) and no copy is cached in "
                    f"{self._cache.directory or '(no cache directory)'}"
                ) from None
            self.current = cached
            self._next_refresh = self._clock.monotonic() + MIN_RETRY_S
            log.warning(
                "xdm_schema_from_cache",
                schema=cached.schema_id,
                version=cached.version,
                age_s=round(self._clock.time() - cached.fetched_at),
                error=str(exc),
            )
            return cached

    def _from_cache(self) -> Loaded | None:
        schema_id = self._schema_id
        if schema_id is None:
            bound = self._cache.load("dataset", self.ref.value)
            doc = bound.document if bound else None
            schema_id = doc.get("schema_id") if isinstance(doc, dict) else None
            if not isinstance(schema_id, str):
                return None
        entry = self._cache.load("schema", schema_id)
        if entry is None:
            return None
        try:
            validator = XdmValidator(prepare(entry.document, schema_id))
        except (UnusableSchema, ValueError) as exc:
            log.warning("xdm_cache_unusable", path=str(entry.path), error=str(exc))
            return None
        self._schema_id = schema_id
        return Loaded(validator, "cache", entry.fetched_at)

    # ------------------------------------------------------------------ fetch and refresh

    def _resolve_id(self) -> str:
        if self._schema_id is not None:
            return self._schema_id
        assert self._source is not None
        schema_id = self._source.dataset_schema_id(self.ref.value)
        self._cache.save("dataset", self.ref.value, {"schema_id": schema_id}, self._clock.time())
        self._schema_id = schema_id
        return schema_id

    def _fetch(self, *, initial: bool = False) -> Loaded:
        """Fetch from AEP; recompile only when the document changed. Caller holds no lock."""
        if self._source is None:
            raise FatalError(f"{self.ref.describe()}: no Platform API client to fetch it with")
        self._last_attempt = self._clock.monotonic()
        try:
            schema_id = self._resolve_id()
            doc = self._source.schema(schema_id)
            fetched_at = self._clock.time()
            old = self.current
            if old is not None and old.validator.prepared.digest == digest_of(doc):
                loaded = Loaded(old.validator, "aep", fetched_at)
            else:
                loaded = Loaded(XdmValidator(prepare(doc, schema_id)), "aep", fetched_at)
        except RetriableError:
            self._reachable = False
            XDM_SCHEMA_REFRESHES.labels("unreachable").inc()
            raise
        except (FatalError, UnusableSchema):
            XDM_SCHEMA_REFRESHES.labels("refused").inc()
            raise
        self._reachable = True
        self._cache.save("schema", schema_id, doc, fetched_at)
        self._next_refresh = self._clock.monotonic() + self._timing.refresh_interval_s
        self.current = loaded
        changed = old is not None and loaded.validator is not old.validator
        XDM_SCHEMA_REFRESHES.labels("changed" if changed or old is None else "unchanged").inc()
        if changed:
            assert old is not None
            log.info("xdm_schema_updated", schema=schema_id, old_version=old.version, version=loaded.version)
        elif initial:
            log.info("xdm_schema_loaded", schema=schema_id, version=loaded.version)
        return loaded

    def due(self) -> bool:
        return self.live and self._clock.monotonic() >= self._next_refresh

    def refresh(self) -> bool:
        """One refresh attempt (the refresher thread); True when the validator changed. Never raises."""
        with self._lock:
            before = self.current.validator if self.current else None
            try:
                loaded = self._fetch(initial=before is None)
            except (RetriableError, FatalError, UnusableSchema) as exc:
                self._failed(exc)
                return False
            if self._failures:
                log.info("xdm_schema_refresh_recovered", schema=loaded.schema_id, failures=self._failures)
                self._failures = 0
            return loaded.validator is not before

    def recheck(self) -> bool:
        """Refresh now because a record failed, if the last attempt is old enough and AEP answered it.

        Called from the worker thread; True when a different validator is now current.
        """
        if not self.live or not self._reachable:
            return False
        if self._clock.monotonic() - self._last_attempt < self._timing.recheck_after_s:
            return False
        return self.refresh()

    def _failed(self, exc: Exception) -> None:
        self._failures += 1
        now = self._clock.monotonic()
        retry = min(self._timing.refresh_interval_s, MIN_RETRY_S * 2 ** min(self._failures, 6))
        self._next_refresh = now + retry
        if self._failures == 1 or now - self._failure_logged_at >= FAILURE_LOG_EVERY_S:
            self._failure_logged_at = now
            current = self.current
            log.warning(
                "xdm_schema_refresh_failed",
                schema=self._schema_id or self.ref.describe(),
                error=str(exc),
                failures=self._failures,
                retry_in_s=round(retry),
                validating_with=current.version if current else None,
            )
