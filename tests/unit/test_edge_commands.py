"""`preview`, `check` and `provision` with `destination: edge` mappings."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from connector.cli import main as cli
from connector.commands import preview, provision
from connector.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
MAPPINGS = REPO / "config" / "mappings"
SAMPLES = REPO / "connector" / "samples"
SCHEMA = REPO / "tests" / "unit" / "mapping" / "fixtures" / "loyalty-event-schema.json"


def _config(tmp_path: Path, extra: str = "", auth: bool = False) -> Path:
    """loyalty-events.yaml sent to a datastream instead of DCS (no inlet_url needed), plus `extra` keys."""
    path = tmp_path / "connector.yaml"
    auth_block = "  auth: {enabled: true, client_id: c, client_secret: s}\n" if auth else ""
    path.write_text(
        f"""
kafka: {{bootstrap_servers: "localhost:9092", topics: [loyalty-events]}}
aep:
  ims_org: ORG@AdobeOrg
{auth_block}dead_letter: {{topic: dlq}}
mappings:
  - file: {MAPPINGS / "loyalty-events.yaml"}
    destination: edge
    datastream_id: 7d1c-datastream
    schema_id: null
    dataset_id: null
{extra}
""",
        encoding="utf-8",
    )
    return path


def _preview(config: Path, input_path: Path) -> int:
    parser = argparse.ArgumentParser()
    preview.add_arguments(parser)
    return preview.main(
        parser.parse_args(["-c", str(config), "--mapping", "loyalty-events", "--input", str(input_path)])
    )


def test_check_accepts_an_edge_mapping_without_inlet_schema_or_dataset(tmp_path: Path) -> None:
    assert cli(["check", "-c", str(_config(tmp_path))]) == 0


def test_check_reports_edge_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _config(tmp_path, "    datastream_overrides: [oops]\n    xdm_class: profile")
    assert cli(["check", "-c", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "datastream_overrides: must be a mapping" in err and "carries ExperienceEvents only" in err


def test_preview_prints_edge_events_and_validates_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Edge events are {"xdm": ...}; XDM schema validation (schema:) applies to the xdm object."""
    values = json.loads((SAMPLES / "loyalty-events.json").read_text(encoding="utf-8"))[:2]
    values[1]["_exchangeinternal"]["loyaltyLevel"] = "Bronze"
    lines = tmp_path / "in.jsonl"
    lines.write_text("\n".join(json.dumps(v) for v in values) + "\n", encoding="utf-8")
    code = _preview(_config(tmp_path, f"    schema: {SCHEMA}"), lines)
    out, err = capsys.readouterr()
    assert code == 1
    assert out.count('"xdm": {') == 2 and '"xdmEntity"' not in out
    assert "record 1: ERROR xdm-invalid: /_exchangeinternal/loyaltyLevel: enum" in err


def _provision(config: Path, *flags: str) -> int:
    parser = argparse.ArgumentParser()
    provision.add_arguments(parser)
    return provision.main(parser.parse_args(["-c", str(config), *flags]))


def test_provision_datastreams_says_what_it_cannot_create(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No API creates datastreams: provision lists the UI steps per datastream and creates nothing."""
    cfg = _config(tmp_path, "    datastream_overrides: {com_adobe_analytics: {reportSuites: [rs1]}}", auth=True)
    assert _provision(cfg, "--datastreams") == 0
    out = capsys.readouterr().out
    assert "provision cannot create or change datastreams" in out and "Data Collection UI" in out
    assert "datastream 7d1c-datastream: used by loyalty-events" in out
    assert "server.adobedc.net" in out and "Accept only authenticated events" in out
    assert "overrides com_adobe_analytics" in out
    assert "Event Dataset's id into the dataset_id of loyalty-events" in out


def test_provision_without_names_asks_for_them(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--name: is required"):
        _provision(_config(tmp_path))
