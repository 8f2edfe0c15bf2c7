"""Rate-limited, de-duplicated log events: a storm of retries becomes a few lines, not thousands.

    events = EventAggregator()
    events.note("dcs_throttled", {"inlet": inlet}, status=429, retry_after_s=5.0)

For each (event, key fields) an *episode* runs:
  1. the first occurrence is logged at once, with its key fields and details;
  2. repeats within the window (30 s by default) are only counted;
  3. when the window ends with repeats, one line repeats the event with the last details plus
     `repeated=N` (occurrences in that window), `window_s` and `since_s` (age of the episode);
     fields named in `sums` carry their total over the window instead of the last value;
  4. a window without repeats ends the episode; `ended="event_name"` logs that event then, at
     info level, with `occurrences` and `lasted_s` (e.g. kafka_reachable after kafka_unreachable).

Windows are closed by the next `note`, by `flush()`, and by one shared daemon thread that
flushes every aggregator created with `background=True` once a second, so the summary of a
storm that has stopped is not held back until the next storm.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog

DEFAULT_WINDOW_S = 30.0
_LEVELS = ("debug", "info", "warning", "error")
Line = tuple[str, str, dict[str, Any]]


@dataclass(slots=True)
class _Episode:
    level: str
    key: dict[str, Any]
    details: dict[str, Any]
    started: float
    window_start: float
    last: float
    ended: str | None
    sums: tuple[str, ...]
    repeats: int = 0
    occurrences: int = 1
    totals: dict[str, float] = field(default_factory=dict)


class EventAggregator:
    """Thread-safe; every method is cheap enough to call from the hot path of a retry loop."""

    def __init__(
        self,
        logger: Any = None,
        *,
        window_s: float = DEFAULT_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
        background: bool = True,
    ) -> None:
        self._log = logger if logger is not None else structlog.get_logger("connector.events")
        self._window = window_s
        self._clock = clock
        self._lock = threading.Lock()
        self._episodes: dict[tuple[str, tuple[tuple[str, Any], ...]], _Episode] = {}
        if background:
            _Flusher.register(self)

    def note(
        self,
        event: str,
        key: Mapping[str, Any] | None = None,
        *,
        level: str = "warning",
        ended: str | None = None,
        sums: Iterable[str] = (),
        **details: Any,
    ) -> None:
        """Record one occurrence of `event` for the episode named by `key` (logged now, or counted)."""
        if level not in _LEVELS:
            raise ValueError(f"unknown level {level!r}")
        key = dict(key or {})
        ident = (event, tuple(sorted((k, _hashable(v)) for k, v in key.items())))
        now = self._clock()
        lines: list[Line] = []
        with self._lock:
            self._close_windows(now, lines)
            episode = self._episodes.get(ident)
            if episode is None:
                self._episodes[ident] = _Episode(level, key, details, now, now, now, ended, tuple(sums))
                lines.append((level, event, {**key, **details}))
            else:
                episode.repeats += 1
                episode.occurrences += 1
                episode.last = now
                episode.details = details
                for name in episode.sums:
                    value = details.get(name)
                    if isinstance(value, int | float):
                        episode.totals[name] = episode.totals.get(name, 0) + value
        self._emit(lines)

    def flush(self) -> None:
        """Close every window that has run its length (summaries and ended events are logged)."""
        lines: list[Line] = []
        with self._lock:
            self._close_windows(self._clock(), lines)
        self._emit(lines)

    def close(self) -> None:
        """Log the summary of every open window now (at shutdown), and forget all episodes."""
        lines: list[Line] = []
        with self._lock:
            now = self._clock()
            for (event, _), episode in self._episodes.items():
                if episode.repeats:
                    lines.append((episode.level, event, self._summary(episode, now)))
            self._episodes.clear()
        self._emit(lines)

    def _close_windows(self, now: float, lines: list[Line]) -> None:
        for ident, episode in list(self._episodes.items()):
            if now - episode.window_start < self._window:
                continue
            event = ident[0]
            if episode.repeats:
                lines.append((episode.level, event, self._summary(episode, now)))
                episode.repeats = 0
                episode.totals = {}
                episode.window_start = now
                continue
            del self._episodes[ident]
            if episode.ended is not None:
                lasted = round(episode.last - episode.started, 1)
                fields = {**episode.key, "occurrences": episode.occurrences, "lasted_s": lasted}
                lines.append(("info", episode.ended, fields))

    def _summary(self, episode: _Episode, now: float) -> dict[str, Any]:
        details = {**episode.details}
        for name in episode.sums:
            details[name] = episode.totals.get(name, 0)  # over the repeats of this window
        return {
            **episode.key,
            **details,
            "repeated": episode.repeats,
            "window_s": round(min(self._window, now - episode.window_start), 1),
            "since_s": round(now - episode.started, 1),
        }

    def _emit(self, lines: list[Line]) -> None:
        for level, event, fields in lines:
            getattr(self._log, level)(event, **fields)


def close_all() -> None:
    """Log the open windows of every background aggregator (at process exit, so no count is lost)."""
    _Flusher.close_all()


def _hashable(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value


class _Flusher:
    """One daemon thread for the process, flushing live aggregators once a second."""

    _lock = threading.Lock()
    _aggregators: weakref.WeakSet[EventAggregator] = weakref.WeakSet()
    _thread: threading.Thread | None = None

    @classmethod
    def register(cls, aggregator: EventAggregator) -> None:
        with cls._lock:
            cls._aggregators.add(aggregator)
            if cls._thread is None:
                cls._thread = threading.Thread(target=cls._run, name="log-event-flusher", daemon=True)
                cls._thread.start()

    @classmethod
    def close_all(cls) -> None:
        with cls._lock:
            live = list(cls._aggregators)
        for aggregator in live:
            aggregator.close()

    @classmethod
    def _run(cls) -> None:
        while True:
            time.sleep(1.0)
            with cls._lock:
                live = list(cls._aggregators)
            for aggregator in live:
                try:
                    aggregator.flush()
                except Exception:  # noqa: S112 - a broken log sink must not stop the flusher
                    continue
