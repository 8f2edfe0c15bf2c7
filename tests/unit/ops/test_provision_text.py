"""`provision --write` edits only the aep.inlet_url / aep.flow_id lines of the config."""

from __future__ import annotations

import pytest
import yaml

from connector.errors import FatalError
from connector.ops.provision import ProvisionResult, config_snippet, update_config_text

CONFIG = """\
# connector config
kafka:
  bootstrap_servers: localhost:9092   # local broker
  topics: [a]
aep:
  # the DCS inlet
  inlet_id: 0123abcd
  sandbox: prod

  auth:
    enabled: true
    client_id: id
dead_letter:
  topic: a.dlq
"""


def test_replaces_inlet_id_and_adds_flow_id_keeping_comments() -> None:
    """inlet_id becomes inlet_url, flow_id is added; every other line and comment is unchanged."""
    out = update_config_text(CONFIG, "https://dcs.example/collection/abc", "flow-1")
    doc = yaml.safe_load(out)
    assert doc["aep"]["inlet_url"] == "https://dcs.example/collection/abc"
    assert doc["aep"]["flow_id"] == "flow-1"
    assert "inlet_id" not in doc["aep"] and doc["aep"]["auth"]["client_id"] == "id"
    assert "# the DCS inlet\n" in out and "localhost:9092   # local broker" in out
    assert len(out.splitlines()) == len(CONFIG.splitlines()) + 1


def test_replaces_existing_values_in_place_with_their_indent() -> None:
    """Existing inlet_url and flow_id lines are rewritten at their own indentation."""
    text = "aep:\n    inlet_url: https://old/collection/x\n    flow_id: old\nkafka:\n    group_id: g\n"
    out = update_config_text(text, "https://new/collection/y", "new")
    assert out == "aep:\n    inlet_url: https://new/collection/y\n    flow_id: new\nkafka:\n    group_id: g\n"


def test_nested_keys_of_the_same_name_are_left_alone() -> None:
    """Only direct children of aep are edited (not e.g. a mapping's own flow_id deeper down)."""
    text = "aep:\n  headers:\n    flow_id: keep\n  inlet_url: https://a/collection/b\n"
    doc = yaml.safe_load(update_config_text(text, "https://c/collection/d", "f"))
    assert doc["aep"]["headers"]["flow_id"] == "keep" and doc["aep"]["flow_id"] == "f"


def test_missing_aep_section_is_appended() -> None:
    """A config without aep gets the section at the end."""
    out = update_config_text("kafka:\n  topics: [a]", "https://c/collection/d", "f")
    assert yaml.safe_load(out)["aep"] == {"inlet_url": "https://c/collection/d", "flow_id": "f"}


def test_inline_aep_section_is_refused() -> None:
    """A flow-style aep mapping cannot be edited by lines."""
    with pytest.raises(FatalError):
        update_config_text("aep: {inlet_url: x}\n", "https://c/collection/d", "f")


def test_snippet_is_valid_yaml() -> None:
    """The printed snippet is the aep section with inlet_url and flow_id."""
    snippet = config_snippet(ProvisionResult(inlet_url="https://dcs/collection/x", flow_id="f-1"))
    assert yaml.safe_load(snippet) == {"aep": {"inlet_url": "https://dcs/collection/x", "flow_id": "f-1"}}
