"""The routing table `check` prints: topic -> mapping -> XDM class -> inlet / flow / dataset / sandbox.

One row per (topic or ^regex, mapping). COLUMNS is the single list to extend: a new per-mapping
setting (say `destination: edge`) is one more Column with a title and a function of the compiled
mapping and the settings.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from connector.config import Settings


@dataclass(frozen=True, slots=True)
class Column:
    title: str
    cell: Callable[[Any, Settings], str | None]  # (compiled mapping, settings) -> text; None shows as "-"


def _inlet(mapping: Any, _: Settings) -> str:
    return str(mapping.route.inlet_url).rstrip("/").rsplit("/", 1)[-1]


COLUMNS: list[Column] = [
    Column("MAPPING", lambda m, _: m.name),
    Column("FORMAT", lambda m, _: m.format),
    Column("XDM CLASS", lambda m, _: m.xdm_class),
    Column("INLET", _inlet),
    Column("FLOW", lambda m, _: m.route.flow_id),
    Column("DATASET", lambda m, _: m.parsed.dataset_id),
    Column("SANDBOX", lambda m, _: m.route.sandbox),
]


def routing_rows(mappings: Sequence[Any], settings: Settings, columns: Sequence[Column] = COLUMNS) -> list[list[str]]:
    rows: list[list[str]] = []
    for m in mappings:
        cells = [c.cell(m, settings) or "-" for c in columns]
        rows.extend([topic, *cells] for topic in m.topics)
    return rows


def format_routing(mappings: Sequence[Any], settings: Settings, columns: Sequence[Column] = COLUMNS) -> str:
    header = ["TOPIC", *(c.title for c in columns)]
    rows = [header, *routing_rows(mappings, settings, columns)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows)
