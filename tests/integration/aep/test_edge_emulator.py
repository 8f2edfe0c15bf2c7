"""EdgeSink against the emulator's Edge Network over real loopback HTTP."""

from __future__ import annotations

import threading
from typing import Any

import orjson
import pytest
import requests

from connector.aep.edge import EdgeSink
from connector.config import AepSettings, AuthSettings, DeliverySettings, EdgeSettings, Secret
from connector.emulator import DEFAULT_ORG
from connector.emulator.server import EmulatorServer
from connector.emulator.tutorial import platform_session, provision
from connector.errors import FatalError, RejectedError
from connector.mapping import edge_collect_url
from connector.records import Accepted, Outcome, Route

pytestmark = pytest.mark.integration

CLIENT_ID = "connector-edge-it"
CLIENT_SECRET = "edge-it-secret-value"
FAST = DeliverySettings(initial_backoff_ms=5, max_backoff_ms=50, attempts_before_exhausted=5)


@pytest.fixture
def emulator(emulator: EmulatorServer) -> EmulatorServer:
    emulator.add_client(CLIENT_ID, CLIENT_SECRET)
    return emulator


def event(i: int, *, primary: bool = True, **extra: Any) -> bytes:
    xdm = {
        "_id": f"evt-{i}",
        "timestamp": "2024-05-01T10:00:00Z",
        "eventType": "web.webpagedetails.pageViews",
        "identityMap": {"Email": [{"id": f"user{i}@example.com", "primary": primary}]},
        **extra,
    }
    return orjson.dumps({"xdm": xdm})


def datastream(server: EmulatorServer, **body: Any) -> str:
    answer = requests.post(f"{server.url}/emulator/datastreams", json=body, timeout=5)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def setup(
    server: EmulatorServer,
    *,
    authenticated: bool = False,
    delivery: DeliverySettings = FAST,
    meta: str | None = None,
    dataset: str = "edge-dataset",
    **edge: Any,
) -> tuple[EdgeSink, Route, str]:
    ds = datastream(server, dataset_id=dataset, override_datasets=["other-dataset"])
    auth = AuthSettings(
        enabled=authenticated,
        token_url=f"{server.url}/ims/token/v3",
        client_id=CLIENT_ID,
        client_secret=Secret(CLIENT_SECRET),
    )
    settings = AepSettings(inlet_url="", ims_org=DEFAULT_ORG, auth=auth, edge=EdgeSettings(url=server.url, **edge))
    route = Route(
        edge_collect_url(settings),
        ims_org=DEFAULT_ORG,
        authenticated=authenticated,
        destination="edge",
        datastream_id=ds,
        edge_meta=meta,
    )
    return EdgeSink(settings, delivery), route, ds


def deliver(sink: EdgeSink, route: Route, msgs: list[bytes]) -> list[Outcome]:
    return sink.deliver(route, msgs, threading.Event())


def stored(server: EmulatorServer, dataset: str | None = None) -> list[dict[str, Any]]:
    return server.store.records(dataset)


def test_unauthenticated_events_land_in_the_datastreams_dataset(emulator: EmulatorServer) -> None:
    """edge.adobedc.net-style calls: every event accepted, stored in the datastream's dataset with its _id."""
    sink, route, ds = setup(emulator)
    out = deliver(sink, route, [event(i) for i in range(40)])
    assert all(isinstance(o, Accepted) for o in out)
    rows = stored(emulator, "edge-dataset")
    assert [r["xdmEntity"]["_id"] for r in rows] == [f"evt-{i}" for i in range(40)]
    assert {r["datastreamId"] for r in rows} == {ds}
    assert emulator.store.stats()["inlets"][f"datastream:{ds}"]["accepted"] == 40


def test_authenticated_events_and_token_expiry(emulator: EmulatorServer) -> None:
    """server.adobedc.net-style calls with an IMS token; after IMS expires it, EXEG-0503-401 -> new token."""
    sink, route, _ = setup(emulator, authenticated=True)
    assert all(isinstance(o, Accepted) for o in deliver(sink, route, [event(0)]))
    requests.post(f"{emulator.url}/emulator/tokens/expire", timeout=5)
    assert all(isinstance(o, Accepted) for o in deliver(sink, route, [event(1)]))
    assert all(r["authenticated"] for r in stored(emulator))


def test_an_event_without_a_primary_identity_is_dead_lettered_alone(emulator: EmulatorServer) -> None:
    """The Edge refuses the whole request (EXEG-0306-400); bisection isolates the event; the rest is stored."""
    sink, route, _ = setup(emulator, authenticated=True)
    msgs = [event(i, primary=(i != 6)) for i in range(10)]
    out = deliver(sink, route, msgs)
    bad = out[6]
    assert isinstance(bad, RejectedError) and "EXEG-0306-400" in bad.message
    assert sum(isinstance(o, Accepted) for o in out) == 9
    assert "evt-6" not in {r["xdmEntity"]["_id"] for r in stored(emulator)}


