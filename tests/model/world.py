"""The world the worker model runs in, single-threaded and deterministic.

Kafka (a log per partition, fetch positions, seeks, pauses, multi-run polls, commits), AEP (the
real DcsSink over a scripted HTTP transport), the dead-letter topic, the schema registry (the real
RegistryClient over a scripted transport) and the delivery threads (a dispatcher that runs a
delivery only when the model says so) all share one fake clock. The world keeps the ground
truth the invariants are checked against: which records AEP holds, in which order it took them,
and which dead letters the broker acknowledged.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

import orjson
import requests
from requests.models import PreparedRequest

from connector.aep.dcs import DcsSink
from connector.aep.ims import TokenProvider
from connector.config import AepSettings, BatchingSettings, DeliverySettings, TransportSettings
from connector.errors import FatalError, MappingError, RecordError
from connector.interfaces import Clock, RebalanceListener
from connector.lanes import Delivery
from connector.records import Route, SourceRecord, TopicPartition
from connector.routing import Pipeline, Router
from connector.serde.avro import AvroDeserializer
from connector.serde.registry import RegistryClient
from tests.fakes import EchoMapper, FakeClock
from tests.unit.aep.fakes import FakeAdapter, Reply, auth_settings, session_with, token_reply
from tests.unit.aep.fakes import FakeClock as SinkClock
from tests.unit.serde.fakes import REGISTRY_URL, FakeRegistry, framed, response

TOPIC = "t"
PARTS = tuple(TopicPartition(TOPIC, p) for p in range(3))
INLET = "http://dcs.test/collection/0123abcd"
ROUTE = Route(INLET, authenticated=True)
SCHEMA = {
    "type": "record",
    "name": "R",
    "fields": [{"name": "p", "type": "int"}, {"name": "o", "type": "long"}, {"name": "k", "type": "string"}],
}
KINDS = ("ok", "bad-bytes", "map-fail", "invalid")
RECORD_REASONS = {
    "bad-bytes": {"not-avro-framed"},
    "map-fail": {"mapping-failed"},
    "invalid": {"aep-rejected", "aep-rejected-400"},
    "ok": set(),
}
READ_TIMEOUT_S = 30.0
REGISTRY_TIMEOUT_S = 10.0
Key = tuple[TopicPartition, int]


@dataclass
class Truth:
    """What really happened, as the outside world saw it."""

    kinds: dict[Key, str] = field(default_factory=dict)
    # per partition, (offset, assignment period of the delivery) in the order AEP took them
    aep_log: dict[TopicPartition, list[tuple[int, int]]] = field(default_factory=lambda: {tp: [] for tp in PARTS})
    accepted: set[Key] = field(default_factory=set)
    accepted_in: set[tuple[TopicPartition, int, int]] = field(default_factory=set)  # (tp, offset, period)
    dead: set[Key] = field(default_factory=set)  # dead letter acknowledged by the broker
    dead_sent: dict[tuple[TopicPartition, int, int], list[str]] = field(default_factory=dict)
    exhausted: set[TopicPartition] = field(default_factory=set)  # a delivery of them ran out of retry budget
    first_open: dict[TopicPartition, int] = field(default_factory=lambda: dict.fromkeys(PARTS, 0))

    def final(self, key: Key) -> bool:
        return key in self.accepted or key in self.dead

    def open_from(self, tp: TopicPartition, end: int) -> int:
        """The first offset of `tp` (below `end`) that is neither in AEP nor in the dead-letter topic."""
        at = self.first_open[tp]
        while at < end and self.final((tp, at)):
            at += 1
        self.first_open[tp] = at
        return at


class LogSource:
    """A consumer-group member over in-memory partition logs; polls hand out the runs the model planned."""

    def __init__(self, truth: Truth) -> None:
        self.truth = truth
        self.logs: dict[TopicPartition, list[SourceRecord]] = {tp: [] for tp in PARTS}
        self.committed: dict[TopicPartition, int] = {}
        self.position: dict[TopicPartition, int] = {}  # assigned partitions -> next offset to fetch
        self.period: dict[TopicPartition, int] = dict.fromkeys(PARTS, 0)
        self.paused: set[TopicPartition] = set()
        self.revoking: set[TopicPartition] = set()
        self.losing = False
        self.listener: RebalanceListener | None = None
        self.plan: list[tuple[int, int]] | None = None
        self.closed = False
        self.commits = 0

    # the RecordSource protocol
    def subscribe(self, listener: RebalanceListener) -> None:
        self.listener = listener

    def poll_batch(self, max_records: int, timeout: float) -> list[SourceRecord]:
        assert not self.closed, "poll after close"
        plan, self.plan = self.plan, None
        out: list[SourceRecord] = []
        for index, count in plan or ():
            # a run of the index-th partition that has something to hand out (the plan stays meaningful)
            readable = [tp for tp in PARTS if tp in self.position and tp not in self.paused
                        and self.position[tp] < len(self.logs[tp])]
            if not readable:
                break
            tp = readable[index % len(readable)]
            at = self.position[tp]
            taken = self.logs[tp][at : at + min(count, max_records - len(out))]
            self.position[tp] = at + len(taken)
            out += taken
        return out

    def commit(self, offsets: dict[TopicPartition, int], asynchronous: bool) -> None:
        assert not self.losing, f"commit {offsets} attempted inside on_lost"
        assert not self.closed, "commit after close"
        self.commits += 1
        for tp, offset in offsets.items():
            assert tp in self.position, f"commit of {tp}, which is not assigned"
            before = self.committed.get(tp, 0)
            assert offset >= before, f"{tp}: committed offset moves backwards {before} -> {offset}"
            first_open = self.truth.open_from(tp, len(self.logs[tp]))
            assert offset <= first_open, (
                f"{tp}: commit {offset} passes offset {first_open}, which is neither in AEP nor dead-lettered"
            )
            self.committed[tp] = offset

    def pause(self, partitions: Sequence[TopicPartition]) -> None:
        self.paused.update(tp for tp in partitions if tp in self.position)

    def resume(self, partitions: Sequence[TopicPartition]) -> None:
        self.paused.difference_update(partitions)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        assert tp in self.position, f"seek on {tp}, which is not assigned"
        self.position[tp] = offset

    def assignment(self) -> list[TopicPartition]:
        return list(self.position)

    def close(self) -> None:
        self.closed = True

    # the group coordinator
    def assign(self, partitions: Sequence[TopicPartition]) -> None:
        for tp in partitions:
            self.position[tp] = self.committed.get(tp, 0)
            self.period[tp] += 1
        assert self.listener is not None
        self.listener.on_assigned(list(partitions))

    def revoke(self, partitions: Sequence[TopicPartition]) -> None:
        assert self.listener is not None
        self.revoking = set(partitions)
        try:
            self.listener.on_revoked(list(partitions))
        finally:
            self.revoking = set()
            self._unassign(partitions)

    def lose(self, partitions: Sequence[TopicPartition]) -> None:
        assert self.listener is not None
        self.losing = True
        try:
            self.listener.on_lost(list(partitions))
        finally:
            self.losing = False
            self._unassign(partitions)

    def _unassign(self, partitions: Sequence[TopicPartition]) -> None:
        for tp in partitions:
            self.position.pop(tp, None)
            self.paused.discard(tp)  # KafkaSource resumes what it loses: it comes back unpaused

    def produce(self, tp: TopicPartition, kind: str, schema_id: int) -> None:
        offset = len(self.logs[tp])
        if kind == "bad-bytes":
            value = b"\x07not avro"
        else:
            value = framed(schema_id, SCHEMA, {"p": tp.partition, "o": offset, "k": kind})
        self.logs[tp].append(SourceRecord(tp.topic, tp.partition, offset, b"k", value, (), 1))
        self.truth.kinds[(tp, offset)] = kind


class StepDispatcher:
    """Deliveries run when the model says so (`run`), or, inside the worker's bounded waits, as `policy` says."""

    def __init__(self, clock: FakeClock, world: World) -> None:
        self.clock = clock
        self.world = world
        self.pending: list[Delivery] = []
        self.done: list[Delivery] = []
        self.policy = "idle"  # idle: nothing comes back while the worker waits; drain: the oldest runs
        self.closed = False
        self.on_wire = False
        self.hang_after = float("inf")  # the model sets a bound on how long one call into the worker may wait

    def submit(self, job: Delivery) -> None:
        assert not self.closed, "delivery submitted after the dispatcher was closed"
        for other in self.pending + self.done:  # cancelled ones too: their request may be on the wire
            shared = job.partitions & other.partitions
            assert not shared, f"a second delivery of {sorted(shared)} while an earlier one is outstanding"
        self.world.periods[job] = {tp: self.world.source.period[tp] for tp in job.partitions}
        self.pending.append(job)

    def run(self, index: int, on_wire: bool = False) -> None:
        """Run a pending delivery; `on_wire`: its request was sent before any cancel could stop it."""
        job = self.pending.pop(index)
        cancel = job.cancel
        if on_wire:
            job.cancel = threading.Event()
        self.world.running = job
        try:
            job.run()
        finally:
            self.world.running = None
            job.cancel = cancel
        self.done.append(job)

    def finished(self, wait_s: float) -> list[Delivery]:
        assert self.clock.monotonic() < self.hang_after, "the worker has been waiting for deliveries for ever: a hang"
        if not self.done and wait_s > 0:
            if self.policy == "drain" and self.pending:
                self.run(0, on_wire=self.on_wire)
            else:
                self.clock.sleep(wait_s)
        done, self.done = self.done, []
        return done

    def monotonic(self) -> float:
        return self.clock.monotonic()

    def close(self) -> None:
        self.closed = True


