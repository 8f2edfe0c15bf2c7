"""`aep-connector preview`: envelopes on stdout, per-record errors on stderr, exit 1 when any failed."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from connector.commands import preview
from connector.errors import ConfigError
from tests.unit.mapping.helpers import MAPPINGS, SAMPLES

SCHEMA = Path(__file__).parent / "fixtures" / "loyalty-event-schema.json"


def _config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "connector.yaml"
    path.write_text(
        f"""
kafka: {{bootstrap_servers: "localhost:9092", topics: [loyalty-events]}}
aep: {{inlet_url: "https://dcs.adobedc.net/collection/abc"}}
dead_letter: {{topic: dlq}}
mappings:
  - file: {MAPPINGS / "loyalty-events.yaml"}
{extra}
""",
        encoding="utf-8",
    )
    return path


def _run(config: Path, input_path: Path, mapping: str = "loyalty-events", limit: int | None = None) -> int:
    parser = argparse.ArgumentParser()
    preview.add_arguments(parser)
    argv = ["-c", str(config), "--mapping", mapping, "--input", str(input_path)]
    if limit is not None:
        argv += ["--limit", str(limit)]
    return preview.main(parser.parse_args(argv))


def test_json_array_input_maps_every_record(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A JSON array file: every envelope is printed and the exit code is 0."""
    code = _run(_config(tmp_path), SAMPLES / "loyalty-events.json", limit=3)
    out, err = capsys.readouterr()
    assert code == 0
    assert out.count('"xdmEntity"') == 3
    assert "3 mapped, 0 failed" in err


def test_json_lines_with_bad_records_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Unmappable and undecodable lines are reported with reason and field path; exit code 1."""
    values = json.loads((SAMPLES / "loyalty-events.json").read_text(encoding="utf-8"))[:2]
    values[1]["timestamp"] = "garbage"
    lines = tmp_path / "in.jsonl"
    lines.write_text("\n".join(json.dumps(v) for v in values) + "\n\n{oops\n", encoding="utf-8")
    code = _run(_config(tmp_path), lines)
    out, err = capsys.readouterr()
    assert code == 1
    assert out.count('"xdmEntity"') == 1
    assert "record 1: ERROR bad-timestamp: timestamp: cannot parse 'garbage'" in err
    assert "record 2: ERROR decode: invalid JSON" in err


def test_schema_violations_are_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With schema: set to an exported file, entities are validated as the worker does; violations fail the record."""
    values = json.loads((SAMPLES / "loyalty-events.json").read_text(encoding="utf-8"))[:2]
    values[0]["_exchangeinternal"]["loyaltyLevel"] = "Bronze"
    lines = tmp_path / "in.jsonl"
    lines.write_text("\n".join(json.dumps(v) for v in values) + "\n", encoding="utf-8")
    code = _run(_config(tmp_path, f"    schema: {SCHEMA}"), lines)
    out, err = capsys.readouterr()
    assert code == 1
    assert out.count('"xdmEntity"') == 2
    assert 'record 0: ERROR xdm-invalid: /_exchangeinternal/loyaltyLevel: enum: "Bronze" is not one of' in err
    assert "record 1:" not in err
    assert "validating against https://ns.adobe.com/exchangeinternal/schemas/loyalty-events version 1.0 (file)" in err
    assert "1 mapped, 1 failed" in err


def test_unknown_mapping_is_a_config_error(tmp_path: Path) -> None:
    """--mapping naming no configured mapping raises ConfigError (exit 2 in the CLI)."""
    with pytest.raises(ConfigError, match="no mapping named 'nope'"):
        _run(_config(tmp_path), SAMPLES / "loyalty-events.json", mapping="nope")