def _typed_events(tenant: str) -> list[bytes]:
    """Two events of the tutorial's typed dataset: the second sends an integer field as text."""
    good: dict[str, Any] = {f"_{tenant}": {"loyaltyID": "a@example.com", "pointsEarned": 5}}
    bad: dict[str, Any] = {f"_{tenant}": {"loyaltyID": "a@example.com", "pointsEarned": "five"}}
    return [event(0, **good), event(1, **bad)]


def test_by_default_an_event_violating_the_dataset_schema_is_accepted_and_fails_later(
    emulator: EmulatorServer,
) -> None:
    """Production: the Edge accepts the event (the sink commits it); it becomes a failed record of the dataset."""
    p = provision(emulator, platform_session(emulator))
    sink, route, ds = setup(emulator, dataset=p.event_dataset)
    out = deliver(sink, route, _typed_events(p.tenant))
    assert all(isinstance(o, Accepted) for o in out)
    (failed,) = emulator.store.failed(p.event_dataset)
    assert failed["datastreamId"] == ds and failed["batchId"] and failed["line"]["_id"] == "evt-1"
    assert [r["xdmEntity"]["_id"] for r in stored(emulator)] == ["evt-0"]


def test_in_strict_mode_an_event_violating_the_dataset_schema_is_dead_lettered(emulator: EmulatorServer) -> None:
    """`validation: sync` (not production's behaviour): refused with EXEG-0104-422 and a report, dead-lettered."""
    requests.post(f"{emulator.url}/emulator/edge/options", json={"validation": "sync"}, timeout=5).raise_for_status()
    p = provision(emulator, platform_session(emulator))
    sink, route, _ = setup(emulator, dataset=p.event_dataset)
    out = deliver(sink, route, _typed_events(p.tenant))
    assert isinstance(out[0], Accepted)
    assert isinstance(out[1], RejectedError) and "EXEG-0104-422" in out[1].message and "pointsEarned" in out[1].message
    # the Profile store has the accepted event under its identity (what `lookup` reads)
    _, events = emulator.store.profiles.events("Email", "user0@example.com")
    assert [e.event_id for e in events] == ["evt-0"]


def test_unknown_datastream_is_fatal(emulator: EmulatorServer) -> None:
    sink, route, _ = setup(emulator)
    wrong = Route(route.inlet_url, destination="edge", datastream_id="no-such-datastream")
    with pytest.raises(FatalError, match="does not exist"):
        deliver(sink, wrong, [event(0)])


def test_dataset_override_the_datastream_allows_is_used(emulator: EmulatorServer) -> None:
    meta = '{"configOverrides":{"com_adobe_experience_platform":{"datasets":{"event":{"datasetId":"other-dataset"}}}}}'
    sink, route, _ = setup(emulator, meta=meta)
    assert all(isinstance(o, Accepted) for o in deliver(sink, route, [event(0)]))
    assert [r["xdmEntity"]["_id"] for r in stored(emulator, "other-dataset")] == ["evt-0"]


def test_dataset_override_the_datastream_does_not_allow_is_fatal(emulator: EmulatorServer) -> None:
    meta = '{"configOverrides":{"com_adobe_experience_platform":{"datasets":{"event":{"datasetId":"elsewhere"}}}}}'
    sink, route, _ = setup(emulator, meta=meta)
    with pytest.raises(FatalError, match="EXEG-0113-400"):
        deliver(sink, route, [event(0)])


def test_413_from_a_stricter_edge_is_split(emulator: EmulatorServer) -> None:
    """The emulator reads the limit as 4,000 bytes, the connector as 64 KB: 413s split the batch until it fits."""
    requests.post(f"{emulator.url}/emulator/edge/options", json={"max_request_bytes": 4_000}, timeout=5)
    sink, route, _ = setup(emulator)
    out = deliver(sink, route, [event(i, note="x" * 300) for i in range(60)])
    assert all(isinstance(o, Accepted) for o in out)
    assert len(stored(emulator)) == 60
    assert emulator.store.stats()["totals"]["requests_by_status"].get("413", 0) > 0


def test_failed_upstream_207_is_sent_again(emulator: EmulatorServer) -> None:
    """A 207 naming a failed Platform upstream stores nothing; the sink resends and the events land once."""
    rules = {"rules": [{"kind": "status", "status": 207, "sequence": [True, True]}]}
    requests.post(f"{emulator.url}/emulator/faults", json=rules, timeout=5)
    sink, route, _ = setup(emulator)
    assert all(isinstance(o, Accepted) for o in deliver(sink, route, [event(i) for i in range(5)]))
    assert len(stored(emulator)) == 5
