"""Asynchronous validation over real HTTP: streaming batches in Catalog, failed records in the Data Access API."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest
import requests

from connector.emulator import EmulatorOptions, EmulatorServer
from tests.integration.emulator.tutorial import Provisioned, platform_session, profile_message, provision

pytestmark = pytest.mark.integration
CATALOG = "/data/foundation/catalog/batches"
EXPORT = "/data/foundation/export/batches"


def _bronze(p: Provisioned, email: str) -> dict[str, Any]:
    msg = profile_message(p, email)
    msg["body"]["xdmEntity"][f"_{p.tenant}"]["loyaltyLevel"] = "Bronze"
    return msg


def _batch_url(p: Provisioned) -> str:
    return p.inlet_url.replace("/collection/", "/collection/batch/")


def _closed(session: requests.Session, url: str, dataset: str) -> dict[str, Any]:
    """The dataset's batches once none is still `loading`."""
    deadline = time.monotonic() + 10
    while True:
        batches: dict[str, Any] = session.get(f"{url}{CATALOG}", params={"dataSet": dataset}, timeout=5).json()
        if all(b["status"] != "loading" for b in batches.values()) or time.monotonic() > deadline:
            return batches
        time.sleep(0.1)


@pytest.fixture
def server() -> Any:
    with EmulatorServer(options=EmulatorOptions(batch_window_s=0.3)) as s:
        yield s


def test_schema_invalid_messages_are_acknowledged_and_become_failed_records(server: EmulatorServer) -> None:
    """Default mode: a schema-invalid message gets a success entry / 200 and is a failed record of its batch."""
    session = platform_session(server)
    p = provision(server, session)
    batch = requests.post(
        _batch_url(p),
        json={"messages": [profile_message(p, "ok@example.com"), _bronze(p, "b1@example.com")]},
        timeout=5,
    )
    single = requests.post(p.inlet_url, json=_bronze(p, "b2@example.com"), timeout=5)
    assert [set(r) for r in batch.json()["responses"]] == [{"xactionId"}, {"xactionId"}]
    assert single.status_code == 200 and single.json()["syncValidation"] == {"skipped": True}

    open_now = session.get(f"{server.url}{CATALOG}", params={"dataSet": p.profile_dataset}, timeout=5).json()
    (open_batch,) = open_now.values()
    assert open_batch["status"] == "loading" and "completed" not in open_batch
    listing = session.get(f"{server.url}{EXPORT}/{open_batch['id']}/failed", timeout=5).json()
    assert listing["data"] == [], "failed records appear once the batch is processed"

    (done,) = _closed(session, server.url, p.profile_dataset).values()
    assert done["status"] == "success" and done["relatedObjects"] == [{"type": "dataSet", "id": p.profile_dataset}]
    assert done["metrics"] == {"inputRecordCount": 3, "outputRecordCount": 1, "failedRecordCount": 2}
    assert (done["recordCount"], done["failedRecordCount"]) == (3, 2)
    assert done["errors"][0]["code"] == "INGEST-1212-400" and done["completed"] >= done["created"]
    assert session.get(f"{server.url}{CATALOG}/{done['id']}", timeout=5).json() == {done["id"]: done}

    files = session.get(f"{server.url}{EXPORT}/{done['id']}/failed", timeout=5).json()
    assert files["_page"] == {"limit": 100, "count": 2}
    success, part = files["data"]
    assert (success["name"], success["length"]) == ("_SUCCESS", "0")
    assert part["name"].startswith("part-00000-") and part["name"].endswith("-c000.json")
    content = session.get(f"{server.url}{EXPORT}/{done['id']}/failed", params={"path": part["name"]}, timeout=5)
    assert int(part["length"]) == len(content.content)
    lines = [orjson.loads(line) for line in content.content.splitlines()]
    assert [line["body"]["xdmEntity"][f"_{p.tenant}"]["loyaltyID"] for line in lines] == [
        "b1@example.com",
        "b2@example.com",
    ]
    (error,) = lines[0]["_validationErrors"]
    assert error == {
        "schemaLocation": f"#/properties/_{p.tenant}/properties/loyaltyLevel",
        "pointerToViolation": f"#/_{p.tenant}/loyaltyLevel",
        "causingExceptions": [],
        "keyword": "enum",
        "message": "Bronze is not a valid enum value",
    }
    assert [r["xdmEntity"]["personalEmail"]["address"] for r in server.store.records(p.profile_dataset)] == [
        "ok@example.com"
    ], "only the valid record reaches the data lake"


def test_a_batch_whose_every_record_failed_is_failed(server: EmulatorServer) -> None:
    """Catalog status `failed` when no record of the batch made it."""
    session = platform_session(server)
    p = provision(server, session)
    requests.post(_batch_url(p), json={"messages": [_bronze(p, "x@example.com")]}, timeout=5).raise_for_status()
    (done,) = _closed(session, server.url, p.profile_dataset).values()
    assert done["status"] == "failed" and done["metrics"]["outputRecordCount"] == 0


def test_dccs_and_sync_failures_are_refused_not_batched(server: EmulatorServer) -> None:
    """Envelope (DCCS) failures and syncValidation failures are answered with 400s and never become failed records."""
    session = platform_session(server)
    p = provision(server, session)
    wrong_org = profile_message(p, "o@example.com")
    wrong_org["header"]["imsOrgId"] = "OTHER@AdobeOrg"
    refused = requests.post(_batch_url(p), json={"messages": [wrong_org]}, timeout=5).json()["responses"][0]
    sync = requests.post(f"{p.inlet_url}?syncValidation=true", json=_bronze(p, "s@example.com"), timeout=5)
    assert refused["statusCode"] == 400 and sync.status_code == 400
    assert session.get(f"{server.url}{CATALOG}", timeout=5).json() == {}
    assert {f["stage"] for f in server.store.failed()} == {"dccs", "sync"}


