"""`check` reports empty keys that have a default, and one problem per cause (an unset ${VAR} once)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from connector.cli import main
from connector.config import parse_settings

REPO = Path(__file__).resolve().parents[2]


def config(**sections: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "kafka": {"bootstrap_servers": "127.0.0.1:9092", "topics": ["t"]},
        "aep": {"inlet_url": "https://dcs.adobedc.net/collection/abc"},
        "dead_letter": {"topic": "t.dlq"},
        "mappings": [{"file": str(REPO / "config" / "mappings" / "loyalty-profiles.yaml"), "topics": ["t"]}],
    }
    for name, values in sections.items():
        doc[name] = {**doc.get(name, {}), **values}
    return doc


def problems(doc: dict[str, Any], environ: dict[str, str] | None = None) -> list[str]:
    return parse_settings(doc, environ or {}, REPO)[1]


def test_empty_group_id_is_reported() -> None:
    """kafka.group_id: "" (an unset variable, often) is a problem, not a silent default or an empty group."""
    assert problems(config(kafka={"group_id": ""})) == [
        "kafka.group_id: must not be empty (leave it out for the default aep-connector)"
    ]
    assert problems(config(kafka={"group_id": "${GROUP:-}"})) == [
        "kafka.group_id: must not be empty (leave it out for the default aep-connector)"
    ]
    assert problems(config()) == []


def test_empty_optional_values_without_default_stay_allowed() -> None:
    """`${VAR:-}` for optional keys (flow id, sandbox, client id when auth is off) means unset: no problem."""
    assert problems(config(aep={"flow_id": "${AEP_FLOW_ID:-}", "sandbox": "", "auth": {"client_id": ""}})) == []


def test_one_unset_variable_is_one_problem() -> None:
    """An unset ${VAR} for a required secret: the variable is named once, no second 'is required' for it."""
    doc = config(aep={"ims_org": "O@AdobeOrg", "auth": {"enabled": True, "client_id": "id",
                                                          "client_secret": "${AEP_CLIENT_SECRET}"}})  # fmt: skip
    assert problems(doc) == ["aep.auth.client_secret: environment variable AEP_CLIENT_SECRET is not set"]


def test_each_cause_is_still_reported() -> None:
    """Two unset variables and an unrelated missing value: three problems, each once."""
    doc = config(aep={"auth": {"enabled": True, "client_id": "${AEP_CLIENT_ID}", "client_secret": "${AEP_SECRET}"}},
                 dead_letter={"topic": None})  # fmt: skip
    assert sorted(problems(doc)) == [
        "aep.auth.client_id: environment variable AEP_CLIENT_ID is not set",
        "aep.auth.client_secret: environment variable AEP_SECRET is not set",
        "dead_letter.topic: is required",
    ]


def test_check_command_prints_one_line_per_cause(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """`aep-connector check` on such a config: exit 2, two lines (empty group id, unset secret)."""
    monkeypatch.delenv("OPS2_UNSET_SECRET", raising=False)
    doc = config(kafka={"group_id": ""}, aep={"ims_org": "O@AdobeOrg", "auth": {
        "enabled": True, "client_id": "id", "client_secret": "${OPS2_UNSET_SECRET}"}})  # fmt: skip
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(doc), encoding="utf-8")
    assert main(["check", "-c", str(cfg)]) == 2
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("  - ")]
    assert lines == [
        "  - aep.auth.client_secret: environment variable OPS2_UNSET_SECRET is not set",
        "  - kafka.group_id: must not be empty (leave it out for the default aep-connector)",
    ]
