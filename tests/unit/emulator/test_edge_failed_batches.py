"""The emulator's Edge Network and the dataset schema: accepted, then failed in a streaming batch (production),
or refused at once (`validation: sync`, for tests that want it). In process, no HTTP."""

from __future__ import annotations

import time
from typing import Any

import orjson

from connector.emulator.app import EmulatorApp
from connector.emulator.batches import BATCHES, catalog_view
from connector.emulator.config import EmulatorOptions
from connector.emulator.http import Request, Response, make_request
from connector.emulator.registry import DATASETS, FIELDGROUPS, SCHEMAS
from connector.emulator.seed import apply_seed
from connector.emulator.store import MemoryStore
from connector.emulator.xdmlib import EVENT_CLASS

DATASET, OTHER = "ds-events", "ds-other"
GROUP: dict[str, Any] = {
    "$id": "https://ns.adobe.com/acme/mixins/points",
    "meta:intendedToExtend": [EVENT_CLASS],
    "definitions": {"p": {"properties": {"_acme": {"type": "object", "properties": {"n": {"type": "integer"}}}}}},
    "allOf": [{"$ref": "#/definitions/p"}],
}
SCHEMA: dict[str, Any] = {
    "$id": "https://ns.adobe.com/acme/schemas/points",
    "title": "Points",
    "allOf": [{"$ref": EVENT_CLASS}, {"$ref": GROUP["$id"]}],
}


def app(window_s: float = 60.0, **options: Any) -> EmulatorApp:
    """An emulator with two datasets of the Points schema and a datastream `dstr` writing to the first."""
    emu = EmulatorApp(
        MemoryStore(), EmulatorOptions(batch_window_s=window_s, platform_auth=False, **options), lambda: "http://emu"
    )
    ref = {"id": SCHEMA["$id"], "contentType": "application/vnd.adobe.xed-full+json;version=1"}
    seed = {
        FIELDGROUPS: [GROUP],
        SCHEMAS: [SCHEMA],
        DATASETS: [{"id": ds, "name": ds, "schemaRef": ref} for ds in (DATASET, OTHER)],
        "datastreams": [{"id": "dstr", "dataset_id": DATASET, "override_datasets": [OTHER]}],
    }
    apply_seed(emu, seed)
    return emu


def xdm(i: int, n: Any) -> dict[str, Any]:
    return {
        "_id": f"e-{i}",
        "timestamp": "2024-05-01T10:00:00Z",
        "identityMap": {"Email": [{"id": f"u{i}@example.com", "primary": True}]},
        "_acme": {"n": n},
    }


def post(emu: EmulatorApp, path: str, body: Any) -> Response:
    return emu.handle(make_request("POST", path, {"content-type": "application/json"}, orjson.dumps(body)))


def get(emu: EmulatorApp, target: str) -> Response:
    request: Request = make_request("GET", target, {}, b"")
    return emu.handle(request)


def collect(emu: EmulatorApp, *events: dict[str, Any], meta: Any = None) -> Response:
    body: dict[str, Any] = {"events": [{"xdm": e} for e in events]}
    if meta is not None:
        body["meta"] = meta
    return post(emu, "/ee/v2/collect?datastreamId=dstr", body)


def batches(emu: EmulatorApp) -> list[dict[str, Any]]:
    return [b for _, b in emu.store.items(BATCHES)]


def test_a_schema_invalid_event_is_accepted_and_becomes_a_failed_record_of_the_datasets_batch() -> None:
    """Production default: 202 for the whole request; the valid event is stored, the invalid one is a failed
    record of the dataset's open streaming batch, counted in its Catalog metrics."""
    emu = app()
    answer = collect(emu, xdm(0, 5), xdm(1, "five"))
    assert answer.status == 202
    assert [r["xdmEntity"]["_id"] for r in emu.store.records(DATASET)] == ["e-0"]
    (failed,) = emu.store.failed(DATASET)
    (batch,) = batches(emu)
    assert failed["batchId"] == batch["id"] and failed["stage"] == "async" and failed["datastreamId"] == "dstr"
    assert failed["errors"][0]["pointerToViolation"] == "#/_acme/n" and failed["errors"][0]["keyword"] == "type"
    view = catalog_view(batch, int(batch["closesAt"]), "http://emu")
    assert view["status"] == "success" and view["relatedObjects"] == [{"type": "dataSet", "id": DATASET}]
    assert view["metrics"] == {"inputRecordCount": 2, "outputRecordCount": 1, "failedRecordCount": 1}
    stats = emu.store.stats()["inlets"]["datastream:dstr"]
    assert (stats["accepted"], stats["rejected"], stats["failed"], stats["lake"]) == (2, 0, 1, 1)


