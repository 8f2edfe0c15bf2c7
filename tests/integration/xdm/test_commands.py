"""`schema pull`, `check` and `preview` with XDM schemas, against the emulator's Schema Registry over loopback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from connector.cli import main
from connector.emulator import EmulatorServer
from tests.integration.xdm.helpers import Audited, audit_value, validating_config

pytestmark = pytest.mark.integration


def config(tmp_path: Path, aep: EmulatorServer, audited: Audited, name: str = "c.yaml", **mapping: Any) -> Path:
    """A config for the audit mapping; no Kafka is contacted by these commands."""
    return validating_config(
        tmp_path / name,
        bootstrap="127.0.0.1:9",
        group="g",
        topic="audit",
        dead_letter="audit-dlq",
        emulator=aep,
        audited=audited,
        cache_dir=tmp_path / "cache",
        **mapping,
    )


def edit_mapping(path: Path, **changes: Any) -> None:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["mappings"][0].update(changes)
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")


def test_schema_pull_writes_the_resolved_schema_for_offline_use(
    tmp_path: Path, aep: EmulatorServer, audited: Audited, capsys: pytest.CaptureFixture[str]
) -> None:
    """schema pull writes the schema as AEP returned it (resolved); a mapping then validates offline from the file."""
    cfg = config(tmp_path, aep, audited)
    assert main(["schema", "pull", "-c", str(cfg), "--out", str(tmp_path / "schemas")]) == 0
    written = tmp_path / "schemas" / "audit-audit.xdm.json"
    resolved = audited.resolved(aep.url)
    assert json.loads(written.read_text(encoding="utf-8")) == resolved
    assert "n" in resolved["properties"]["_acme"]["properties"], "field groups expanded into properties"
    assert f"wrote {written} ({audited.schema_id} version {resolved['version']})" in capsys.readouterr().out
    aep.stop()  # offline from here on
    edit_mapping(cfg, schema=str(written))
    assert main(["check", "-c", str(cfg)]) == 0
    assert "OK" in capsys.readouterr().out


def test_schema_pull_fills_in_the_file_a_mapping_names(tmp_path: Path, aep: EmulatorServer, audited: Audited) -> None:
    """A mapping whose schema: file does not exist yet (check reports it) gets it written by schema pull."""
    cfg = config(tmp_path, aep, audited, schema="schemas/audit.json")
    assert main(["check", "-c", str(cfg)]) == 2
    assert main(["schema", "pull", "-c", str(cfg)]) == 0
    pulled = json.loads((tmp_path / "schemas" / "audit.json").read_text(encoding="utf-8"))
    assert pulled["$id"] == audited.schema_id
    assert main(["check", "-c", str(cfg)]) == 0


def test_check_reports_mapped_fields_the_schema_lacks(
    tmp_path: Path, aep: EmulatorServer, audited: Audited, capsys: pytest.CaptureFixture[str]
) -> None:
    """check --connect fetches the schema and names a mapped field AEP would drop records for (exit 2)."""
    cfg = config(tmp_path, aep, audited)
    doc = yaml.safe_load(cfg.read_text(encoding="utf-8"))
    doc["mappings"][0]["fields"]["_acme.extra"] = "value.n"
    cfg.write_text(yaml.safe_dump(doc), encoding="utf-8")
    assert main(["check", "-c", str(cfg), "--connect"]) == 2
    err = capsys.readouterr().err
    version = audited.resolved(aep.url)["version"]
    assert f"fields._acme.extra: not in schema {audited.schema_id} version {version} (AEP drops records" in err


def test_check_says_clearly_when_the_schema_cannot_be_fetched(
    tmp_path: Path, aep: EmulatorServer, audited: Audited, capsys: pytest.CaptureFixture[str]
) -> None:
    """Platform API unreachable, nothing cached: check --connect says the worker would not start, and why (exit 4);
    without --connect nothing is contacted and the note says the schema was not checked."""
    cfg = config(tmp_path, aep, audited, platform_url="http://127.0.0.1:9")
    assert main(["check", "-c", str(cfg)]) == 0
    assert "not fetched from AEP (check --connect does) and no copy is cached in" in capsys.readouterr().out
    assert main(["check", "-c", str(cfg), "--connect"]) == 4
    err = capsys.readouterr().err
    assert "unreachable: mapping audit-audit:" in err and "AEP is unreachable" in err
    assert "no copy is cached in" in err and "the worker does not start without its schema" in err


def test_check_notes_a_mapping_without_schema(
    tmp_path: Path, aep: EmulatorServer, audited: Audited, capsys: pytest.CaptureFixture[str]
) -> None:
    """A mapping with no schema: is fine, but check says records are not validated before sending."""
    cfg = config(tmp_path, aep, audited)
    doc = yaml.safe_load(cfg.read_text(encoding="utf-8"))
    del doc["mappings"][0]["schema"]
    cfg.write_text(yaml.safe_dump(doc), encoding="utf-8")
    assert main(["check", "-c", str(cfg)]) == 0
    assert "note: no schema: for mapping(s) audit-audit: records are not validated" in capsys.readouterr().out


def test_preview_validates_like_the_worker(
    tmp_path: Path, aep: EmulatorServer, audited: Audited, capsys: pytest.CaptureFixture[str]
) -> None:
    """preview fetches the dataset's schema and reports violations as the worker would dead-letter them."""
    lines = tmp_path / "in.jsonl"
    lines.write_bytes(audit_value(1, 1) + b"\n" + audit_value("x", 2) + b"\n")
    cfg = config(tmp_path, aep, audited)
    assert main(["preview", "-c", str(cfg), "--mapping", "audit-audit", "--input", str(lines)]) == 1
    err = capsys.readouterr().err
    version = audited.resolved(aep.url)["version"]
    assert f"validating against {audited.schema_id} version {version} (aep)" in err
    assert 'record 1: ERROR xdm-invalid: /_acme/n: type: expected integer, found string "x"' in err
    assert "1 mapped, 1 failed" in err
