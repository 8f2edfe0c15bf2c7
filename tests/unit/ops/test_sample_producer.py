"""The demo's sample producer: keyed profiles and events, fresh event ids on later passes."""

from __future__ import annotations

import json

from connector.ops.sample_producer import load_samples, records


def test_passes_send_profiles_then_events_with_fresh_ids() -> None:
    """Each pass sends every profile and event keyed by loyalty id; passes after the first change event _ids."""
    profiles, events = load_samples()
    out = list(records(profiles, events, 2, "p", "e"))
    per_pass = len(profiles) + len(events)
    assert len(out) == 2 * per_pass
    first, second = out[:per_pass], out[per_pass:]
    assert [t for t, _, _ in first] == ["p"] * len(profiles) + ["e"] * len(events)
    _, key, value = first[0]
    assert key == json.loads(value)["_exchangeinternal"]["loyaltyID"].encode()
    ids_first = {json.loads(v)["_id"] for t, _, v in first if t == "e"}
    ids_second = {json.loads(v)["_id"] for t, _, v in second if t == "e"}
    assert not ids_first & ids_second
