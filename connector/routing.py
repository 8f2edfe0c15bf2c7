"""Topic -> (decoder, mapping): which mapping handles a record, resolved once per topic."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from connector.interfaces import Deserializer, Mapper


@dataclass(frozen=True, slots=True)
class Pipeline:
    """How one topic's records are decoded and mapped."""

    deserializer: Deserializer
    mapper: Mapper


class Router:
    def __init__(self, entries: Sequence[tuple[Sequence[str], Pipeline]]) -> None:
        self._exact: dict[str, Pipeline] = {}
        self._patterns: list[tuple[re.Pattern[str], Pipeline]] = []
        for topics, pipeline in entries:
            for t in topics:
                if t.startswith("^"):
                    self._patterns.append((re.compile(t), pipeline))
                else:
                    self._exact[t] = pipeline
        self._cache: dict[str, Pipeline | None] = {}

    def pipeline_for(self, topic: str) -> Pipeline | None:
        try:
            return self._cache[topic]
        except KeyError:
            found = self._exact.get(topic)
            if found is None:
                found = next((p for rx, p in self._patterns if rx.match(topic)), None)
            self._cache[topic] = found
            return found
