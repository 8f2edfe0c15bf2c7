"""Every DCS status the emulator produces (§1.7), with its exact body shape."""

from __future__ import annotations

import uuid
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
import requests

from connector.emulator import DEFAULT_ORG, EmulatorOptions, EmulatorServer
from tests.integration.emulator.tutorial import envelope

pytestmark = pytest.mark.integration
SCHEMA = "https://ns.adobe.com/acme/schemas/0123"
PROBLEM_KEYS = {"type", "status", "title", "report"}


def _event(event_id: Any = None, **header: Any) -> dict[str, Any]:
    msg = envelope(SCHEMA, "ds-1", {"_id": event_id or str(uuid.uuid4()), "timestamp": "2024-05-01T10:00:00Z"})
    msg["header"].update(header)
    return msg


def test_200_single(emulator: EmulatorServer) -> None:
    """A valid single message gets 200 with inletId, xactionId, receivedTimeMs and syncValidation skipped."""
    inlet = emulator.create_inlet()
    response = requests.post(emulator.inlet_url(inlet), json=_event(), timeout=5)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"inletId", "xactionId", "receivedTimeMs", "syncValidation"}
    assert body["inletId"] == inlet
    assert body["syncValidation"] == {"skipped": True}
    assert isinstance(body["receivedTimeMs"], int)


def test_207_status_code_shape(emulator: EmulatorServer) -> None:
    """Default (production) mode: DCCS failures are {statusCode, message} entries; a schema-invalid message succeeds."""
    inlet = emulator.create_inlet()
    messages = [_event(), {"header": {}}, _event(imsOrgId="OTHER@AdobeOrg"), _event(event_id=15367038)]
    response = requests.post(f"{emulator.url}/collection/batch/{inlet}", json={"messages": messages}, timeout=5)
    assert response.status_code == 207
    body = response.json()
    assert set(body) == {"inletId", "batchId", "receivedTimeMs", "responses"}
    ok, unknown, org, invalid = body["responses"]
    assert ok == {"xactionId": f"{body['batchId']}:0"}
    assert unknown == {
        "statusCode": 400,
        "message": f"inletId: [{inlet}] imsOrgId: [{DEFAULT_ORG}] Message has unknown xdm format",
    }
    assert org["message"].endswith("Message has an absent or wrong ims org in the header")
    assert invalid == {"xactionId": f"{body['batchId']}:3"}, "validated asynchronously: DCS acknowledges it"
    (failed,) = [f for f in emulator.store.failed() if f["stage"] == "async"]
    assert "expected type: String" in failed["message"] and failed["batchId"]


def test_207_strict_mode_rejects_schema_invalid_messages() -> None:
    """async_validation_failures=reject (not like production): a schema-invalid message gets a 400 entry."""
    with EmulatorServer(options=EmulatorOptions(async_validation_failures="reject")) as server:
        inlet = server.create_inlet()
        messages = [_event(), _event(event_id=15367038)]
        response = requests.post(f"{server.url}/collection/batch/{inlet}", json={"messages": messages}, timeout=5)
        stats = requests.get(f"{server.url}/emulator/stats", timeout=5).json()["totals"]
    ok, invalid = response.json()["responses"]
    assert set(ok) == {"xactionId"}
    assert set(invalid) == {"statusCode", "message"}
    assert "Message is invalid" in invalid["message"]
    assert "expected type: String" in invalid["message"]
    assert (stats["accepted"], stats["rejected"], stats["failed"]) == (1, 1, 0)


def test_207_status_shape() -> None:
    """failure_shape=status answers like Adobe's connector fixture: status + `{uuid}-{index}` xactionId."""
    with EmulatorServer(options=EmulatorOptions(failure_shape="status")) as server:
        response = requests.post(
            f"{server.url}/collection/batch/{'a' * 64}", json={"messages": [_event(), {"body": {}}]}, timeout=5
        )
    failed = response.json()["responses"][1]
    assert set(failed) == {"xactionId", "status", "message"}
    assert failed["status"] == 400
    assert failed["xactionId"].endswith("-1")
    uuid.UUID(failed["xactionId"][:-2])


