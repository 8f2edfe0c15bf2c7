"""The lookup command's text rendering of a profile and its events."""

from __future__ import annotations

from connector.ops.profile_lookup import Lookup, render


def test_render_profile_and_events() -> None:
    """Header lines, the entity as indented JSON, then one line per event with time, type and _id."""
    result = Lookup(
        "email",
        "jane@example.com",
        profile={
            "entityId": "P1",
            "sources": ["ds1"],
            "lastModifiedAt": "2024-01-01T00:00:00Z",
            "entity": {"person": {"name": {"firstName": "Jane"}}},
        },
        events=[
            {
                "entityId": "e1",
                "timestamp": 1_700_000_000_000,
                "entity": {"_id": "e1", "eventType": "loyaltyBalanceUpdate", "points": 5, "identityMap": {}},
            }
        ],
    )
    text = render(result)
    assert text.splitlines()[0] == "profile P1 (email:jane@example.com)"
    assert '"firstName": "Jane"' in text
    assert "experience events: 1" in text
    assert text.splitlines()[-1] == '  2023-11-14T22:13:20Z  loyaltyBalanceUpdate  _id=e1  {"points":5}'


def test_render_missing_profile() -> None:
    """Without a profile the output says so."""
    assert render(Lookup("email", "x@y")) == "no profile for email:x@y"