def test_data_access_serves_the_events_xdm_with_its_validation_errors_once_the_batch_closed() -> None:
    """The failed file holds one line per failed event: its XDM (with `_id`) plus `_validationErrors`."""
    emu = app(window_s=0.001)
    assert collect(emu, xdm(1, "five")).status == 202
    (batch,) = batches(emu)
    while time.time() * 1000 <= batch["closesAt"]:
        time.sleep(0.001)
    listing = orjson.loads(get(emu, f"/data/foundation/export/batches/{batch['id']}/failed").body)
    part = next(f["name"] for f in listing["data"] if f["name"].startswith("part-"))
    content = get(emu, f"/data/foundation/export/batches/{batch['id']}/failed?path={part}").body
    (line,) = [orjson.loads(x) for x in content.splitlines()]
    assert line["_id"] == "e-1" and line["_acme"] == {"n": "five"}
    assert line["_validationErrors"][0]["pointerToViolation"] == "#/_acme/n"
    listed = orjson.loads(get(emu, f"/data/foundation/catalog/batches?dataSet={DATASET}").body)
    assert listed[batch["id"]]["status"] == "failed" and listed[batch["id"]]["failedRecordCount"] == 1


def test_errors_only_content_keeps_only_the_validation_errors() -> None:
    """`failed_record_content="errors-only"` applies to Edge events as to DCS messages."""
    emu = app(failed_record_content="errors-only")
    collect(emu, xdm(1, "five"))
    (failed,) = emu.store.failed(DATASET)
    assert list(failed["line"]) == ["_validationErrors"]


def test_an_overridden_event_dataset_gets_the_failed_record() -> None:
    """With `meta.configOverrides` naming another (allowed) dataset, the failure lands in that dataset's batch."""
    emu = app()
    meta = {"configOverrides": {"com_adobe_experience_platform": {"datasets": {"event": {"datasetId": OTHER}}}}}
    assert collect(emu, xdm(1, "five"), meta=meta).status == 202
    assert emu.store.failed(DATASET) == [] and len(emu.store.failed(OTHER)) == 1
    assert [b["datasetId"] for b in batches(emu)] == [OTHER]


def test_interact_fails_its_event_the_same_way() -> None:
    """The interactive endpoint answers 200 with handles and fails the invalid event later, like collect."""
    emu = app()
    answer = post(emu, "/ee/v2/interact?datastreamId=dstr", {"event": {"xdm": xdm(1, "five")}})
    assert answer.status == 200 and orjson.loads(answer.body)["handle"]
    assert len(emu.store.failed(DATASET)) == 1 and emu.store.records() == []


def test_strict_validation_refuses_the_request_and_stores_nothing() -> None:
    """`validation: sync` (tests that want immediate rejection): EXEG-0104-422 naming the event; no batch."""
    emu = app()
    assert post(emu, "/emulator/edge/options", {"validation": "sync"}).status == 200
    answer = collect(emu, xdm(0, 5), xdm(1, "five"))
    body = orjson.loads(answer.body)
    assert answer.status == 422 and body["type"].endswith("EXEG-0104-422")
    assert body["report"]["errors"] == ["event #1: #/_acme/n: expected type: Long, found: String"]
    assert emu.store.records() == [] and emu.store.failed() == [] and batches(emu) == []


def test_the_emulators_strict_mode_makes_the_edge_strict_too() -> None:
    """`--async-validation-failures reject` (the old strict mode) sets the Edge's default to `sync`."""
    emu = app(async_validation_failures="reject")
    assert orjson.loads(get(emu, "/emulator/edge/options").body)["validation"] == "sync"
    assert collect(emu, xdm(1, "five")).status == 422
    assert orjson.loads(get(emu, "/emulator/edge/options").body)["validation"] == "sync"
    assert orjson.loads(get(app(), "/emulator/edge/options").body)["validation"] == "async"