def test_207_both_shape() -> None:
    """failure_shape=both carries statusCode, status and xactionId on failures."""
    with EmulatorServer(options=EmulatorOptions(failure_shape="both")) as server:
        response = requests.post(
            f"{server.url}/collection/batch/{'a' * 64}", json={"messages": [{"header": {}}]}, timeout=5
        )
    (failed,) = response.json()["responses"]
    assert set(failed) == {"statusCode", "status", "xactionId", "message"}


@pytest.mark.parametrize("body", [b"not json", b"{}", b'{"messages": {}}'])
def test_400_bad_batch_body(emulator: EmulatorServer, body: bytes) -> None:
    """A batch body that is not JSON or has no messages array is a 400 problem."""
    response = requests.post(
        f"{emulator.url}/collection/batch/{'b' * 64}",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=5,
    )
    assert response.status_code == 400
    assert set(response.json()) == PROBLEM_KEYS
    assert response.json()["status"] == 400


def test_400_single_invalid(emulator: EmulatorServer) -> None:
    """A single message failing DCCS is a 400 in the documented problem shape."""
    response = requests.post(emulator.inlet_url("c" * 64), json=_event(imsOrgId="X@AdobeOrg"), timeout=5)
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json() == {
        "type": "http://ns.adobe.com/adobecloud/problem/data-collection-service/inlet",
        "status": 400,
        "title": "Invalid XDM Message Format",
        "report": {
            "message": f"inletId: [{'c' * 64}] imsOrgId: [X@AdobeOrg] Message has an absent or wrong ims org in "
            "the header"
        },
    }


def test_400_sync_validation_cause(emulator: EmulatorServer) -> None:
    """Sync validation failure reports report.cause._streamingValidation."""
    msg = _event(event_id=7)
    response = requests.post(f"{emulator.inlet_url('d' * 64)}?syncValidation=true", json=msg, timeout=5)
    assert response.status_code == 400
    (cause,) = response.json()["report"]["cause"]["_streamingValidation"]
    assert cause["keyword"] == "type"
    assert cause["pointerToViolation"] == "#/_id"


