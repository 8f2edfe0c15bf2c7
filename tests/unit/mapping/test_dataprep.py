"""Import of AEP Data Prep mapping sets into mapping YAML."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import yaml

from connector.commands import mapping_import
from connector.mapping.dataprep import convert_expression, convert_mapping_set, source_path
from tests.unit.mapping.helpers import compile_one, record

MAPPING_SET = {
    "version": 0,
    "xdmSchema": "https://ns.adobe.com/acme/schemas/7f682c29",
    "xdmVersion": "1.0",
    "mappings": [
        {"sourceAttribute": "firstName", "destinationXdmPath": "person.name.firstName", "identity": False},
        {"sourceAttribute": "lastName", "destinationXdmPath": "person.name.lastName", "identity": False},
        {"sourceAttribute": "contact.email", "destinationXdmPath": "personalEmail.address", "identity": False},
        {
            "sourceAttribute": "lower(contact.email)",
            "sourceType": "EXPRESSION",
            "destinationXdmPath": "identityMap.Email",
            "identity": True,
            "primaryIdentity": True,
        },
        {"sourceAttribute": "orders[0].id", "destinationXdmPath": "_acme.firstOrderId"},
        {"sourceAttribute": "concat(firstName, \" \", lastName)", "sourceType": "EXPRESSION",
         "destinationXdmPath": "person.name.fullName"},
        {"sourceAttribute": "dformat(createdAt, \"yyyy\")", "sourceType": "EXPRESSION",
         "destinationXdmPath": "_acme.year"},
        {"sourceAttribute": "items[*].sku", "destinationXdmPath": "productListItems[*].SKU"},
    ],
}  # fmt: skip


def test_source_paths_keep_dots_brackets_and_quote_odd_keys() -> None:
    """a.b[0].c stays a path under value; keys that are not plain names are quoted."""
    assert source_path("a.b[0].c") == "value.a.b[0].c"
    assert source_path("a['odd key'].b") == "value.a['odd key'].b"


def test_calculated_fields_convert_known_functions() -> None:
    """Data Prep functions with a counterpart are renamed; fields become value paths."""
    assert convert_expression('iif(isVip, upper(name), "n/a")') == "if(value.isVip, upper(value.name), 'n/a')"
    with pytest.raises(ValueError, match="dformat"):
        convert_expression('dformat(createdAt, "yyyy")')


def test_mapping_set_converts_to_a_working_profile_mapping() -> None:
    """The converted YAML compiles once TODOs are the only gaps, and maps a record as expected."""
    text, todos = convert_mapping_set(
        MAPPING_SET, name="crm-profiles", schema_id="https://ns.adobe.com/acme/schemas/7f", dataset_id="ds9",
        xdm_class="profile", topics=["crm"],
    )  # fmt: skip
    assert len(todos) == 1
    assert any("dformat() has no counterpart" in t for t in todos)
    assert "# TODO: _acme.year" in text
    spec = yaml.safe_load(text)
    assert spec["tenant"] == "acme"
    assert spec["identities"] == [{"namespace": "Email", "value": "lower(value.contact.email)", "primary": True}]
    mapping = compile_one(spec)
    value = {"firstName": "Ada", "lastName": "L", "contact": {"email": "Ada@X.org"}, "orders": [{"id": 7}],
             "items": [{"sku": "s1"}]}  # fmt: skip
    entity = mapping.map(record(), value)["body"]["xdmEntity"]
    assert entity == {
        "person": {"name": {"firstName": "Ada", "lastName": "L", "fullName": "Ada L"}},
        "personalEmail": {"address": "Ada@X.org"},
        "_acme": {"firstOrderId": 7},
        "productListItems": [{"SKU": "s1"}],
        "identityMap": {"Email": [{"id": "ada@x.org", "authenticatedState": "ambiguous", "primary": True}]},
    }


def test_event_without_timestamp_or_identity_gets_todos() -> None:
    """An experienceevent set lacking timestamp and identity lists both as TODOs."""
    _, todos = convert_mapping_set(
        {"mappings": [{"sourceAttribute": "a", "destinationXdmPath": "eventType"}]}, name="x", schema_id="s",
        dataset_id="d",
    )  # fmt: skip
    assert any("no identity mapping" in t for t in todos)
    assert any("no timestamp mapping" in t for t in todos)


def test_command_writes_the_yaml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """import-dataprep --out writes the file and prints the TODOs."""
    src, out = tmp_path / "set.json", tmp_path / "out.yaml"
    src.write_text(json.dumps(MAPPING_SET), encoding="utf-8")
    parser = argparse.ArgumentParser()
    mapping_import.add_arguments(parser)
    args = parser.parse_args(
        ["--input", str(src), "--name", "crm", "--schema-id", "s", "--dataset-id", "d", "--xdm-class", "profile",
         "--out", str(out)]
    )  # fmt: skip
    assert mapping_import.main(args) == 0
    written = out.read_text(encoding="utf-8")
    assert yaml.safe_load(written)["name"] == "crm"
    assert written.endswith("\n") and not written.endswith("\n\n")
    assert "TODO: " in capsys.readouterr().err


def test_command_output_on_stdout_ends_with_one_newline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without --out the YAML goes to stdout, ending in exactly one newline (also when TODOs end it)."""
    src = tmp_path / "set.json"
    src.write_text(json.dumps(MAPPING_SET), encoding="utf-8")
    parser = argparse.ArgumentParser()
    mapping_import.add_arguments(parser)
    args = parser.parse_args(["--input", str(src), "--name", "crm", "--schema-id", "s", "--dataset-id", "d"])
    assert mapping_import.main(args) == 0
    printed = capsys.readouterr().out
    assert printed.endswith("\n") and not printed.endswith("\n\n")
    assert printed.splitlines()[-1].startswith("  # TODO: ")
