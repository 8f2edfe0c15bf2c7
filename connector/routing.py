"""Topic -> (decoder, mapping): which mapping handles a record, resolved once per topic.

One topic has exactly one mapping: a record is decoded, mapped and committed once. Overlaps are
refused, never resolved by order: at start (`topic_problems`: a topic named by two mappings, or
named by one and matched by another's ^regex, or the dead-letter topic routed) and, for what
only live topic names can show (two ^regexes matching one topic, the dead-letter topic
consumed), by the router, which stops the worker with a FatalError.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from connector.config import Settings
from connector.errors import ConfigError, FatalError
from connector.interfaces import Deserializer, Mapper

FAN_OUT_HINT = (
    "a record is routed to one mapping only; to send one topic to two places, run a second connector "
    "with its own config and kafka.group_id (each consumer group reads every record), and to narrow a "
    r"^regex, exclude the topic from it (e.g. ^orders\.(?!returns$).*)"
)


@dataclass(frozen=True, slots=True)
class Pipeline:
    """How one topic's records are decoded and mapped."""

    deserializer: Deserializer
    mapper: Mapper


def _matches(pattern: str, topic: str) -> bool:
    if not pattern.startswith("^"):
        return pattern == topic
    try:
        return re.match(pattern, topic) is not None
    except re.error:
        return False  # reported where the pattern was read


def topic_problems(
    mappings: Sequence[tuple[str, Sequence[str]]], subscribed: Sequence[str] = (), dead_letter_topic: str = ""
) -> list[str]:
    """Every overlap visible from the config: (mapping name, topics) pairs, kafka.topics, the DLQ."""
    problems: list[str] = []
    named = {t for _, topics in mappings for t in topics if not t.startswith("^")}
    named |= {t for t in subscribed if not t.startswith("^")}
    for topic in sorted(named):
        owners = [name for name, topics in mappings if any(_matches(p, topic) for p in topics)]
        if len(owners) > 1:
            names = ", ".join(owners)
            problems.append(f"topic {topic!r} is handled by {len(owners)} mappings ({names}): {FAN_OUT_HINT}")
    patterns: dict[str, str] = {}
    for name, topics in mappings:
        for p in topics:
            if p.startswith("^") and patterns.setdefault(p, name) != name:
                problems.append(f"pattern {p!r} is used by mappings {patterns[p]} and {name}: {FAN_OUT_HINT}")
    if dead_letter_topic:
        for name, topics in mappings:
            if any(_matches(p, dead_letter_topic) for p in topics):
                problems.append(
                    f"mapping {name}: its topics match the dead-letter topic {dead_letter_topic!r}; dead letters "
                    "must never be routed (they would be dead-lettered again, forever)"
                )
    return problems


def routing_problems(settings: Settings, mappings: Sequence[Mapper]) -> list[str]:
    """`topic_problems` of a config and its compiled mappings (for `check` and start-up)."""
    pairs = [(mp.name, tuple(getattr(mp, "topics", ()))) for mp in mappings]
    return topic_problems(pairs, settings.kafka.topics, settings.dead_letter.topic)


class Router:
    """Finds the one pipeline of a topic; raises FatalError when a live topic has none that is safe."""

    def __init__(self, entries: Sequence[tuple[Sequence[str], Pipeline]], dead_letter_topic: str = "") -> None:
        problems = topic_problems([(p.mapper.name, topics) for topics, p in entries], (), dead_letter_topic)
        if problems:
            raise ConfigError(problems)
        self._exact: dict[str, Pipeline] = {}
        self._patterns: list[tuple[re.Pattern[str], Pipeline]] = []
        for topics, pipeline in entries:
            for t in topics:
                if t.startswith("^"):
                    self._patterns.append((re.compile(t), pipeline))
                else:
                    self._exact[t] = pipeline
        self._dead_letter_topic = dead_letter_topic
        self._cache: dict[str, Pipeline | None] = {}

    def pipeline_for(self, topic: str) -> Pipeline | None:
        try:
            return self._cache[topic]
        except KeyError:
            found = self._resolve(topic)
            self._cache[topic] = found
            return found

    def _resolve(self, topic: str) -> Pipeline | None:
        if topic == self._dead_letter_topic:
            raise FatalError(
                f"the worker consumed its own dead-letter topic {topic!r}: a kafka.topics ^regex matches it; "
                "dead letters are never routed (they would loop): narrow the pattern or rename the topic"
            )
        found = self._exact.get(topic)
        if found is not None:
            return found  # an exact name is never also matched by another mapping: checked at start
        matched: list[Pipeline] = []
        for rx, pipeline in self._patterns:
            if rx.match(topic) and all(pipeline is not m for m in matched):
                matched.append(pipeline)
        if len(matched) > 1:
            names = ", ".join(p.mapper.name for p in matched)
            raise FatalError(f"topic {topic!r} matches the ^regex of {len(matched)} mappings ({names}): {FAN_OUT_HINT}")
        return matched[0] if matched else None