def test_batches_close_per_window_and_filter_by_dataset_time_and_page(server: EmulatorServer) -> None:
    """Records after the window open a new batch; dataSet, createdAfter, status, start/limit and orderBy filter."""
    session = platform_session(server)
    p = provision(server, session)
    url = f"{server.url}{CATALOG}"
    for i in range(3):
        requests.post(p.inlet_url, json=profile_message(p, f"w{i}@example.com"), timeout=5).raise_for_status()
        time.sleep(0.35)
    batches = _closed(session, server.url, p.profile_dataset)
    assert len(batches) == 3 and all(b["recordCount"] == 1 and b["status"] == "success" for b in batches.values())
    created = sorted(b["created"] for b in batches.values())
    after = session.get(url, params={"dataSet": p.profile_dataset, "createdAfter": created[0]}, timeout=5).json()
    assert sorted(b["created"] for b in after.values()) == created[1:]
    assert session.get(url, params={"dataSet": p.event_dataset}, timeout=5).json() == {}
    assert session.get(url, params={"status": "failed"}, timeout=5).json() == {}
    page = session.get(url, params={"orderBy": "asc:created", "start": "1", "limit": "1"}, timeout=5).json()
    assert [b["created"] for b in page.values()] == [created[1]]
    only = session.get(f"{url}/{next(iter(page))}", params={"properties": "status,metrics"}, timeout=5).json()
    assert set(next(iter(only.values()))) == {"status", "metrics"}


def test_unknown_batch_and_file_are_404(server: EmulatorServer) -> None:
    """Catalog and Data Access answer 404 for a batch or a failed file that does not exist."""
    session = platform_session(server)
    assert session.get(f"{server.url}{CATALOG}/01NOPE", timeout=5).status_code == 404
    assert session.get(f"{server.url}{EXPORT}/01NOPE/failed", timeout=5).status_code == 404
    p = provision(server, session)
    requests.post(p.inlet_url, json=_bronze(p, "z@example.com"), timeout=5).raise_for_status()
    (done,) = _closed(session, server.url, p.profile_dataset).values()
    missing = session.get(f"{server.url}{EXPORT}/{done['id']}/failed", params={"path": "part-9.json"}, timeout=5)
    assert missing.status_code == 404


def test_strict_mode_rejects_instead_of_batching() -> None:
    """async_validation_failures=reject (not production's behaviour): a per-message 400 and no failed record."""
    with EmulatorServer(options=EmulatorOptions(async_validation_failures="reject", batch_window_s=0.3)) as server:
        session = platform_session(server)
        p = provision(server, session)
        single = requests.post(p.inlet_url, json=_bronze(p, "r@example.com"), timeout=5)
        time.sleep(0.35)
        assert single.status_code == 400 and single.json()["report"]["message"].endswith("Message is invalid")
        assert session.get(f"{server.url}{CATALOG}", timeout=5).json() == {}


def test_sync_validation_unsupported_is_501() -> None:
    """sync_validation_supported=False answers syncValidation=true with 501, as an edge without it does."""
    with EmulatorServer(options=EmulatorOptions(sync_validation_supported=False)) as server:
        p = provision(server, platform_session(server))
        sync = requests.post(f"{p.inlet_url}?syncValidation=true", json=profile_message(p, "a@b.co"), timeout=5)
        plain = requests.post(p.inlet_url, json=profile_message(p, "a@b.co"), timeout=5)
    assert sync.status_code == 501 and sync.json()["status"] == 501
    assert plain.status_code == 200


def test_sqlite_store_keeps_batches_and_failed_records_across_restarts(tmp_path: Any) -> None:
    """A restarted sqlite emulator still serves the batch and its failed records."""
    server = EmulatorServer(store="sqlite", data_dir=tmp_path, options=EmulatorOptions(batch_window_s=0.3)).start()
    try:
        session = platform_session(server)
        p = provision(server, session)
        requests.post(p.inlet_url, json=_bronze(p, "q@example.com"), timeout=5).raise_for_status()
        (done,) = _closed(session, server.url, p.profile_dataset).values()
        server.stop()
        server.start()
        session = platform_session(server)
        again = session.get(f"{server.url}{CATALOG}/{done['id']}", timeout=5).json()[done["id"]]
        files = session.get(f"{server.url}{EXPORT}/{done['id']}/failed", timeout=5).json()["data"]
        assert again["failedRecordCount"] == 1 and len(files) == 2
    finally:
        server.stop()


def test_reset_clears_batches_and_failed_records(tmp_path: Any) -> None:
    """POST /emulator/reset empties Catalog batches too, also after a sqlite restart."""
    server = EmulatorServer(store="sqlite", data_dir=tmp_path, options=EmulatorOptions(batch_window_s=0.3)).start()
    try:
        session = platform_session(server)
        p = provision(server, session)
        requests.post(p.inlet_url, json=_bronze(p, "r@example.com"), timeout=5).raise_for_status()
        requests.post(f"{server.url}/emulator/reset", timeout=5).raise_for_status()
        assert session.get(f"{server.url}{CATALOG}", timeout=5).json() == {}
        server.stop()
        server.start()
        assert platform_session(server).get(f"{server.url}{CATALOG}", timeout=5).json() == {}
        assert requests.get(f"{server.url}/emulator/failed", timeout=5).json() == []
    finally:
        server.stop()
