"""`aep-connector demo`: the whole pipeline on embedded defaults, no services needed.

Starts librdkafka's in-process mock cluster and the AEP emulator (in its production-like default),
provisions the loyalty schemas and datasets in the emulator (so AEP-side validation is real),
produces Adobe's loyalty sample data, an Avro twin of the events, commerce orders, the loyalty
events once more for an Edge Network datastream, and a few deliberately broken records, runs the
worker until every record is final, then brings back what AEP accepted and failed asynchronously
(`aep-connector failures --dead-letter`), and prints what happened, one section per stage.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import orjson
from confluent_kafka import Consumer, Producer

from connector.app import build_worker, compile_plan
from connector.config import Settings, load_settings
from connector.emulator import DEFAULT_ORG, EmulatorOptions, EmulatorServer
from connector.emulator.tutorial import CLIENT_ID, CLIENT_SECRET, Provisioned, platform_session, provision
from connector.kafka.dead_letter import H_MESSAGE, H_REASON, H_TOPIC
from connector.ops.event_origins import attach_origins
from connector.ops.failed_dead_letters import REASON as ASYNC_REASON
from connector.ops.failed_dead_letters import DeadLetterReport, dead_letter
from connector.ops.failures import FailuresReport, collect, configured_datasets, mapping_finder
from connector.ops.platform import PlatformClient
from connector.ops.samples import avro_twin
from connector.serde.avro_write import AvroEncoder

PACKAGE = Path(__file__).resolve().parents[1]
SAMPLES = PACKAGE / "samples"
CONFIG = Path(__file__).resolve().parent / "demo.yaml"
DLQ = "aep-connector-dlq"
EDGE_TOPIC = "loyalty-events-edge"
_AEP_PREFIX = re.compile(r"^inletId: \[[^]]*\] imsOrgId: \[[^]]*\] ")


@dataclass(frozen=True, slots=True)
class Produced:
    topic: str
    value: bytes | None
    note: str = ""
    aep_fails: bool = False  # DCS or the Edge accepts it; AEP's streaming validation fails it (a failed batch record)


def _json(name: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = orjson.loads((SAMPLES / name).read_bytes())
    return data


def _avro_events() -> list[bytes]:
    encode = AvroEncoder((SAMPLES / "loyalty-event.avsc").read_text(encoding="utf-8"))
    return [encode(avro_twin(e)) for e in _json("loyalty-events.json")]


def _edge_events() -> list[Produced]:
    """The loyalty events once more, for the Edge Network datastream (their `_id`s come from the Kafka
    coordinates), and one the Edge accepts and AEP then fails."""
    events = _json("loyalty-events.json")
    out = [Produced(EDGE_TOPIC, orjson.dumps(e)) for e in events]
    bad = {**events[0], "_exchangeinternal": {**events[0]["_exchangeinternal"], "loyaltyID": "not-an-email"}}
    out.append(Produced(EDGE_TOPIC, orjson.dumps(bad), "loyaltyID not an email (through the Edge)", aep_fails=True))
    return out


def demo_records() -> list[Produced]:
    """The sample data plus one broken record per failure class the demo shows."""
    records = [Produced("loyalty-profiles", orjson.dumps(p)) for p in _json("loyalty-profiles.json")]
    records += [Produced("loyalty-events", orjson.dumps(e)) for e in _json("loyalty-events.json")]
    records += [Produced("loyalty-events-avro", b) for b in _avro_events()]
    records += [Produced("commerce-orders", orjson.dumps(o)) for o in _json("commerce-orders.json")]
    bronze = _json("loyalty-profiles.json")[0]
    bronze["_exchangeinternal"] = {**bronze["_exchangeinternal"], "loyaltyLevel": "Bronze"}
    future = {**_json("loyalty-events.json")[0], "_id": 1, "timestamp": "2999-01-01T00:00:00Z"}
    orphan = {**_json("commerce-orders.json")[0], "orderId": "ORD-NO-EMAIL", "customer": {}}
    records += [
        Produced("loyalty-events", b'{"_id": 42, "eventType": ', "truncated JSON"),
        Produced("loyalty-events", None, "tombstone"),
        Produced("loyalty-events-avro", b"\x02\x04", "truncated Avro"),
        Produced("loyalty-events", orjson.dumps(future), "timestamp in the future"),
        Produced("commerce-orders", orjson.dumps(orphan), "order without a customer identity"),
        Produced(
            "loyalty-profiles", orjson.dumps(bronze), "loyaltyLevel not in the schema's enum", aep_fails=True
        ),
    ]
    return records + _edge_events()


class MockKafka:
    """librdkafka's in-process mock cluster; lives as long as this object."""

    def __init__(self) -> None:
        self._owner = Producer({"test.mock.num.brokers": 1, "bootstrap.servers": "unused", "log_level": 0})
        brokers = self._owner.list_topics(timeout=10).brokers.values()
        self.bootstrap = ",".join(f"{b.host}:{b.port}" for b in brokers)

    def produce(self, records: list[Produced]) -> None:
        producer = Producer({"bootstrap.servers": self.bootstrap, "log_level": 0})
        producer.list_topics(DLQ, timeout=10)  # the mock cluster creates topics on first metadata request
        for i, r in enumerate(records):
            producer.produce(r.topic, value=r.value, key=f"demo-{i}".encode())
        if producer.flush(30):
            raise RuntimeError("the embedded Kafka did not acknowledge the demo records")

    def read_all(self, topic: str, expected: int, timeout: float = 15.0) -> list[Any]:
        consumer = Consumer(
            {"bootstrap.servers": self.bootstrap, "group.id": "demo-reader", "auto.offset.reset": "earliest",
             "enable.auto.commit": False, "log_level": 0}
        )
        consumer.subscribe([topic])
        out: list[Any] = []
        deadline = time.monotonic() + timeout
        while len(out) < expected and time.monotonic() < deadline:
            out += [m for m in consumer.consume(100, 0.3) if m.error() is None]
        consumer.close()
        return out


