"""Shared test helpers: compile the shipped mappings with a fixed clock and fixed AEP settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from connector.config import AepSettings, MappingSource
from connector.mapping import CompiledMapping, compile_mappings, load_mapping_file
from connector.records import SourceRecord

REPO = Path(__file__).resolve().parents[3]
MAPPINGS = REPO / "config" / "mappings"
SAMPLES = REPO / "connector" / "samples"
GOLDEN = Path(__file__).resolve().parent / "golden"
NOW = 1_750_000_000.0  # 2025-06-15T15:06:40Z
AEP = AepSettings(
    inlet_url="https://dcs.adobedc.net/collection/0123456789abcdef",
    flow_id="d8a6f005-flow",
    ims_org="5D5E1D0A5E1C2A0A0A49411A@AdobeOrg",
    sandbox="dev",
    headers={"x-team": "data"},
)


def clock() -> float:
    return NOW


def shipped(name: str) -> CompiledMapping:
    """A mapping from config/mappings, compiled; fails the test on any problem."""
    compiled, problems = compile_mappings([load_mapping_file(MAPPINGS / f"{name}.yaml")], AEP, clock=clock)
    assert problems == []
    return compiled[0]


def inline(text: str | dict[str, Any], name: str = "inline") -> tuple[list[CompiledMapping], list[str]]:
    """Compile one mapping given as YAML text or as a parsed dict."""
    spec = yaml.safe_load(text) if isinstance(text, str) else text
    return compile_mappings([MappingSource(name, spec, "<test>", REPO)], AEP, clock=clock)


def compile_one(text: str | dict[str, Any]) -> CompiledMapping:
    compiled, problems = inline(text)
    assert problems == []
    return compiled[0]


def record(offset: int = 0, *, topic: str = "t", key: bytes | None = None, **kw: Any) -> SourceRecord:
    return SourceRecord(topic, kw.pop("partition", 0), offset, key, b"", **kw)


BASE = """
name: t
topics: [t]
xdm_class: experienceevent
schema_id: https://ns.adobe.com/acme/schemas/1
dataset_id: ds1
tenant: acme
identities:
  - {namespace: Email, value: value.email, primary: true}
"""
