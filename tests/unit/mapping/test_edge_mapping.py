"""`destination: edge` mappings: their route, their events, and the problems `check` reports for them."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from connector.app import DestinationSink
from connector.config import AuthSettings, EdgeSettings, MappingSource, parse_settings
from connector.errors import FatalError
from connector.mapping import compile_mappings
from connector.records import Accepted, Outcome, Route
from tests.unit.mapping.helpers import AEP, clock, inline, record, shipped

EDGE = """
name: web
topics: [web]
xdm_class: experienceevent
destination: edge
datastream_id: 2f7c-ds
identities:
  - {namespace: Email, value: value.email, primary: true}
fields:
  timestamp: value.ts
  eventType: "'web.webpagedetails.pageViews'"
"""


def compiled(text: str, aep: Any = AEP) -> Any:
    found, problems = compile_mappings(
        [MappingSource("web", yaml.safe_load(text), "<test>", Path("."))], aep, clock=clock
    )
    assert problems == []
    return found[0]


def test_edge_mapping_builds_an_edge_event_and_route() -> None:
    """No schema or dataset needed: the event is {"xdm": entity} and the route names the datastream."""
    mapping = compiled(EDGE)
    event = mapping.map(record(3, topic="web"), {"email": "a@example.com", "ts": "2024-05-01T10:00:00Z"})
    assert set(event) == {"xdm"}
    xdm = event["xdm"]
    assert xdm["timestamp"] == "2024-05-01T10:00:00Z" and xdm["eventType"] == "web.webpagedetails.pageViews"
    assert xdm["identityMap"] == {
        "Email": [{"id": "a@example.com", "authenticatedState": "ambiguous", "primary": True}]
    }
    assert isinstance(xdm["_id"], str) and len(xdm["_id"]) == 32
    route = mapping.route
    assert (route.destination, route.datastream_id, route.edge_meta) == ("edge", "2f7c-ds", None)
    assert route.inlet_url == "https://edge.adobedc.net/ee/v2/collect"
    assert route.metric_labels == ("edge", "2f7c-ds")


def test_authenticated_edge_uses_the_server_host_and_a_location_hint() -> None:
    aep = replace(AEP, auth=AuthSettings(enabled=True), edge=EdgeSettings(location_hint="va6"))
    route = compiled(EDGE, aep).route
    assert route.inlet_url == "https://server.adobedc.net/ee/va6/v2/collect" and route.authenticated


def test_edge_url_and_authentication_can_be_set_explicitly() -> None:
    aep = replace(AEP, edge=EdgeSettings(url="http://127.0.0.1:8765/", authenticated=False))
    assert compiled(EDGE, aep).route.inlet_url == "http://127.0.0.1:8765/ee/v2/collect"


def test_datastream_overrides_become_the_request_meta() -> None:
    text = EDGE + "datastream_overrides:\n  com_adobe_analytics: {reportSuites: [rs1]}\n"
    meta = orjson.loads(compiled(text).route.edge_meta)
    assert meta == {"configOverrides": {"com_adobe_analytics": {"reportSuites": ["rs1"]}}}


def test_dcs_mappings_keep_their_route() -> None:
    base = EDGE.replace("destination: edge\ndatastream_id: 2f7c-ds\n", "")
    mapping = compiled(base + "schema_id: s\ndataset_id: d\n")
    assert mapping.route.destination == "dcs" and mapping.route.metric_labels == ("dcs", "0123456789abcdef")
    assert set(mapping.map(record(0), {"email": "a@example.com", "ts": "2024-05-01T10:00:00Z"})) == {"header", "body"}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("datastream_id: 2f7c-ds\n", ""), "datastream_id: is required"),
        (("xdm_class: experienceevent", "xdm_class: profile"), "destination: edge carries ExperienceEvents only"),
        (("destination: edge", "destination: ftp"), "destination: must be one of dcs, edge"),
        (("name: web", "name: web\ninlet_url: https://dcs.adobedc.net/collection/x"), "inlet_url: only used with"),
        (("name: web", "name: web\nallow_no_identity: true"), "allow_no_identity: the Edge Network needs an identity"),
        (("name: web", "name: web\ndatastream_overrides: [1]"), "datastream_overrides: must be a mapping"),
        (("destination: edge", "destination: dcs"), "datastream_id: only used with destination edge"),
    ],
)
def test_edge_problems_are_reported(change: tuple[str, str], expected: str) -> None:
    _, problems = inline(EDGE.replace(*change))
    assert any(expected in p for p in problems), problems


def test_authenticated_edge_needs_the_org() -> None:
    aep = replace(AEP, ims_org=None, auth=AuthSettings(enabled=True))
    _, problems = compile_mappings([MappingSource("web", yaml.safe_load(EDGE), "<t>", Path("."))], aep)
    assert any("aep.ims_org is required" in p for p in problems)


def test_authenticated_edge_needs_credentials() -> None:
    aep = replace(AEP, edge=EdgeSettings(authenticated=True))
    _, problems = compile_mappings([MappingSource("web", yaml.safe_load(EDGE), "<t>", Path("."))], aep)
    assert any("aep.edge.authenticated needs aep.auth" in p for p in problems)


def _settings(aep: dict[str, Any], mappings: list[dict[str, Any]]) -> list[str]:
    raw = {"kafka": {"bootstrap_servers": "k:9092", "topics": ["web"]}, "aep": aep, "dead_letter": {"topic": "dlq"},
           "mappings": mappings}  # fmt: skip
    return parse_settings(raw, {}, Path("."))[1]


def test_inlet_url_is_optional_when_every_mapping_goes_to_the_edge() -> None:
    edge = yaml.safe_load(EDGE)
    assert _settings({}, [edge]) == []
    dcs = {**edge, "destination": "dcs"}
    assert any("aep.inlet_url: is required" in p for p in _settings({}, [edge, dcs]))


def test_edge_settings_are_validated() -> None:
    problems = _settings(
        {"edge": {"url": "server.adobedc.net", "location_hint": "OR 2", "max_request_bytes": 10, "colour": 1}},
        [yaml.safe_load(EDGE)],
    )
    text = "\n".join(problems)
    for expected in ("aep.edge.url: must be an http(s) URL", "aep.edge.location_hint", "max_request_bytes: must be >=",
                     "aep.edge.colour: unknown key"):  # fmt: skip
        assert expected in text


class _Recorder:
    def __init__(self) -> None:
        self.routes: list[Route] = []

    def deliver(self, route: Route, messages: Sequence[bytes], cancel: threading.Event) -> list[Outcome]:
        self.routes.append(route)
        return [Accepted() for _ in messages]


def test_destination_sink_hands_each_route_to_its_sink() -> None:
    dcs, edge = _Recorder(), _Recorder()
    sink = DestinationSink({"dcs": dcs, "edge": edge})
    cancel = threading.Event()
    sink.deliver(Route("https://dcs/collection/1"), [b"{}"], cancel)
    sink.deliver(Route("https://edge/ee/v2/collect", destination="edge", datastream_id="d"), [b"{}"], cancel)
    assert [r.destination for r in dcs.routes] == ["dcs"] and [r.destination for r in edge.routes] == ["edge"]
    with pytest.raises(FatalError):
        DestinationSink({"dcs": dcs}).deliver(Route("x", destination="edge"), [b"{}"], cancel)


def test_the_shipped_edge_mapping_compiles() -> None:
    """config/mappings/loyalty-events-edge.yaml (the demo's and the example's) is a valid edge mapping."""
    mapping = shipped("loyalty-events-edge")
    assert mapping.route.destination == "edge" and mapping.route.datastream_id