class ModelDeadLetters:
    """The dead-letter producer: writes are acknowledged when the model delivers them; callbacks run from poll."""

    def __init__(self, clock: FakeClock, world: World) -> None:
        self.clock = clock
        self.world = world
        self.pending: list[tuple[SourceRecord, RecordError, Callable[[], None]]] = []
        self.acked: list[Callable[[], None]] = []
        self.state = "ok"  # ok | down | fatal
        self.flushes = 0

    def send(
        self, record: SourceRecord, error: RecordError, on_written: Callable[[], None], mapping: str | None = None
    ) -> None:
        tp = record.tp
        key = (tp, record.offset, self.world.source.period[tp])
        self.world.truth.dead_sent.setdefault(key, []).append(error.reason)
        self.pending.append((record, error, on_written))

    def deliver(self, count: int) -> None:
        if self.state != "ok":
            return
        for record, _, cb in self.pending[:count]:
            self.world.truth.dead.add((record.tp, record.offset))
            self.acked.append(cb)
        del self.pending[:count]

    def poll(self) -> None:
        if self.state == "fatal":
            raise FatalError("dead-letter producer: topic authorization failed")
        acked, self.acked = self.acked, []
        for cb in acked:
            cb()

    def flush(self, timeout: float) -> int:
        self.flushes += 1
        if self.state == "fatal":
            raise FatalError("dead-letter producer: topic authorization failed")
        if self.state == "ok":
            self.deliver(len(self.pending))
        elif self.pending:
            self.clock.sleep(timeout)
        self.poll()
        return len(self.pending)


