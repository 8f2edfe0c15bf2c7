"""The emulator's Edge Network endpoints: documented shapes, EXEG problems, readings, faults, page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from connector.emulator import DEFAULT_ORG, EmulatorOptions, EmulatorServer

pytestmark = pytest.mark.integration

CLIENT, SECRET = "edge-api-client", "edge-api-secret"


def xdm(i: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "_id": f"e-{i}",
        "timestamp": "2024-05-01T10:00:00Z",
        "identityMap": {"Email": [{"id": f"u{i}@example.com", "primary": True}]},
        **extra,
    }


def make_datastream(server: EmulatorServer, **body: Any) -> str:
    answer = requests.post(f"{server.url}/emulator/datastreams", json={"dataset_id": "ds-set", **body}, timeout=5)
    assert answer.status_code == 201
    return str(answer.json()["id"])


def collect(server: EmulatorServer, query: str, body: Any, **kw: Any) -> requests.Response:
    return requests.post(f"{server.url}/ee/v2/collect?{query}", json=body, timeout=5, **kw)


def token(server: EmulatorServer) -> dict[str, str]:
    server.add_client(CLIENT, SECRET)
    form = {"grant_type": "client_credentials", "client_id": CLIENT, "client_secret": SECRET}
    tok = requests.post(f"{server.url}/ims/token/v3", data=form, timeout=5).json()["access_token"]
    return {"Authorization": f"Bearer {tok}", "x-api-key": CLIENT, "x-gw-ims-org-id": DEFAULT_ORG}


def code(response: requests.Response) -> str:
    body = response.json()
    assert response.headers["Content-Type"] == "application/problem+json"
    assert body["status"] == response.status_code
    return str(body["type"]).rsplit("/", 1)[-1]


def test_collect_answers_202_with_an_entropy_suffixed_request_id(emulator: EmulatorServer) -> None:
    """202 {requestId}: the caller's requestId with a 16-hex entropy suffix, as the developer docs say."""
    ds = make_datastream(emulator)
    answer = collect(emulator, f"datastreamId={ds}&requestId=abc", {"events": [{"xdm": xdm()}, {"xdm": xdm(1)}]})
    assert answer.status_code == 202
    rid = answer.json()["requestId"]
    assert rid.startswith("abc-") and len(rid) == len("abc-") + 16
    assert [r["xdmEntity"]["_id"] for r in emulator.store.records("ds-set")] == ["e-0", "e-1"]


def test_silent_answers_204_and_both_spellings_of_the_parameter_work(emulator: EmulatorServer) -> None:
    ds = make_datastream(emulator)
    answer = collect(emulator, f"dataStreamId={ds}&silent=true", {"events": [{"xdm": xdm(), "data": {"prop1": "v"}}]})
    assert answer.status_code == 204 and answer.content == b""
    assert emulator.store.records()[0]["data"] == {"prop1": "v"}


def test_interact_takes_one_event_and_answers_handles(emulator: EmulatorServer) -> None:
    ds = make_datastream(emulator)
    answer = requests.post(f"{emulator.url}/ee/va6/v2/interact?datastreamId={ds}", json={"event": {"xdm": xdm()}})
    assert answer.status_code == 200
    (handle,) = answer.json()["handle"]
    assert handle["type"] == "locationHint:result" and handle["payload"][0]["hint"] == "va6"


@pytest.mark.parametrize(
    ("query", "body", "expected"),
    [
        ("", {"events": [{"xdm": xdm()}]}, "EXEG-0002-400"),
        ("datastreamId=nope", {"events": [{"xdm": xdm()}]}, "EXEG-0003-400"),
        ("datastreamId={ds}", {"events": []}, "EXEG-0103-400"),
        ("datastreamId={ds}", {"events": [{"xdm": {**xdm(), "_id": 7}}]}, "EXEG-0102-400"),
        ("datastreamId={ds}", {"events": [{"xdm": {k: v for k, v in xdm().items() if k != "timestamp"}}]},
         "EXEG-0103-400"),
        ("datastreamId={ds}", {"events": [{"xdm": xdm()}, {"xdm": {**xdm(1), "identityMap": {}}}]}, "EXEG-0306-400"),
        ("datastreamId={ds}", {"events": [{"xdm": xdm(identityMap={"Email": [{"id": ""}]})}]}, "EXEG-0305-400"),
    ],
)  # fmt: skip
def test_fatal_problems_refuse_the_whole_request(
    emulator: EmulatorServer, query: str, body: Any, expected: str
) -> None:
    """Each documented input/configuration error: its EXEG code, and nothing stored."""
    ds = make_datastream(emulator)
    answer = collect(emulator, query.format(ds=ds), body)
    assert code(answer) == expected
    assert emulator.store.records() == []


def test_primary_identity_rule_on_the_unauthenticated_host(emulator: EmulatorServer) -> None:
    """Documented reading: without a token an ECID may stand in for the primary identity; with one it may not."""
    ds = make_datastream(emulator)
    ecid = xdm(identityMap={"ECID": [{"id": "123"}]})
    assert collect(emulator, f"datastreamId={ds}", {"events": [{"xdm": ecid}]}).status_code == 202
    answer = collect(emulator, f"datastreamId={ds}", {"events": [{"xdm": ecid}]}, headers=token(emulator))
    assert code(answer) == "EXEG-0306-400"


