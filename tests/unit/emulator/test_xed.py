"""Schema Registry Accept negotiation and versions."""

from __future__ import annotations

import orjson
import pytest

from connector.emulator.http import Response
from connector.emulator.xed import Form, bump, list_form, lookup_form


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("application/vnd.adobe.xed-full+json;version=1", Form(full=True)),
        ("application/vnd.adobe.xed-full+json; version=1.3", Form(full=True)),
        ("application/vnd.adobe.xed+json;version=1", Form(full=False)),
        ("application/vnd.adobe.xed-notext+json;version=1", Form(full=False, strip=("title", "description"))),
        ("application/vnd.adobe.xed-full-desc+json;version=1", Form(full=True, strip=("title",))),
    ],
)
def test_lookup_forms(accept: str, expected: Form) -> None:
    """Each documented lookup Accept maps to the resolved or stored form, with or without text."""
    assert lookup_form(accept) == expected


@pytest.mark.parametrize(
    ("accept", "status", "code"),
    [
        (None, 400, "XDM-1007-400"),
        ("*/*", 400, "XDM-1007-400"),
        ("application/vnd.adobe.xed-full+json", 400, "XDM-1007-400"),
        ("application/vnd.adobe.xed-full+json;version=2", 406, "XDM-1000-406"),
        ("application/vnd.adobe.xed-id+json;version=1", 406, "XDM-1000-406"),
    ],
)
def test_bad_lookup_accepts(accept: str | None, status: int, code: str) -> None:
    """No Accept or no version: the documented 400; a well-formed one the registry cannot serve: 406."""
    answer = lookup_form(accept)
    assert isinstance(answer, Response) and answer.status == status
    assert orjson.loads(answer.body)["type"].endswith(code)


def test_list_forms() -> None:
    """Listings take xed-id or xed without a version; anything else is XDM-1006-400."""
    assert list_form("application/vnd.adobe.xed-id+json") == "xed-id"
    assert list_form("application/vnd.adobe.xed+json") == "xed"
    bad = list_form("application/vnd.adobe.xed+json;version=1")
    assert isinstance(bad, Response) and orjson.loads(bad.body)["type"].endswith("XDM-1006-400")


def test_bump_minor_version() -> None:
    """1.0 -> 1.1, 1.9 -> 1.10, a bare major gets a minor."""
    assert [bump("1.0"), bump("1.9"), bump("1"), bump(None)] == ["1.1", "1.10", "1.1", "1.1"]
