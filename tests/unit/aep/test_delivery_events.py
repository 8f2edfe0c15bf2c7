"""The sink's retries, throttling, 401s and splits are logged as rate-limited events (fake clock, fake transport)."""

from __future__ import annotations

import threading

import orjson
from requests.models import PreparedRequest

from connector.aep.dcs import DcsSink
from connector.aep.ims import TokenProvider
from connector.observability.delivery_log import DeliveryEvents
from connector.observability.events import EventAggregator
from connector.records import Accepted, Outcome
from tests.unit.observability.fakes import RecordingLogger

from .fakes import (
    INLET,
    FakeAdapter,
    FakeClock,
    Reply,
    aep_settings,
    auth_settings,
    delivery_settings,
    messages,
    ok_207,
    route,
    session_with,
    token_reply,
)

BATCH = "collection/batch/0123abcd"
IMS = "ims/token/v3"


class Harness:
    """A sink whose delivery events go to a RecordingLogger on the sink's fake clock."""

    def __init__(self, *, auth: bool = False) -> None:
        self.clock = FakeClock()
        self.adapter = FakeAdapter(self.clock)
        session = session_with(self.adapter)
        settings = aep_settings(auth=auth_settings() if auth else None)
        tokens = TokenProvider(settings.auth, session, clock=self.clock) if auth else None
        self.sink = DcsSink(
            settings, delivery_settings(attempts_before_exhausted=1000), session=session, tokens=tokens,
            clock=self.clock,
        )  # fmt: skip
        self.log = RecordingLogger()
        self.sink.events = DeliveryEvents(EventAggregator(self.log, clock=self.clock.monotonic, background=False))

    def deliver(self, n: int, *, authenticated: bool = False) -> list[Outcome]:
        return self.sink.deliver(route(authenticated=authenticated), messages(n), threading.Event())


def test_a_429_storm_is_a_few_lines_and_honours_retry_after() -> None:
    """60 answers 429 with Retry-After: 3 log one dcs_throttled line plus one per 30 s window; each wait >= 3 s."""
    h = Harness()
    throttled = Reply(429, {"title": "Too Many Requests"}, {"Retry-After": "3"})
    h.adapter.queue(BATCH, *[throttled] * 60, ok_207(2))
    assert all(isinstance(o, Accepted) for o in h.deliver(2))
    assert len(h.clock.sleeps) == 60 and min(h.clock.sleeps) >= 3.0
    lines = [f for _, e, f in h.log.lines if e == "dcs_throttled"]
    assert 1 < len(lines) <= 2 + sum(h.clock.sleeps) / 30
    first = lines[0]
    assert first["inlet"] == INLET and first["status"] == 429 and first["retry_after_s"] == 3.0
    assert first["delay_s"] >= 3.0
    assert 1 + sum(f.get("repeated", 0) for f in lines[1:]) <= 60


def test_5xx_retries_name_the_cause_and_the_error() -> None:
    """A 503 retry is a warning dcs_retry with status, delay and DCS's message."""
    h = Harness()
    h.adapter.queue(BATCH, Reply(503, {"title": "Service Unavailable"}), ok_207(1))
    h.deliver(1)
    level, event, fields = h.log.lines[0]
    assert (level, event, fields["cause"], fields["status"]) == ("warning", "dcs_retry", "5xx", 503)
    assert "Service Unavailable" in fields["error"]


def test_413_split_and_400_bisect_are_info_events_with_record_totals() -> None:
    """Halving a batch logs dcs_batch_split (413) or dcs_batch_bisect (400) once per window, records totalled."""
    h = Harness()

    def dcs(request: PreparedRequest) -> Reply:
        sent = orjson.loads(request.body or b"")["messages"]
        return Reply(413, {"title": "Payload Too Large"}) if len(sent) > 2 else ok_207(len(sent))

    h.adapter.route(BATCH, dcs)
    h.deliver(8)
    h.sink.events.events.close()
    splits = [(lvl, f) for lvl, e, f in h.log.lines if e == "dcs_batch_split"]
    assert [lvl for lvl, _ in splits] == ["info", "info"]
    assert splits[0][1]["records"] == 8 and splits[1][1] == {**splits[1][1], "records": 8, "repeated": 2}


def test_401_logs_the_token_refresh() -> None:
    """A 401 drops the token: dcs_token_rejected (info), then the fresh token is used."""
    h = Harness(auth=True)
    h.adapter.queue(IMS, token_reply("tok-1"), token_reply("tok-2"))
    h.adapter.queue(BATCH, Reply(401, {"status": "401", "title": "Authorization"}), ok_207(1))
    h.deliver(1, authenticated=True)
    assert ("info", "dcs_token_rejected") in [(lvl, e) for lvl, e, _ in h.log.lines]


def test_edge_throttling_is_logged_per_datastream_like_dcs() -> None:
    """An Edge Network 429 storm is a few edge_throttled lines keyed by datastream, not silence at debug."""
    from connector.aep.edge import EdgeSink
    from connector.records import Route

    clock = FakeClock()
    adapter = FakeAdapter(clock)
    sink = EdgeSink(aep_settings(), delivery_settings(attempts_before_exhausted=1000), session=session_with(adapter),
                    clock=clock)  # fmt: skip
    log = RecordingLogger()
    sink.events = DeliveryEvents(EventAggregator(log, clock=clock.monotonic, background=False), prefix="edge")
    throttled = Reply(429, {"title": "Too Many Requests"}, {"Retry-After": "3"})
    adapter.queue("ee/v2/collect", *[throttled] * 40, Reply(202, {"requestId": "r"}))
    edge = Route("http://edge.test/ee/v2/collect", destination="edge", datastream_id="ds-1")
    out = sink.deliver(edge, [orjson.dumps({"xdm": {"_id": "a"}})], threading.Event())
    assert all(isinstance(o, Accepted) for o in out)
    lines = [f for _, e, f in log.lines if e == "edge_throttled"]
    assert 1 <= len(lines) <= 2 + sum(clock.sleeps) / 30
    assert lines[0]["datastream"] == "ds-1" and lines[0]["retry_after_s"] == 3.0
    assert 1 + sum(f.get("repeated", 0) for f in lines[1:]) <= 40