def _env(kafka: MockKafka, server: EmulatorServer, p: Provisioned, datastream: str) -> dict[str, str]:
    return {
        "DEMO_EDGE_URL": server.url,
        "DEMO_DATASTREAM_ID": datastream,
        "DEMO_BOOTSTRAP": kafka.bootstrap,
        "DEMO_INLET_URL": p.inlet_url,
        "DEMO_IMS_ORG": DEFAULT_ORG,
        "DEMO_PLATFORM_URL": server.url,
        "DEMO_CLIENT_ID": CLIENT_ID,
        "DEMO_CLIENT_SECRET": CLIENT_SECRET,
        "DEMO_PROFILE_SCHEMA": p.profile_schema,
        "DEMO_PROFILE_DATASET": p.profile_dataset,
        "DEMO_EVENT_SCHEMA": p.event_schema,
        "DEMO_EVENT_DATASET": p.event_dataset,
        "DEMO_AVRO_SCHEMA": str(SAMPLES / "loyalty-event.avsc"),
    }


@dataclass(slots=True)
class Outcome:
    """What the run produced, for the summary: one field per stage."""

    records: list[Produced]
    delivered: int
    elapsed: float
    failures: FailuresReport | None = None
    failures_dead: DeadLetterReport | None = None


def run_demo(out: TextIO, timeout: float = 120.0, serve: bool = False) -> int:
    started = time.monotonic()
    kafka = MockKafka()
    # The emulator's default is production's behaviour: schema-invalid records are acknowledged by
    # DCS and land in failed batches; a short batch window lets the demo read them at once.
    options = EmulatorOptions(tenant_id="exchangeinternal", batch_window_s=0.3)
    server = EmulatorServer(port=0, store="memory", options=options).start()
    try:
        session = platform_session(server)
        p = provision(server, session)
        datastream = server.app.edge.create_datastream(dataset_id=p.event_dataset, name="Loyalty events (Edge)")
        settings = load_settings(CONFIG, environ=_env(kafka, server, p, datastream))
        records = demo_records()
        kafka.produce(records)
        worker = build_worker(compile_plan(settings))
        thread = threading.Thread(target=worker.run, name="worker", daemon=True)
        t0 = time.monotonic()
        thread.start()
        total = len(records)
        deadline = t0 + timeout
        while time.monotonic() < deadline:
            st = worker.status
            if st.delivered + st.dead_lettered >= total and st.buffered == 0:
                break
            time.sleep(0.05)
        elapsed = time.monotonic() - t0
        worker.stop()
        thread.join(30)
        st = worker.status
        outcome = Outcome(records, st.delivered, elapsed)
        outcome.failures, outcome.failures_dead = _aep_failures(settings, sum(r.aep_fails for r in records))
        wall = time.monotonic() - started
        _summary(out, kafka=kafka, server=server, session=session, outcome=outcome, wall=wall)
        ok = st.delivered + st.dead_lettered == total and st.buffered == 0
        if not ok:
            out.write(f"\nDEMO FAILED: {st.delivered} delivered + {st.dead_lettered} dead-lettered of {total}\n")
        if serve:
            out.write("serving the emulator until Ctrl-C...\n")
            out.flush()
            with contextlib.suppress(KeyboardInterrupt):
                threading.Event().wait()
        return 0 if ok else 1
    finally:
        server.stop()


def _aep_failures(settings: Settings, expected: int, wait_s: float = 15.0) -> tuple[FailuresReport, DeadLetterReport]:
    """`aep-connector failures --dead-letter`: once the streaming batches closed, fetch and dead-letter."""
    client = PlatformClient(settings.aep)
    datasets, notes = configured_datasets(settings, client)
    deadline = time.monotonic() + wait_s
    report = collect(client, datasets, None, notes)
    while (report.open_batches or len(report.records) < expected) and time.monotonic() < deadline:
        time.sleep(0.2)
        report = collect(client, datasets, None, notes)
    attach_origins(report, settings)
    dead = dead_letter(report.records, settings.kafka, DLQ, mapping_of=mapping_finder(settings, report))
    return report, dead


