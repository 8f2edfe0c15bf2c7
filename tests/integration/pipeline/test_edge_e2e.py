"""An Edge Network mapping next to a DCS mapping in one worker, real broker, emulator over loopback, faults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
import requests

from connector.emulator import EmulatorServer
from connector.emulator.tutorial import platform_session
from connector.kafka.dead_letter import H_MESSAGE, H_OFFSET, H_REASON
from tests.harness.kafka_broker import create_topic, end_offsets
from tests.integration.pipeline.harness import audit, audit_mapping, event, produce, wait_until, worker_thread
from tests.integration.reliability.helpers import all_committed, report_duplicates, write_worker_config

pytestmark = pytest.mark.integration

CLIENT, SECRET = "edge-e2e-client", "edge-e2e-secret"
RECORDS = 2_000  # per topic
MAX_RECORDS = 250
BAD_EVERY = 97  # every 97th edge record carries a value the dataset's schema refuses
SR = "/data/foundation/schemaregistry"
FAULTS: dict[str, Any] = {
    "seed": 11,
    "rules": [
        {"kind": "status", "status": 503, "rate": 0.1, "retry_after": 1},
        {"kind": "status", "status": 429, "rate": 0.1, "retry_after": 1},
        {"kind": "status", "status": 500, "rate": 0.04},
        {"kind": "status", "status": 207, "rate": 0.05, "paths": ["/ee/"]},
        {"kind": "reset", "rate": 0.03},
        {"kind": "latency", "ms": 2500, "rate": 0.02},
        {"kind": "expire_tokens", "rate": 0.03},
    ],
}


def _post(session: requests.Session, url: str, body: Any) -> Any:
    answer = session.post(url, json=body, timeout=5)
    assert answer.status_code == 201, answer.text
    return answer.json()


def edge_dataset(server: EmulatorServer) -> str:
    """A dataset whose ExperienceEvent schema types the audit fields (_acme.n is an integer)."""
    session = platform_session(server)
    klass = "https://ns.adobe.com/xdm/context/experienceevent"
    acme = {
        "type": "object",
        "properties": {
            "n": {"type": "integer"},
            "source": {
                "type": "object",
                "properties": {name: {"type": "integer"} for name in ("partition", "offset")}
                | {"topic": {"type": "string"}},
            },
        },
    }
    group = {
        "type": "object",
        "title": "Audit",
        "meta:intendedToExtend": [klass],
        "definitions": {"audit": {"properties": {"_acme": acme}}},
        "allOf": [{"$ref": "#/definitions/audit"}],
    }
    group_id = _post(session, f"{server.url}{SR}/tenant/fieldgroups", group)["$id"]
    schema = {"type": "object", "title": "Edge audit", "allOf": [{"$ref": klass}, {"$ref": group_id}]}
    schema_id = _post(session, f"{server.url}{SR}/tenant/schemas", schema)["$id"]
    ref = {"id": schema_id, "contentType": "application/vnd.adobe.xed-full+json;version=1"}
    created = _post(session, f"{server.url}/data/foundation/catalog/dataSets", {"name": "Edge audit", "schemaRef": ref})
    return str(created[0]).removeprefix("@/dataSets/")


def edge_value(i: int) -> bytes:
    if i % BAD_EVERY == 5:
        return orjson.dumps({"n": f"bad-{i}", "email": f"user{i}@example.com", "ts": "2024-05-01T10:00:00Z"})
    return event(i)


def test_edge_and_dcs_mappings_in_one_worker_survive_a_fault_mix(
    kafka_bootstrap: str, unique_name: str, emulator: EmulatorServer, tmp_path: Path
) -> None:
    """ExperienceEvents reach a datastream and a DCS inlet through one worker under 429/5xx/207/resets/timeouts/401s
    and the Edge's 413s: every record is stored or dead-lettered, the dead letters are exactly the events the
    dataset's schema refuses, and duplicates stay within what the timed-out requests explain."""
    name = unique_name
    dcs_topic, edge_topic, dlq = f"{name}-dcs", f"{name}-edge", f"{name}-dlq"
    for topic in (dcs_topic, edge_topic):
        create_topic(kafka_bootstrap, topic, 2)
    create_topic(kafka_bootstrap, dlq, 1)
    emulator.add_client(CLIENT, SECRET)
    dataset = edge_dataset(emulator)
    ds = requests.post(f"{emulator.url}/emulator/datastreams", json={"dataset_id": dataset}, timeout=5).json()["id"]
    inlet = emulator.create_inlet(authenticated=True)
    # the emulator reads the size limit as 16 KB, the connector as 64 KB: the Edge's 413s split the requests.
    # Strict validation (not production's default, where the schema-invalid events are accepted and fail later,
    # see test_edge_failures.py): the Edge refuses them at once, so the per-event dead-lettering is exercised.
    options = {"max_request_bytes": 16_000, "validation": "sync"}
    requests.post(f"{emulator.url}/emulator/edge/options", json=options, timeout=5).raise_for_status()
    produce(kafka_bootstrap, dcs_topic, (event(i) for i in range(RECORDS)), partitions=2)
    produce(kafka_bootstrap, edge_topic, (edge_value(i) for i in range(RECORDS)), partitions=2)
    bad = {(edge_topic, i % 2, i // 2) for i in range(RECORDS) if i % BAD_EVERY == 5}
    assert requests.post(f"{emulator.url}/emulator/faults", json=FAULTS, timeout=5).status_code == 200

    edge_mapping = audit_mapping(edge_topic, destination="edge", datastream_id=ds)
    for key in ("schema_id", "dataset_id"):
        del edge_mapping[key]
    cfg = write_worker_config(
        tmp_path / "c.yaml", bootstrap=kafka_bootstrap, group=name, topics=[dcs_topic, edge_topic], dead_letter=dlq,
        inlet_url=emulator.inlet_url(inlet), mappings=[audit_mapping(dcs_topic), edge_mapping],
        batching={"max_records": MAX_RECORDS, "max_in_flight": 4, "linger_ms": 20},
        aep={
            "ims_org": "0123456789ABCDEF01234567@AdobeOrg",
            "auth": {"enabled": True, "token_url": f"{emulator.url}/ims/token/v3", "client_id": CLIENT,
                     "client_secret": SECRET},
            "edge": {"url": emulator.url},
            # the slow answers (2.5 s) outlast the read timeout: a timeout, then the request again
            "transport": {"read_timeout_s": 1.0, "connect_timeout_s": 1.0},
        },
        delivery={"initial_backoff_ms": 50, "max_backoff_ms": 1000, "attempts_before_exhausted": 3},
    )  # fmt: skip
    with worker_thread(cfg) as worker:
        wait_until(all_committed(kafka_bootstrap, name, dcs_topic, edge_topic), 240, "all offsets committed")
        assert worker.status.running

    stats = emulator.store.stats()
    faults = stats["faults"]
    print(f"faults injected: {faults}; requests by status: {stats['totals']['requests_by_status']}")
    for kind in ("status_503", "status_429", "status_500", "status_207", "reset", "latency", "expire_tokens"):
        assert faults.get(kind, 0) > 0, f"no {kind} fault fired: {faults}"
    edge_statuses = stats["inlets"][f"datastream:{ds}"]["requests_by_status"]
    assert edge_statuses.get("413", 0) > 0 and edge_statuses.get("401", 0) > 0, edge_statuses

    result = audit(kafka_bootstrap, [dcs_topic, edge_topic], emulator, dlq)
    bound = faults["latency"] * MAX_RECORDS  # only an answer lost to a timeout lets AEP keep what is sent again
    report_duplicates("edge + dcs fault mix", result, bound)
    assert result.missing == set()
    assert set(result.dead_lettered) == bad
    assert set(result.delivered) == result.produced - bad
    assert result.duplicates <= bound
    for msg in result.dead_lettered.values():
        headers = dict(msg.headers() or [])
        assert headers[H_REASON] == b"edge-rejected"
        assert b"EXEG-0104-422" in headers[H_MESSAGE] and b"_acme/n" in headers[H_MESSAGE], headers[H_MESSAGE]
        assert int(headers[H_OFFSET]) >= 0
    edge_rows = emulator.store.records(dataset)
    assert {r["datastreamId"] for r in edge_rows} == {ds}
    assert len({r["xdmEntity"]["_acme"]["source"]["offset"] for r in edge_rows}) > 0
    assert sum(end_offsets(kafka_bootstrap, dlq).values()) == len(bad)