def retry_after_header(choice: str | None, clock: Clock) -> dict[str, str]:
    if choice is None:
        return {}
    if choice == "date-far":
        return {"Retry-After": formatdate(clock.time() + 1e9, usegmt=True)}
    if choice == "date-past":
        return {"Retry-After": formatdate(clock.time() - 60, usegmt=True)}
    return {"Retry-After": choice}


class Aep:
    """DCS and IMS at the HTTP transport: answers come from a script, then 'ok'; AEP's log is the ground truth."""

    def __init__(self, clock: SinkClock, world: World, single: bool) -> None:
        self.clock = clock
        self.world = world
        self.single = single
        self.script: deque[tuple[Any, ...]] = deque()
        self.ims_script: deque[tuple[Any, ...]] = deque()
        self.misconfigured = False  # every request gets a request-level 400 (wrong headers): for good
        self.forbidden = False  # every request gets a 403: for good
        self.adapter = FakeAdapter(clock)
        self.adapter.route("collection/batch/0123abcd", self._dcs)
        self.adapter.route("collection/0123abcd", self._dcs)
        self.adapter.route("ims/token/v3", self._ims)
        self.tokens = 0

    def _ims(self, request: PreparedRequest) -> Reply:
        answer = self.ims_script.popleft() if self.ims_script else ("ok",)
        if answer[0] == "503":
            return Reply(503, None, retry_after_header(answer[1], self.clock))
        self.tokens += 1
        return token_reply(f"tok-{self.tokens}")

    def _dcs(self, request: PreparedRequest) -> Reply | BaseException:
        doc = orjson.loads(request.body or b"")
        messages = [doc] if self.single else doc["messages"]
        if self.forbidden:
            return Reply(403, {"title": "Forbidden"})
        if self.misconfigured:
            return Reply(400, {"type": "/placeholder/type/uri", "status": 400, "title": "BadRequestError",
                               "detail": "A valid content-type must be specified"})
        answer = self.script.popleft() if self.script else ("ok",)
        kind = answer[0]
        if kind == "401":
            return Reply(401, {"status": "401", "title": "Authorization", "report": {"message": "token expired"}})
        if kind == "413" and len(messages) > 1:
            return Reply(413, {"title": "Payload Too Large"})
        if kind in ("429", "503"):
            return Reply(int(kind), {"title": "busy"}, retry_after_header(answer[1], self.clock))
        if kind == "timeout-lost":
            self.clock.sleep(READ_TIMEOUT_S)
            return requests.ReadTimeout("read timed out")
        fails: tuple[bool, ...] = answer[2] if kind == "mixed" else ()
        verdicts = self._take(messages, fails)
        if kind == "timeout-stored":
            self.clock.sleep(READ_TIMEOUT_S)
            return requests.ReadTimeout("read timed out after AEP stored the request")
        if self.single:
            if verdicts[0] == "ok":
                return Reply(200, {"inletId": "0123abcd", "xactionId": "x", "receivedTimeMs": 1})
            if verdicts[0] == "retry":
                return Reply(503, {"title": "Service Unavailable"})
            return Reply(400, {"status": 400, "title": "Invalid XDM Message Format", "report": {
                "message": "Message is invalid",
                "cause": {"_streamingValidation": [{"message": "1 schema violation found"}]}}})
        shape = answer[1] if kind == "mixed" else "statusCode"
        return Reply(207, {"inletId": "0123abcd", "batchId": "b", "responses": [
            _entry(v, i, shape) for i, v in enumerate(verdicts)]})

    def _take(self, messages: list[Any], fails: tuple[bool, ...]) -> list[str]:
        """Per message: 'ok' (AEP stores it now), 'bad' (4xx) or 'retry' (5xx entry)."""
        verdicts: list[str] = []
        job = self.world.running
        periods = self.world.periods.get(job, {}) if job is not None else {}
        for i, msg in enumerate(messages):
            entity = msg["body"]["xdmEntity"]
            tp, offset = PARTS[entity["p"]], entity["o"]
            if entity["k"] == "invalid":
                verdicts.append("bad")
            elif fails and fails[i % len(fails)]:
                verdicts.append("retry")
            else:
                verdicts.append("ok")
                truth = self.world.truth
                period = periods.get(tp, -1)
                truth.aep_log[tp].append((offset, period))
                truth.accepted.add((tp, offset))
                truth.accepted_in.add((tp, offset, period))
        return verdicts


