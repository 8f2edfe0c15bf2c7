"""`provision --write` edits only the aep.inlet_url / aep.flow_id values of the config."""

from __future__ import annotations

import pytest
import yaml

from connector.errors import FatalError
from connector.ops.config_edit import update_config_text
from connector.ops.provision import ProvisionResult, config_snippet

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
    out = update_config_text(CONFIG, "https://dcs.example/collection/abc", "flow-1").text
    doc = yaml.safe_load(out)
    assert doc["aep"]["inlet_url"] == "https://dcs.example/collection/abc"
    assert doc["aep"]["flow_id"] == "flow-1"
    assert "inlet_id" not in doc["aep"] and doc["aep"]["auth"]["client_id"] == "id"
    assert "# the DCS inlet\n" in out and "localhost:9092   # local broker" in out
    assert len(out.splitlines()) == len(CONFIG.splitlines()) + 1


def test_replaces_existing_values_in_place_with_their_indent() -> None:
    """Existing inlet_url and flow_id lines are rewritten at their own indentation."""
    text = "aep:\n    inlet_url: https://old/collection/x\n    flow_id: old\nkafka:\n    group_id: g\n"
    out = update_config_text(text, "https://new/collection/y", "new").text
    assert out == "aep:\n    inlet_url: https://new/collection/y\n    flow_id: new\nkafka:\n    group_id: g\n"


def test_nested_keys_of_the_same_name_are_left_alone() -> None:
    """Only direct children of aep are edited (not e.g. a mapping's own flow_id deeper down)."""
    text = "aep:\n  headers:\n    flow_id: keep\n  inlet_url: https://a/collection/b\n"
    doc = yaml.safe_load(update_config_text(text, "https://c/collection/d", "f").text)
    assert doc["aep"]["headers"]["flow_id"] == "keep" and doc["aep"]["flow_id"] == "f"


def test_missing_aep_section_is_appended() -> None:
    """A config without aep gets the section at the end."""
    out = update_config_text("kafka:\n  topics: [a]", "https://c/collection/d", "f").text
    assert yaml.safe_load(out)["aep"] == {"inlet_url": "https://c/collection/d", "flow_id": "f"}


def test_inline_aep_section_is_refused() -> None:
    """A flow-style aep mapping cannot be edited by lines."""
    with pytest.raises(FatalError):
        update_config_text("aep: {inlet_url: x}\n", "https://c/collection/d", "f")


def test_trailing_comments_and_quotes_on_the_edited_lines_are_kept() -> None:
    """Only the value changes: the comment after it, its quoting and the line ending stay."""
    text = (
        "aep:   # AEP settings\n"
        "  inlet_url: https://old/collection/x   # from provision\n"
        "  flow_id: 'old-flow' # the dataflow\r\n"
        '  sandbox: "dev # not a comment"  # sandbox\n'
    )
    out = update_config_text(text, "https://new/collection/y", "f-2").text
    assert out == (
        "aep:   # AEP settings\n"
        "  inlet_url: https://new/collection/y   # from provision\n"
        "  flow_id: 'f-2' # the dataflow\r\n"
        '  sandbox: "dev # not a comment"  # sandbox\n'
    )


def test_default_of_an_indirection_is_edited_in_place() -> None:
    """`${VAR:-default}` keeps the variable and gets the new default; a note says VAR still wins."""
    text = 'aep:\n  inlet_url: "${AEP_INLET_URL:-https://old/collection/x}"  # per env\n  flow_id: ${AEP_FLOW:-}\n'
    update = update_config_text(text, "https://new/collection/y", "f-3", environ={})
    assert update.text == (
        'aep:\n  inlet_url: "${AEP_INLET_URL:-https://new/collection/y}"  # per env\n  flow_id: ${AEP_FLOW:-f-3}\n'
    )
    assert any("AEP_INLET_URL" in n and "overrides" in n for n in update.notes)
    assert any("AEP_FLOW" in n for n in update.notes)


def test_indirection_without_default_is_refused_naming_the_variable() -> None:
    """`${VAR}` cannot take a value from the file: the error says which variable to set, to what."""
    text = "aep:\n  inlet_url: https://old/collection/x\n  flow_id: ${AEP_FLOW_ID}\n"
    with pytest.raises(FatalError) as caught:
        update_config_text(text, "https://new/collection/y", "f-4", environ={"AEP_FLOW_ID": "old"})
    assert "set AEP_FLOW_ID=f-4" in str(caught.value)
    assert "unchanged" in str(caught.value)


def test_indirection_whose_variable_is_set_is_refused() -> None:
    """A new default would be shadowed by the variable set in this environment: say to set it instead."""
    text = "aep:\n  inlet_url: ${AEP_INLET_URL:-https://old/collection/x}\n"
    with pytest.raises(FatalError, match=r"AEP_INLET_URL is set in this environment: set AEP_INLET_URL=https://n/"):
        update_config_text(text, "https://n/collection/y", "f", environ={"AEP_INLET_URL": "https://old/collection/x"})


def test_value_built_from_variables_is_refused() -> None:
    """A value mixing text and variables is not rewritten: the user edits it by hand."""
    text = "aep:\n  inlet_url: https://${DCS_HOST}/collection/x\n"
    with pytest.raises(FatalError, match=r"built from variables .* set it to https://n/collection/y by hand"):
        update_config_text(text, "https://n/collection/y", "f", environ={"DCS_HOST": "h"})


def test_inlet_id_indirection_keeps_the_key_and_takes_the_id() -> None:
    """An `inlet_id: ${VAR:-id}` stays an inlet_id (with dcs_url) and gets the provisioned inlet id."""
    text = "aep:\n  inlet_id: ${AEP_INLET_ID:-old}\n  flow_id: f\n"
    out = update_config_text(text, "https://dcs.adobedc.net/collection/abc123", "f-5", environ={}).text
    assert out == "aep:\n  inlet_id: ${AEP_INLET_ID:-abc123}\n  flow_id: f-5\n"


def test_snippet_is_valid_yaml() -> None:
    """The printed snippet is the aep section with inlet_url and flow_id."""
    snippet = config_snippet(ProvisionResult(inlet_url="https://dcs/collection/x", flow_id="f-1"))
    assert yaml.safe_load(snippet) == {"aep": {"inlet_url": "https://dcs/collection/x", "flow_id": "f-1"}}