def test_request_problems(emulator: EmulatorServer) -> None:
    ds = make_datastream(emulator, authenticated_only=True)
    url = f"{emulator.url}/ee/v2/collect?datastreamId={ds}"
    assert code(requests.post(url, json={"events": [{"xdm": xdm()}]}, timeout=5)) == "EXEG-0500-401"
    headers = token(emulator)
    assert code(requests.post(url, data=b"{", headers=headers, timeout=5)) == "EXEG-0101-400"
    assert code(requests.post(url, data=b"", headers=headers, timeout=5)) == "EXEG-0109-408"
    xml = {**headers, "Content-Type": "application/xml"}
    assert code(requests.post(url, data=b"<x/>", headers=xml, timeout=5)) == "EXEG-0111-415"
    big = {"events": [{"xdm": xdm(note="x" * 70_000)}]}
    assert code(requests.post(url, json=big, headers=headers, timeout=5)) == "EXEG-0112-413"
    other_org = {**headers, "x-gw-ims-org-id": "OTHER@AdobeOrg"}
    assert code(requests.post(url, json={"events": [{"xdm": xdm()}]}, headers=other_org, timeout=5)) == "EXEG-0506-401"
    requests.post(f"{emulator.url}/emulator/tokens/expire", timeout=5)
    assert code(requests.post(url, json={"events": [{"xdm": xdm()}]}, headers=headers, timeout=5)) == "EXEG-0503-401"
    disabled = make_datastream(emulator, enabled=False)
    assert code(collect(emulator, f"datastreamId={disabled}", {"events": [{"xdm": xdm()}]})) == "EXEG-0004-422"
    no_platform = make_datastream(emulator, dataset_id=None)
    assert code(collect(emulator, f"datastreamId={no_platform}", {"events": [{"xdm": xdm()}]})) == "EXEG-0010-422"


def test_readings_are_configurable(emulator: EmulatorServer) -> None:
    """success_status 200, one parameter spelling only, a count limit, strict (sync) schema validation."""
    ds = make_datastream(emulator)
    options = {"success_status": 200, "datastream_param": "datastreamId", "max_events": 2, "validation": "sync"}
    assert requests.post(f"{emulator.url}/emulator/edge/options", json=options, timeout=5).status_code == 200
    assert collect(emulator, f"datastreamId={ds}", {"events": [{"xdm": xdm()}]}).status_code == 200
    assert code(collect(emulator, f"dataStreamId={ds}", {"events": [{"xdm": xdm()}]})) == "EXEG-0002-400"
    three = {"events": [{"xdm": xdm(i)} for i in range(3)]}
    assert code(collect(emulator, f"datastreamId={ds}", three)) == "EXEG-0112-413"
    bad = {"events": [{"xdm": xdm(4)}, {"xdm": xdm(5, note="")}]}
    refused = collect(emulator, f"datastreamId={ds}", bad)
    assert code(refused) == "EXEG-0104-422" and "event #1: #/note" in refused.json()["report"]["errors"][0]
    assert emulator.store.failed("ds-set") == [] and len(emulator.store.records("ds-set")) == 1, "nothing stored"
    answer = requests.post(f"{emulator.url}/emulator/edge/options", json={"validation": "maybe"}, timeout=5)
    assert answer.status_code == 400


def test_faults_on_edge_paths_answer_in_the_edge_shape(emulator: EmulatorServer) -> None:
    ds = make_datastream(emulator)
    seqs = {503: [True], 429: [False, True], 207: [False, False, True]}  # one fault per request, in turn
    rules = {"rules": [{"kind": "status", "status": s, "sequence": seq} for s, seq in seqs.items()]}
    requests.post(f"{emulator.url}/emulator/faults", json={**rules, "paths": ["/ee/"]}, timeout=5)
    body = {"events": [{"xdm": xdm()}]}
    assert code(collect(emulator, f"datastreamId={ds}", body)) == "EXEG-0000-503"
    assert collect(emulator, f"datastreamId={ds}", body).status_code == 429
    upstream = collect(emulator, f"datastreamId={ds}", body)
    assert upstream.status_code == 207 and "EXEG-0201-503" in upstream.json()["errors"][0]["type"]
    assert emulator.store.records() == []
    assert collect(emulator, f"datastreamId={ds}", body).status_code == 202


def test_seed_file_creates_datastreams_and_options(tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text(
        yaml.safe_dump({"datastreams": [{"id": "seeded-ds", "dataset_id": "d1"}], "edge_options": {"max_events": 5}})
    )
    with EmulatorServer(port=0, options=EmulatorOptions(seed_file=seed)) as server:
        assert collect(server, "datastreamId=seeded-ds", {"events": [{"xdm": xdm()}]}).status_code == 202
        assert requests.get(f"{server.url}/emulator/edge/options", timeout=5).json()["max_events"] == 5


def test_page_lists_datastreams_with_their_counts(emulator: EmulatorServer) -> None:
    ds = make_datastream(emulator, name="Web events")
    collect(emulator, f"datastreamId={ds}", {"events": [{"xdm": xdm()}]})
    page = requests.get(f"{emulator.url}/", timeout=5).text
    assert "Edge Network datastreams" in page and "Web events" in page
    assert "datastream:" not in page  # Edge traffic is not listed as an ad-hoc DCS inlet