def _summary(
    out: TextIO, *, kafka: MockKafka, server: EmulatorServer, session: Any, outcome: Outcome, wall: float
) -> None:
    w = out.write
    w("\nKafka -> AEP connector demo (embedded Kafka mock cluster + local AEP emulator)\n")
    w("=" * 78 + "\n")
    records = outcome.records
    broken = [r for r in records if r.note]
    by_topic = Counter(r.topic for r in records)
    w(f"produced    {len(records)} records: " + ", ".join(f"{t} {n}" for t, n in sorted(by_topic.items())) + "\n")
    w(f"            ({len(broken)} of them broken on purpose)\n")
    totals = server.store.stats()["totals"]
    w(
        f"delivered   {outcome.delivered} records accepted by AEP (emulator: {totals.get('lake', '?')} in the data "
        f"lake, {totals.get('failed', '?')} failed streaming validation)\n"
    )
    edge = {k: v for k, v in server.store.stats()["inlets"].items() if k.startswith("datastream:")}
    for key, counts in edge.items():
        ds = key.removeprefix("datastream:")
        w(f"            of them {counts['accepted']} through the Edge Network (/ee/v2/collect, datastream {ds})\n")
    dead = kafka.read_all(DLQ, len(broken))
    _dead_letters(w, [m for m in dead if dict(m.headers() or [])[H_REASON].decode() != ASYNC_REASON])
    _failed_in_aep(w, outcome)
    w(f"timing      every record final {outcome.elapsed:.2f}s after the worker started (most of it the consumer-group\n"
      f"            join); demo wall time {wall:.1f}s. Throughput figures: `make bench`.\n")
    w("committed   offsets of every record, only after AEP accepted it or the dead-letter write was acked\n\n")
    _profile(w, server, session)
    w(f"\nthe emulator's page: {server.url}/  (stays up with `aep-connector demo --serve`)\n")


def _dead_letters(w: Any, messages: list[Any]) -> None:
    """Records the connector refused itself (undecodable, unmappable), with their reasons."""
    w(f"dead-letter {len(messages)} records in topic {DLQ}, original bytes kept:\n")
    for msg in messages:
        h = dict(msg.headers() or [])
        reason, topic = h[H_REASON].decode(), h[H_TOPIC].decode()
        message = _AEP_PREFIX.sub("", h[H_MESSAGE].decode())
        w(f"  - {reason:<17} {topic:<20} {message[:100]}\n")


def _failed_in_aep(w: Any, outcome: Outcome) -> None:
    """Records DCS or the Edge accepted and AEP failed later, as `aep-connector failures` found and dead-lettered
    them."""
    report, dead = outcome.failures, outcome.failures_dead
    if report is None:
        return
    w(f"failed      {len(report.records)} record(s) DCS or the Edge Network accepted and AEP then failed in streaming\n"
      "            validation (asynchronous, as in production), found by `aep-connector failures` in failed\n"
      "            batches:\n")
    for rec in report.records:
        origin = rec.origin
        where = f"{origin[0]}/{origin[1]}/{origin[2]}" if origin else rec.key
        w(f"  - {where:<24} {rec.describe()[:100]}\n")
    if dead is not None:
        w(f"            and dead-lettered to {dead.topic} as {ASYNC_REASON} ({dead.original} original Kafka "
          "record(s)):\n            `aep-connector dlq replay` re-publishes them once the cause is fixed\n")


def _profile(w: Any, server: EmulatorServer, session: Any) -> None:
    email = "fstarr7@answers.com"
    base = f"{server.url}/data/core/ups/access/entities"
    profile = session.get(base, params={"schema.name": "_xdm.context.profile", "entityId": email,
                                        "entityIdNS": "Email"}, timeout=5).json()
    events = session.get(base, params={"schema.name": "_xdm.context.experienceevent",
                                       "relatedSchema.name": "_xdm.context.profile",
                                       "relatedEntityId": email, "relatedEntityIdNS": "Email"}, timeout=5).json()
    w(f"one profile as AEP received it (Profile access API, identity Email={email}):\n")
    for value in profile.values():
        if isinstance(value, dict) and "entity" in value:
            w(orjson.dumps(value["entity"], option=orjson.OPT_INDENT_2).decode() + "\n")
    children = events.get("children", []) if isinstance(events, dict) else []
    w(f"and its {len(children)} ExperienceEvent(s):\n")
    for child in children:
        ent = child.get("entity", {})
        w(f"  - {ent.get('timestamp')} {ent.get('eventType')} _id={ent.get('_id')} "
          f"points={ent.get('_exchangeinternal', {}).get('pointsEarned')}\n")
