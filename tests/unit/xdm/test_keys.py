"""The mapping keys `schema` / `validate` and the config section `xdm`: every mistake reported at parse time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from connector.config import MappingSource, XdmSettings, parse_settings
from connector.mapping.spec import parse_spec
from connector.xdm.ref import SchemaRef
from tests.unit.xdm.helpers import LOYALTY_SCHEMA_FILE, REPO

BASE = """
name: m
topics: [t]
xdm_class: experienceevent
schema_id: https://ns.adobe.com/acme/schemas/1
dataset_id: ds1
allow_no_identity: true
fields: {timestamp: value.ts}
"""


def parse(extra: str, base_dir: Path = REPO) -> tuple[Any, list[str]]:
    spec = yaml.safe_load(BASE + extra)
    return parse_spec(MappingSource("m", spec, "<test>", base_dir))


def test_schema_forms_and_default_modes() -> None:
    """$id, from-dataset and a file; validate defaults to strict with a schema and off without."""
    spec, problems = parse("schema: https://ns.adobe.com/acme/schemas/1\n")
    assert problems == [] and spec.schema == SchemaRef("id", "https://ns.adobe.com/acme/schemas/1")
    assert spec.validate == "strict"
    spec, problems = parse("schema: from-dataset\nvalidate: warn\n")
    assert problems == [] and spec.schema == SchemaRef("dataset", "ds1") and spec.validate == "warn"
    spec, problems = parse(f"schema: {LOYALTY_SCHEMA_FILE.relative_to(REPO)}\nvalidate: off\n")
    assert problems == [] and spec.schema == SchemaRef("file", str(LOYALTY_SCHEMA_FILE)) and spec.validate == "off"
    spec, problems = parse("")
    assert problems == [] and spec.schema is None and spec.validate == "off"


def test_mistakes_are_reported() -> None:
    """Another $id than schema_id, a bad mode, strict with no schema, a missing file, the old key name."""
    _, problems = parse("schema: https://ns.adobe.com/acme/schemas/2\n")
    assert problems == [
        "schema: https://ns.adobe.com/acme/schemas/2 is not the envelope's schema_id "
        "https://ns.adobe.com/acme/schemas/1: DCS checks records against the dataset's schema, so validate "
        "against that one"
    ]
    _, problems = parse("schema: from-dataset\nvalidate: loose\n")
    assert problems == ["validate: must be one of strict, warn, off, got 'loose'"]
    _, problems = parse("validate: strict\n")
    assert problems == ["validate: strict needs schema: (a schema $id, from-dataset, or an exported schema file)"]
    _, problems = parse("schema: nowhere/s.json\n")
    assert len(problems) == 1 and "schema: file not found" in problems[0] and "schema pull" in problems[0]
    _, problems = parse("xdm_schema: s.json\n")
    assert problems == ["xdm_schema: renamed to schema (a schema $id, from-dataset, or an exported schema file)"]
    _, problems = parse("schema: [a]\n")
    assert problems == ["schema: expected a schema $id, from-dataset or a file path, got ['a']"]


def config(xdm: Any, tmp_path: Path) -> tuple[Any, list[str]]:
    raw = {
        "kafka": {"bootstrap_servers": "k:9092", "topics": ["t"]},
        "aep": {"inlet_url": "https://dcs.adobedc.net/collection/x"},
        "dead_letter": {"topic": "dlq"},
        "mappings": [{"file": "x.yaml"}],
        "xdm": xdm,
    }
    return parse_settings(raw, {}, tmp_path)


def test_xdm_section_defaults_and_relative_cache_dir(tmp_path: Path) -> None:
    """No section: defaults; cache_dir is resolved against the config file's directory."""
    settings, _ = config(None, tmp_path)
    assert settings.xdm == XdmSettings()
    settings, _ = config({"cache_dir": "cache/xdm", "refresh_interval_s": 60}, tmp_path)
    assert settings.xdm.cache_dir == tmp_path / "cache" / "xdm"
    assert settings.xdm.refresh_interval_s == 60.0


def test_xdm_section_problems(tmp_path: Path) -> None:
    """Too short an interval, a negative timeout and an unknown key are all reported."""
    _, problems = config({"refresh_interval_s": 1, "startup_timeout_s": -1, "ttl": 3}, tmp_path)
    xdm = [p for p in problems if p.startswith("xdm")]
    assert xdm == [
        "xdm.refresh_interval_s: must be >= 10.0, got 1.0",
        "xdm.startup_timeout_s: must be >= 0.0, got -1.0",
        "xdm.ttl: unknown key",
    ]
