"""The seed tutorial end to end over real HTTP: provision, stream, look up."""

from __future__ import annotations

import uuid

import pytest
import requests

from connector.emulator import EmulatorServer
from tests.integration.emulator.tutorial import Provisioned, event_message, profile_message

pytestmark = pytest.mark.integration
ACCESS = "/data/core/ups/access/entities"


def test_connection_exposes_inlet_url(emulator: EmulatorServer, provisioned: Provisioned) -> None:
    """The base connection's auth.params carry an inletUrl on this emulator and a 64-hex inletId."""
    assert provisioned.inlet_url == emulator.inlet_url(provisioned.inlet_id)
    assert len(provisioned.inlet_id) == 64
    int(provisioned.inlet_id, 16)


def test_stream_single_and_batch_then_profile_lookup(
    emulator: EmulatorServer, platform: requests.Session, provisioned: Provisioned
) -> None:
    """Profile + events streamed singly (sync validation) and in a batch are found via Profile access."""
    p = provisioned
    email = "jdoe@testprofile.com"
    single = requests.post(f"{p.inlet_url}?syncValidation=true", json=profile_message(p, email), timeout=5)
    assert single.status_code == 200, single.text
    assert single.json()["syncValidation"] == {"status": "pass"}
    event = requests.post(f"{p.inlet_url}?synchronousValidation=true", json=event_message(p, email, "evt-1"), timeout=5)
    assert event.status_code == 200, event.text
    batch_url = p.inlet_url.replace("/collection/", "/collection/batch/")
    batch = requests.post(
        batch_url,
        json={"messages": [profile_message(p, email, first="Janet"), event_message(p, email, "evt-2")]},
        timeout=5,
    )
    assert batch.status_code == 207
    body = batch.json()
    assert [r["xactionId"] for r in body["responses"]] == [f"{body['batchId']}:0", f"{body['batchId']}:1"]

    found = platform.get(
        f"{emulator.url}{ACCESS}",
        params={"schema.name": "_xdm.context.profile", "entityId": email, "entityIdNS": "email"},
        timeout=5,
    )
    assert found.status_code == 200, found.text
    (profile,) = found.json().values()
    assert profile["entity"]["person"]["name"]["firstName"] == "Janet"
    assert profile["entity"][f"_{p.tenant}"]["loyaltyID"] == email
    assert profile["sources"] == [p.profile_dataset]
    assert set(profile) >= {"entityId", "mergePolicy", "sources", "entity", "lastModifiedAt"}

    events = platform.get(
        f"{emulator.url}{ACCESS}",
        params={
            "schema.name": "_xdm.context.experienceevent",
            "relatedSchema.name": "_xdm.context.profile",
            "relatedEntityId": email,
            "relatedEntityIdNS": "Email",
        },
        timeout=5,
    ).json()
    assert [c["entityId"] for c in events["children"]] == ["evt-1", "evt-2"]
    assert events["children"][0]["relatedEntityId"] == profile["entityId"]
    assert set(events) == {"_page", "children", "_links"}

    postman_spelling = platform.get(
        f"{emulator.url}{ACCESS}",
        params={
            "schema.name": "_xdm.context.experienceevent",
            "relatedSchema.name": "_xdm.context.profile",
            "entityId": email,
            "entityIdNS": "EMAIL",
        },
        timeout=5,
    ).json()
    assert len(postman_spelling["children"]) == 2


def test_records_carry_header_info(emulator: EmulatorServer, provisioned: Provisioned) -> None:
    """Accepted records keep inletId, datasetId, schema id, flowId, xactionId, receivedTimeMs and the entity."""
    p = provisioned
    requests.post(p.inlet_url, json=event_message(p, "a@example.com", "e-9"), timeout=5).raise_for_status()
    (record,) = emulator.store.records(p.event_dataset)
    assert record["inletId"] == p.inlet_id
    assert record["schemaId"] == p.event_schema
    assert record["flowId"] == p.event_flow
    assert record["xdmEntity"]["_id"] == "e-9"
    assert isinstance(record["receivedTimeMs"], int)
    over_http = requests.get(f"{emulator.url}/emulator/records", params={"dataset": p.event_dataset}, timeout=5)
    assert over_http.json()[0]["xactionId"] == record["xactionId"]