def test_401_and_403(emulator: EmulatorServer) -> None:
    """Authenticated inlet: no token -> the documented 401 body; another org's token -> 403."""
    inlet = emulator.create_inlet(authenticated=True)
    response = requests.post(emulator.inlet_url(inlet), json=_event(), timeout=5)
    assert response.status_code == 401
    assert response.json() == {
        "type": "https://ns.adobe.com/adobecloud/problem/data-collection-service-authorization",
        "status": "401",
        "title": "Authorization",
        "report": {"message": f"[{inlet}] Ims service token is empty"},
    }
    emulator.add_client("other", "s", org="FEDCBA9876543210FEDCBA98@AdobeOrg")
    token = requests.post(
        f"{emulator.url}/ims/token/v3",
        data={"grant_type": "client_credentials", "client_id": "other", "client_secret": "s", "scope": "openid"},
        timeout=5,
    ).json()["access_token"]
    forbidden = requests.post(
        emulator.inlet_url(inlet), json=_event(), headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    assert forbidden.status_code == 403
    assert forbidden.json()["status"] == "403"


def test_413_over_max_request_bytes() -> None:
    """A body over max_request_bytes is a 413 problem."""
    with EmulatorServer(options=EmulatorOptions(max_request_bytes=1000)) as server:
        messages = [_event() for _ in range(10)]
        response = requests.post(f"{server.url}/collection/batch/{'e' * 64}", json={"messages": messages}, timeout=5)
    assert response.status_code == 413
    assert set(response.json()) == PROBLEM_KEYS


def test_429_sync_validation_rate_limit() -> None:
    """More than the per-minute sync-validation budget of one inlet is a 429 with Retry-After."""
    with EmulatorServer(options=EmulatorOptions(sync_validation_per_minute=3)) as server:
        url = f"{server.inlet_url('f' * 64)}?syncValidation=true"
        statuses = [requests.post(url, json=_event(), timeout=5).status_code for _ in range(4)]
        last = requests.post(url, json=_event(), timeout=5)
        unlimited = requests.post(server.inlet_url("f" * 64), json=_event(), timeout=5)
    assert statuses == [200, 200, 200, 429]
    assert int(last.headers["Retry-After"]) > 0
    assert last.json()["status"] == 429
    assert unlimited.status_code == 200


@pytest.mark.parametrize(("status", "retry_after"), [(429, "http-date"), (500, None), (503, 2)])
def test_injected_statuses(emulator: EmulatorServer, status: int, retry_after: Any) -> None:
    """429/500/503 faults answer problem+json in the 400 style, with Retry-After when configured."""
    emulator.faults.set_rules([{"kind": "status", "status": status, "rate": 1.0, "retry_after": retry_after}])
    response = requests.post(emulator.inlet_url("9" * 64), json=_event(), timeout=5)
    assert response.status_code == status
    assert set(response.json()) == PROBLEM_KEYS
    assert response.json()["status"] == status
    if retry_after is None:
        assert "Retry-After" not in response.headers
    elif retry_after == "http-date":
        assert parsedate_to_datetime(response.headers["Retry-After"]).tzinfo is not None
    else:
        assert response.headers["Retry-After"] == "2"
    stats = requests.get(f"{emulator.url}/emulator/stats", timeout=5).json()
    assert stats["faults"] == {f"status_{status}": 1}
    assert stats["totals"]["requests_by_status"] == {str(status): 1}
    assert emulator.store.records() == []


def test_strict_inlets_rejects_unknown() -> None:
    """With strict_inlets only created inlets accept data."""
    with EmulatorServer(options=EmulatorOptions(strict_inlets=True)) as server:
        unknown = requests.post(server.inlet_url("0" * 64), json=_event(), timeout=5)
        known = requests.post(server.inlet_url(server.create_inlet()), json=_event(), timeout=5)
    assert unknown.status_code == 404
    assert known.status_code == 200


def test_raw_inlet_accepts_any_object(emulator: EmulatorServer) -> None:
    """A raw inlet takes any JSON object, with the flow id from the x-adobe-flow-id query parameter."""
    inlet = emulator.create_inlet(data_type="raw")
    response = requests.post(
        f"{emulator.inlet_url(inlet)}?x-adobe-flow-id=flow-1", json={"name": "Johnson Smith"}, timeout=5
    )
    assert response.status_code == 200
    (record,) = emulator.store.records()
    assert record["raw"] == {"name": "Johnson Smith"}
    assert record["flowId"] == "flow-1"


def test_failed_records_are_retrievable(emulator: EmulatorServer) -> None:
    """Rejected messages are listed at /emulator/failed with their reasons."""
    requests.post(f"{emulator.url}/collection/batch/{'1' * 64}", json={"messages": [{"x": 1}]}, timeout=5)
    (failed,) = requests.get(f"{emulator.url}/emulator/failed", timeout=5).json()
    assert failed["message"].endswith("Message has unknown xdm format")
    assert failed["body"] == {"x": 1}


def test_reset_clears_data(emulator: EmulatorServer) -> None:
    """POST /emulator/reset empties records, failures and stats."""
    requests.post(emulator.inlet_url("2" * 64), json=_event(), timeout=5).raise_for_status()
    requests.post(f"{emulator.url}/emulator/reset", timeout=5).raise_for_status()
    assert requests.get(f"{emulator.url}/emulator/records", timeout=5).json() == []
    assert requests.get(f"{emulator.url}/emulator/stats", timeout=5).json()["totals"]["accepted"] == 0
