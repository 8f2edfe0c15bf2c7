"""The profile/event store: identity graph merge, case-insensitive namespaces, event dedup."""

from __future__ import annotations

from connector.emulator.profile import ProfileStore


def _store() -> ProfileStore:
    store = ProfileStore()
    store.add_fragment(
        dataset_id="crm",
        entity={"person": {"name": {"firstName": "Jane"}}, "identityMap": {"Email": [{"id": "j@x.com"}]}},
        identities=(("Email", "j@x.com", True), ("CRMID", "c-1", False)),
        received_ms=1,
        tag="t1",
        fallback_key="t1",
    )
    store.add_fragment(
        dataset_id="loyalty",
        entity={"person": {"name": {"lastName": "Doe"}}, "points": 5},
        identities=(("crmid", "c-1", True),),
        received_ms=2,
        tag="t2",
        fallback_key="t2",
    )
    return store


def test_fragments_merge_across_datasets_through_shared_identity() -> None:
    """Fragments of two datasets linked by an identity form one profile."""
    profile = _store().profile("email", "j@x.com")
    assert profile is not None
    assert profile["entity"]["person"]["name"] == {"firstName": "Jane", "lastName": "Doe"}
    assert profile["sources"] == ["crm", "loyalty"]
    assert profile["entityId"] == _store().profile("CRMID", "c-1")["entityId"]  # type: ignore[index]


def test_upsert_keeps_other_fields() -> None:
    """A later fragment for the same primary identity updates fields and keeps the rest."""
    store = _store()
    store.add_fragment(
        dataset_id="loyalty",
        entity={"points": 9},
        identities=(("CRMID", "c-1", True),),
        received_ms=3,
        tag="t3",
        fallback_key="t3",
    )
    profile = store.profile("crmid", "c-1")
    assert profile is not None
    assert profile["entity"]["points"] == 9
    assert profile["entity"]["person"]["name"]["lastName"] == "Doe"


def test_event_first_write_wins() -> None:
    """A repeated event _id in one dataset is refused; another dataset may reuse it."""
    store = _store()
    ident = (("Email", "j@x.com", True),)
    assert store.add_event("ev", "e1", {"_id": "e1", "v": 1}, ident, 10)
    assert not store.add_event("ev", "e1", {"_id": "e1", "v": 2}, ident, 11)
    assert store.add_event("ev2", "e1", {"_id": "e1", "v": 3}, ident, 12)
    profile_id, events = store.events("EMAIL", "j@x.com")
    assert profile_id == store.profile("email", "j@x.com")["entityId"]  # type: ignore[index]
    assert [e.entity["v"] for e in events] == [1, 3]


def test_unknown_identity() -> None:
    """An identity nobody sent has no profile and no events."""
    assert _store().profile("email", "nobody@x.com") is None
    assert _store().events("email", "nobody@x.com") == (None, [])


def test_merge_policy_without_identity_graph_does_not_stitch() -> None:
    """identityGraph none: only the fragments holding the identity itself, under the chosen policy's id."""
    profile = _store().profile("email", "j@x.com", stitch=False, policy_id="p-1")
    assert profile is not None
    assert profile["sources"] == ["crm"] and profile["mergePolicy"] == {"id": "p-1"}
    assert _store().profile("crmid", "c-1", stitch=False) is not None


def test_dataset_precedence_decides_conflicts() -> None:
    """timestampOrdered: the newest fragment wins; dataSetPrecedence: the first dataset wins even when older."""
    store = _store()
    store.add_fragment(
        dataset_id="crm",
        entity={"points": 1},
        identities=(("Email", "j@x.com", True),),
        received_ms=10,
        tag="t3",
        fallback_key="t3",
    )
    assert store.profile("email", "j@x.com")["entity"]["points"] == 1  # type: ignore[index]
    assert store.profile("email", "j@x.com", precedence=["loyalty"])["entity"]["points"] == 5  # type: ignore[index]