def test_schema_violations_are_reported(provisioned: Provisioned) -> None:
    """Unknown fields, wrong types and a missing primary identity fail sync validation with causes."""
    p = provisioned
    msg = profile_message(p, "x@example.com")
    entity = msg["body"]["xdmEntity"]
    entity["workEmail"] = {"address": "x@example.com"}
    entity[f"_{p.tenant}"]["totalLoyaltyPoints"] = "many"
    del entity[f"_{p.tenant}"]["loyaltyID"]
    response = requests.post(f"{p.inlet_url}?syncValidation=true", json=msg, timeout=5)
    assert response.status_code == 400
    body = response.json()
    assert body["title"] == "Invalid XDM Message Format"
    assert body["report"]["message"].endswith("Message is invalid")
    (wrapper,) = body["report"]["cause"]["_streamingValidation"]
    keywords = {v["keyword"] for v in wrapper["causingExceptions"]}
    assert keywords == {"additionalProperties", "type", "required"}


def test_event_duplicates_dropped_from_event_store(emulator: EmulatorServer, provisioned: Provisioned) -> None:
    """A repeated event _id stays in the lake log but the event store keeps the first copy only."""
    p = provisioned
    event_id = str(uuid.uuid4())
    batch_url = p.inlet_url.replace("/collection/", "/collection/batch/")
    messages = [event_message(p, "d@example.com", event_id, points=1), event_message(p, "d@example.com", event_id)]
    requests.post(batch_url, json={"messages": messages}, timeout=5).raise_for_status()
    stats = requests.get(f"{emulator.url}/emulator/stats", timeout=5).json()
    assert stats["datasets"][p.event_dataset]["accepted"] == 2
    assert stats["datasets"][p.event_dataset]["duplicates"] == 1
    assert [r["duplicate"] for r in emulator.store.records(p.event_dataset)] == [False, True]
    _, events = emulator.store.profiles.events("email", "d@example.com")
    assert [e.entity[f"_{p.tenant}"]["pointsEarned"] for e in events] == [1]


def test_find_connection_and_flow_by_name(emulator: EmulatorServer, platform: requests.Session) -> None:
    """`property=name==X` filters Flow Service lists so a client can find what it made before."""
    base = f"{emulator.url}/data/foundation/flowservice"
    for name in ("a", "b"):
        platform.post(
            f"{base}/connections",
            json={
                "name": name,
                "connectionSpec": {"id": "bc7b00d6-623a-4dfc-9fdb-f1240aeadaeb", "version": "1.0"},
                "auth": {"specName": "Streaming Connection", "params": {"dataType": "xdm"}},
            },
            timeout=5,
        ).raise_for_status()
    items = platform.get(f"{base}/connections", params={"property": "name==b"}, timeout=5).json()["items"]
    assert [i["name"] for i in items] == ["b"]
    assert platform.get(f"{base}/flows", params={"property": "name==none"}, timeout=5).json() == {"items": []}


def test_gateway_errors(emulator: EmulatorServer, platform: requests.Session) -> None:
    """Platform calls without token, with a bad token, without api key or org get the gateway errors."""
    url = f"{emulator.url}/data/foundation/schemaregistry/stats"
    assert requests.get(url, timeout=5).json() == {"error_code": "403010", "message": "Oauth token is missing."}
    bad = requests.get(url, headers={"Authorization": "Bearer nope"}, timeout=5)
    assert (bad.status_code, bad.json()["error_code"]) == (401, "401013")
    headers = dict(platform.headers)
    headers.pop("x-api-key")
    assert requests.get(url, headers=headers, timeout=5).json()["error_code"] == "403000"
    headers["x-api-key"] = "unknown"
    assert requests.get(url, headers=headers, timeout=5).json()["error_code"] == "403003"
    headers = {**platform.headers, "x-gw-ims-org-id": "OTHER@AdobeOrg"}
    assert requests.get(url, headers=headers, timeout=5).json()["error_code"] == "403025"
    headers.pop("x-gw-ims-org-id")
    assert requests.get(url, headers=headers, timeout=5).status_code == 400


def test_catalog_accepts_both_spellings(emulator: EmulatorServer, platform: requests.Session) -> None:
    """`/catalog/datasets` works like `/catalog/dataSets` and GET returns the dataset keyed by id."""
    created = platform.post(
        f"{emulator.url}/data/foundation/catalog/datasets",
        json={"name": "d", "schemaRef": {"id": "https://ns.adobe.com/acme/schemas/x", "contentType": "x"}},
        timeout=5,
    )
    assert created.status_code == 201
    ds = created.json()[0].removeprefix("@/dataSets/")
    got = platform.get(f"{emulator.url}/data/foundation/catalog/dataSets/{ds}", timeout=5).json()
    assert got[ds]["name"] == "d"