def _entry(verdict: str, index: int, shape: str) -> dict[str, Any]:
    if verdict == "ok":
        return {"xactionId": f"b:{index}"}
    status = 400 if verdict == "bad" else 503
    if shape == "status":
        return {"xactionId": f"9341f8eb-{index}", "status": status, "message": "failed"}
    return {"statusCode": status, "message": "failed"}


class Registry:
    """The schema registry's transport: 'ok', 'down' (503), 'throttled' (429 + Retry-After), 'timeout', 'refused'."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.mode: tuple[Any, ...] = ("ok",)
        self.fake = FakeRegistry(fault=self._fault)
        for schema_id in range(1, 1000):
            self.fake.add(schema_id, SCHEMA)
        session = requests.Session()
        session.mount("http://", self.fake)
        self.client = RegistryClient(REGISTRY_URL, session=session, timeout_s=REGISTRY_TIMEOUT_S, clock=clock.monotonic)

    def _fault(self, request: PreparedRequest) -> requests.Response | BaseException | None:
        kind = self.mode[0]
        if kind == "down":
            return response(503, {"error_code": 50301, "message": "down"}, retry_after_header(self.mode[1], self.clock))
        if kind == "throttled":
            return response(429, {"error_code": 42901, "message": "slow down"},
                            retry_after_header(self.mode[1], self.clock))
        if kind == "timeout":
            self.clock.sleep(REGISTRY_TIMEOUT_S)
            return requests.ReadTimeout("registry read timed out")
        if kind == "refused":
            return requests.ConnectionError("connection refused")
        return None


class World:
    """Everything the worker talks to, wired to one clock."""

    def __init__(self, *, single: bool, dead_letter_on_exhaustion: bool, linger_ms: int = 50) -> None:
        self.clock = FakeClock()  # the loop's
        self.sink_clock = SinkClock()  # deliveries run on other threads: their waits do not hold up the loop
        self.truth = Truth()
        self.periods: dict[Delivery, dict[TopicPartition, int]] = {}
        self.running: Delivery | None = None
        self.source = LogSource(self.truth)
        self.dispatcher = StepDispatcher(self.clock, self)
        self.dead_letters = ModelDeadLetters(self.clock, self)
        self.aep = Aep(self.sink_clock, self, single)
        self.registry = Registry(self.clock)
        self.exhaustion = "dead_letter" if dead_letter_on_exhaustion else "pause"
        aep = AepSettings(
            inlet_url=INLET, mode="single" if single else "batch", sync_validation=single,
            auth=auth_settings(), transport=TransportSettings(read_timeout_s=READ_TIMEOUT_S),
        )
        session = session_with(self.aep.adapter)
        delivery = DeliverySettings(
            initial_backoff_ms=100, max_backoff_ms=2_000, attempts_before_exhausted=4,
            on_retries_exhausted=self.exhaustion,
        )
        tokens = TokenProvider(aep.auth, session, clock=self.sink_clock)
        self.sink = DcsSink(aep, delivery, session=session, tokens=tokens, clock=self.sink_clock)
        decoder = AvroDeserializer(self.registry.client.writer_schema)
        self.router = Router([([TOPIC], Pipeline(decoder, EchoMapper(ROUTE, _fail)))])
        self.batching = BatchingSettings(
            max_records=2, linger_ms=linger_ms, max_in_flight=2, max_buffered_records=10, commit_interval_ms=100,
            poll_batch=10,
        )


def _fail(value: Any) -> RecordError | None:
    return MappingError("no identity", target="_id") if value.get("k") == "map-fail" else None
