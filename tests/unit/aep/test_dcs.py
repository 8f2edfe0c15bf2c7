"""DcsSink against a fake transport and a fake clock: nothing sleeps, nothing leaves the process."""

from __future__ import annotations

import gzip
import threading
from email.utils import formatdate
from typing import Any

import orjson
import pytest
import requests
from requests.models import PreparedRequest

from connector import USER_AGENT
from connector.aep.dcs import DcsSink
from connector.aep.ims import TokenProvider
from connector.aep.retry import Backoff
from connector.aep.wire import batch_body
from connector.config import TransportSettings
from connector.errors import DeliveryAbandoned, FatalError, RejectedError
from connector.records import Accepted, Outcome

from .fakes import (
    WALL_START,
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
SINGLE = "collection/0123abcd"
IMS = "ims/token/v3"


class Harness:
    def __init__(self, *, auth: bool = False, delivery: dict[str, Any] | None = None, **aep: Any) -> None:
        self.clock = FakeClock()
        self.adapter = FakeAdapter(self.clock)
        self.session = session_with(self.adapter)
        settings = aep_settings(auth=auth_settings() if auth else None, **aep)
        self.tokens = TokenProvider(settings.auth, self.session, clock=self.clock) if auth else None
        self.sink = DcsSink(
            settings,
            delivery_settings(**(delivery or {})),
            session=self.session,
            tokens=self.tokens,
            clock=self.clock,
        )
        self.cancel = threading.Event()

    def deliver(self, msgs: list[bytes], **route_fields: Any) -> list[Outcome]:
        return self.sink.deliver(route(**route_fields), msgs, self.cancel)

    def batches(self) -> list[list[Any]]:
        return [s.json()["messages"] for s in self.adapter.requests_to(BATCH)]


def all_accepted(outcomes: list[Outcome]) -> bool:
    return all(isinstance(o, Accepted) for o in outcomes)


def test_batch_posts_the_wire_body_with_headers() -> None:
    """The batch endpoint gets {"messages":[...]} byte for byte, with the route's headers."""
    h = Harness()
    msgs = messages(3)
    h.adapter.queue(BATCH, ok_207(3))
    out = h.deliver(msgs, flow_id="flow-1", sandbox="prod", ims_org="ORG@AdobeOrg", extra_headers=(("x-extra", "1"),))
    assert out == [Accepted("b:1:0"), Accepted("b:1:1"), Accepted("b:1:2")]
    (seen,) = h.adapter.seen
    assert seen.body == batch_body(msgs)
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.headers["User-Agent"] == USER_AGENT
    assert seen.headers["x-adobe-flow-id"] == "flow-1"
    assert seen.headers["x-sandbox-name"] == "prod"
    assert seen.headers["x-gw-ims-org-id"] == "ORG@AdobeOrg"
    assert seen.headers["x-extra"] == "1"
    assert "Authorization" not in seen.headers
    assert "Content-Encoding" not in seen.headers
    assert seen.timeout == (5.0, 30.0)
    assert seen.verify not in (False, None, "")


def test_207_statuscode_shape_without_xaction_id_is_matched_by_position() -> None:
    """The documented failure shape ({statusCode, message}, no xactionId) rejects exactly those positions."""
    h = Harness()
    h.adapter.queue(
        BATCH,
        Reply(
            207,
            {
                "responses": [
                    {"xactionId": "1:2:3:0"},
                    {"statusCode": 400, "message": "Message has unknown xdm format"},
                    {"xactionId": "1:2:3:2"},
                    {"statusCode": 400, "message": "Message has an absent or wrong ims org in the header"},
                ]
            },
        ),
    )
    out = h.deliver(messages(4))
    assert out[0] == Accepted("1:2:3:0") and out[2] == Accepted("1:2:3:2")
    assert isinstance(out[1], RejectedError) and isinstance(out[3], RejectedError)
    assert out[1].reason == "aep-rejected" and out[1].http_status == 400
    assert out[1].message == "Message has unknown xdm format"
    assert "wrong ims org" in out[3].message
    assert len(h.adapter.seen) == 1


def test_207_status_shape_with_uuid_xaction_id_is_matched_by_position() -> None:
    """Adobe's connector fixture shape ({xactionId: uuid-n, status, message}) works; the id is never parsed."""
    h = Harness()
    h.adapter.queue(
        BATCH,
        Reply(
            207,
            {
                "responses": [
                    {"xactionId": "9341f8eb-494a-4c89-9879-4d06a58d2dc7-0", "status": 400, "message": "header missing"},
                    {"xactionId": "9341f8eb-494a-4c89-9879-4d06a58d2dc7-1"},
                    {"xactionId": "9341f8eb-494a-4c89-9879-4d06a58d2dc7-7", "status": "422", "message": "bad"},
                ]
            },
        ),
    )
    out = h.deliver(messages(3))
    assert isinstance(out[0], RejectedError) and out[0].message == "header missing"
    assert out[1] == Accepted("9341f8eb-494a-4c89-9879-4d06a58d2dc7-1")
    assert isinstance(out[2], RejectedError) and out[2].http_status == 422


def test_entry_5xx_is_sent_again_with_every_later_message_to_keep_order() -> None:
    """Defect 7: a 5xx entry is resent after a backoff with every later message (accepted ones too), in order.

    Sending only the failed entry again let an older update of a partition land after a newer one.
    """
    h = Harness()
    msgs = messages(5)
    h.adapter.queue(
        BATCH,
        Reply(
            207,
            {
                "responses": [
                    {"xactionId": "a"},
                    {"statusCode": 503, "message": "try later"},
                    {"xactionId": "c"},
                    {"statusCode": 400, "message": "bad"},
                    {"xactionId": "e"},
                ]
            },
        ),
        Reply(207, {"responses": [{"xactionId": "b2"}, {"xactionId": "c2"}, {"xactionId": "e2"}]}),
    )
    out = h.deliver(msgs)
    assert out[:3] == [Accepted("a"), Accepted("b2"), Accepted("c2")] and out[4] == Accepted("e2")
    assert isinstance(out[3], RejectedError) and out[3].reason == "aep-rejected"
    second = h.adapter.seen[1]
    assert second.body == batch_body([msgs[1], msgs[2], msgs[4]]), "the failed entry and every later one not rejected"
    assert len(h.clock.sleeps) == 1 and 0 <= h.clock.sleeps[0] <= 0.1


def test_a_message_accepted_once_stays_accepted_when_its_order_copy_fails() -> None:
    """A later sibling resent only for order keeps its first acceptance, even if its copy is exhausted."""
    h = Harness(delivery={"attempts_before_exhausted": 2, "on_retries_exhausted": "dead_letter"})
    h.adapter.queue(
        BATCH,
        Reply(207, {"responses": [{"statusCode": 500}, {"xactionId": "b"}]}),
        Reply(207, {"responses": [{"xactionId": "a2"}, {"statusCode": 500}]}),
        Reply(503),
    )
    out = h.deliver(messages(2))
    assert out == [Accepted("a2"), Accepted("b")]


def test_207_with_wrong_number_of_responses_is_retried_whole() -> None:
    """A responses[] that does not match the messages is never guessed at: the whole batch is resent."""
    h = Harness()
    h.adapter.queue(BATCH, Reply(207, {"responses": [{"xactionId": "a"}]}), ok_207(3))
    out = h.deliver(messages(3))
    assert all_accepted(out)
    assert [len(b) for b in h.batches()] == [3, 3]


@pytest.mark.parametrize("body", [b"", b"<html>oops</html>", b'{"inletId":"x"}', b'{"responses":[{"status":"x"}]}'])
def test_2xx_without_a_readable_body_is_retried(body: bytes) -> None:
    """A 2xx whose body cannot be read is retried, not taken as success."""
    h = Harness()
    h.adapter.queue(BATCH, Reply(200, body), ok_207(2))
    assert all_accepted(h.deliver(messages(2)))
    assert len(h.adapter.seen) == 2


def test_400_bisect_isolates_the_one_bad_message_among_8() -> None:
    """A whole-request 400 is halved until the single bad message is rejected; the 7 others are accepted."""
    h = Harness()
    msgs = messages(8)
    bad = msgs[5]

    def dcs(request: PreparedRequest) -> Reply:
        sent = orjson.loads(request.body or b"")["messages"]
        if orjson.loads(bad) in sent:
            return Reply(400, {"status": 400, "title": "Invalid XDM Message Format", "report": {"message": "bad #5"}})
        return ok_207(len(sent))

    h.adapter.route(BATCH, dcs)
    out = h.deliver(msgs)
    rejected = [i for i, o in enumerate(out) if isinstance(o, RejectedError)]
    assert rejected == [5]
    err = out[5]
    assert isinstance(err, RejectedError)
    assert err.reason == "aep-rejected-400" and err.message == "bad #5" and err.http_status == 400
    assert [len(b) for b in h.batches()] == [8, 4, 4, 2, 1, 1, 2]  # depth first, in order
    assert h.clock.sleeps == []


def test_400_for_every_message_alone_is_fatal_not_dead_lettered() -> None:
    """If bisecting ends with every message rejected by a whole-request 400, the request is wrong: FatalError."""
    h = Harness()
    h.adapter.route(BATCH, lambda _: Reply(400, {"title": "Bad Request", "report": {"message": "Invalid JSON"}}))
    with pytest.raises(FatalError, match="request problem"):
        h.deliver(messages(4))
    assert len(h.adapter.seen) == 7


REQUEST_400 = Reply(400, {"type": "/placeholder/type/uri", "status": 400, "title": "BadRequestError",
                          "detail": "A valid content-type must be specified"})


def test_request_level_400_for_a_batch_of_one_stops_and_dead_letters_nothing() -> None:
    """Defect 5: a whole-request 400 for a lone message is a configuration problem, as for a batch of N."""
    h = Harness()
    h.adapter.route(BATCH, lambda _: REQUEST_400)
    with pytest.raises(FatalError, match="request problem"):
        h.deliver(messages(1))


def test_request_level_400_in_single_mode_stops_and_dead_letters_nothing() -> None:
    """Defect 5: mode single, every message answered 400 without a validation report: stop, never drain."""
    h = Harness(mode="single")
    h.adapter.route(SINGLE, lambda _: REQUEST_400)
    with pytest.raises(FatalError, match="request problem"):
        h.deliver(messages(3))
    assert len(h.adapter.seen) == 3


def test_sync_validation_400_about_the_message_is_dead_lettered_even_alone() -> None:
    """A 400 carrying DCS's validation report on the message (report.cause) is the record's fault."""
    h = Harness(mode="single", sync_validation=True)
    h.adapter.queue(SINGLE, Reply(400, {"status": 400, "title": "Invalid XDM Message Format", "report": {
        "message": "Message is invalid",
        "cause": {"_streamingValidation": [{"message": "expected type: String, found: Long"}]}}}))
    (out,) = h.deliver(messages(1))
    assert isinstance(out, RejectedError) and out.reason == "aep-rejected-400" and out.message == "Message is invalid"


def test_400_alone_is_the_records_fault_once_a_sibling_request_succeeded() -> None:
    """Evidence the request is fine (a 2xx in the same delivery) makes an isolated 400 a record problem."""
    h = Harness()
    h.adapter.queue(BATCH, REQUEST_400, REQUEST_400, ok_207(1))
    out = h.deliver(messages(2))
    assert isinstance(out[0], RejectedError) and out[0].reason == "aep-rejected-400"
    assert out[1] == Accepted("b:1:0")


def test_413_splits_in_halves_and_a_single_too_large_message_is_rejected() -> None:
    """413 halves the batch until each part fits; one message that alone is too large becomes too-large."""
    h = Harness()
    msgs = [*messages(6), b'{"big":"' + b"x" * 2000 + b'"}']

    def dcs(request: PreparedRequest) -> Reply:
        body = request.body or b""
        if len(body) > 1000:
            return Reply(413, {"title": "Payload Too Large"})
        return ok_207(len(orjson.loads(body)["messages"]))

    h.adapter.route(BATCH, dcs)
    out = h.deliver(msgs)
    assert all(isinstance(o, Accepted) for o in out[:6])
    assert isinstance(out[6], RejectedError) and out[6].reason == "too-large" and out[6].http_status == 413


def test_429_retry_after_seconds_is_a_floor() -> None:
    """After a 429 with Retry-After: 2 the next attempt is not earlier than 2 s later."""
    h = Harness()
    h.adapter.queue(BATCH, Reply(429, {"title": "Too Many Requests"}, {"Retry-After": "2"}), ok_207(2))
    assert all_accepted(h.deliver(messages(2)))
    first, second = h.adapter.seen
    assert second.at - first.at >= 2.0


def test_503_retry_after_http_date_is_a_floor() -> None:
    """Retry-After given as an HTTP date is honoured against the wall clock."""
    h = Harness()
    when = formatdate(WALL_START + 7, usegmt=True)
    h.adapter.queue(BATCH, Reply(503, None, {"Retry-After": when}), ok_207(1))
    assert all_accepted(h.deliver(messages(1)))
    first, second = h.adapter.seen
    assert second.at - first.at >= 7.0


@pytest.mark.parametrize(
    ("header", "floor"), [("inf", 0.0), ("nan", 0.0), ("-5", 0.0), ("1e12", 300.0), ("99999999999999999999", 300.0)]
)
def test_hostile_retry_after_is_validated_and_capped(header: str, floor: float) -> None:
    """Defect 6 (DCS side): a Retry-After that is not finite is ignored; a huge one waits at most 300 s."""
    h = Harness(delivery={"max_backoff_ms": 1_000})
    h.adapter.queue(BATCH, Reply(429, {"title": "Too Many Requests"}, {"Retry-After": header}), ok_207(1))
    assert all_accepted(h.deliver(messages(1)))
    (slept,) = h.clock.sleeps
    assert floor <= slept <= max(floor, 1.0)


def test_503_storm_then_success_backs_off_exponentially() -> None:
    """Five 503s are retried with full-jitter delays bounded by the doubling ceiling, then delivered."""
    h = Harness(delivery={"attempts_before_exhausted": 10})
    h.adapter.queue(BATCH, *[Reply(503) for _ in range(5)], ok_207(3))
    assert all_accepted(h.deliver(messages(3)))
    assert len(h.clock.sleeps) == 5
    for n, slept in enumerate(h.clock.sleeps, start=1):
        assert 0 <= slept <= 0.1 * 2 ** (n - 1)


def test_timeouts_and_connection_resets_then_success() -> None:
    """Read/connect timeouts and connection resets are retried like 5xx."""
    h = Harness()
    h.adapter.queue(
        BATCH,
        requests.ReadTimeout("read timed out"),
        requests.ConnectTimeout("connect timed out"),
        requests.ConnectionError(ConnectionResetError(104, "Connection reset by peer")),
        requests.exceptions.ChunkedEncodingError("incomplete read"),
        ok_207(2),
    )
    assert all_accepted(h.deliver(messages(2)))
    assert len(h.adapter.seen) == 5


def test_retries_exhausted_dead_letter_rejects_the_undelivered() -> None:
    """on_retries_exhausted=dead_letter: after N failed attempts the messages come back as retries-exhausted."""
    h = Harness(delivery={"attempts_before_exhausted": 3, "on_retries_exhausted": "dead_letter"})
    h.adapter.route(BATCH, lambda _: Reply(503, {"title": "Service Unavailable"}))
    out = h.deliver(messages(2))
    assert len(h.adapter.seen) == 3
    for o in out:
        assert isinstance(o, RejectedError) and o.reason == "retries-exhausted" and o.http_status == 503


def test_retries_exhausted_dead_letter_keeps_entries_already_accepted() -> None:
    """Dead-lettering after exhaustion touches only the still-undelivered entries."""
    h = Harness(delivery={"attempts_before_exhausted": 2, "on_retries_exhausted": "dead_letter"})
    h.adapter.queue(BATCH, Reply(207, {"responses": [{"xactionId": "a"}, {"statusCode": 500}]}), Reply(502))
    out = h.deliver(messages(2))
    assert out[0] == Accepted("a")
    assert isinstance(out[1], RejectedError) and out[1].reason == "retries-exhausted"


def test_retries_exhausted_pause_keeps_retrying_near_max_backoff(log_output: Any) -> None:
    """Default pause mode: logs retries_exhausted once and keeps retrying at max backoff until delivered."""
    h = Harness(delivery={"attempts_before_exhausted": 2, "max_backoff_ms": 4_000})
    h.adapter.queue(BATCH, *[Reply(503) for _ in range(6)], ok_207(1))
    assert all_accepted(h.deliver(messages(1)))
    assert len(h.adapter.seen) == 7
    assert all(2.0 <= s <= 4.0 for s in h.clock.sleeps[1:])
    assert log_output().count('"retries_exhausted"') == 1


def test_cancel_before_sending_raises_delivery_abandoned() -> None:
    """A set cancel event abandons the batch without sending anything."""
    h = Harness()
    h.cancel.set()
    with pytest.raises(DeliveryAbandoned):
        h.deliver(messages(2))
    assert h.adapter.seen == []


def test_cancel_during_backoff_raises_delivery_abandoned() -> None:
    """Cancellation while waiting to retry abandons the batch: no further attempt."""
    h = Harness()
    h.adapter.route(BATCH, lambda _: Reply(503))
    h.clock.on_sleep = lambda _: h.cancel.set()
    with pytest.raises(DeliveryAbandoned):
        h.deliver(messages(2))
    assert len(h.adapter.seen) == 1


def test_real_clock_backoff_wakes_up_on_cancel() -> None:
    """With the system clock a long backoff is cut short by the cancel event."""
    adapter = FakeAdapter()
    adapter.route(BATCH, lambda _: Reply(503, None, {"Retry-After": "60"}))
    sink = DcsSink(aep_settings(), delivery_settings(), session=session_with(adapter))
    cancel = threading.Event()
    threading.Timer(0.2, cancel.set).start()
    with pytest.raises(DeliveryAbandoned):
        sink.deliver(route(), messages(1), cancel)


def test_401_invalidates_the_token_and_retries_once_immediately() -> None:
    """A 401 fetches a fresh token and retries at once, without backoff."""
    h = Harness(auth=True)
    h.adapter.queue(IMS, token_reply("tok-1"), token_reply("tok-2"))
    h.adapter.queue(BATCH, Reply(401, {"status": "401", "title": "Authorization"}), ok_207(2))
    assert all_accepted(h.deliver(messages(2), authenticated=True))
    first, second = h.adapter.requests_to(BATCH)
    assert first.headers["Authorization"] == "Bearer tok-1"
    assert second.headers["Authorization"] == "Bearer tok-2"
    assert h.clock.sleeps == []


def test_persistent_401_backs_off_and_is_never_dead_lettered(log_output: Any) -> None:
    """A 401 that survives a fresh token logs auth_failed and keeps retrying, even in dead_letter mode."""
    h = Harness(auth=True, delivery={"attempts_before_exhausted": 2, "on_retries_exhausted": "dead_letter"})
    h.adapter.route(IMS, lambda _: token_reply("tok"))
    h.adapter.queue(BATCH, *[Reply(401) for _ in range(5)], ok_207(1))
    assert all_accepted(h.deliver(messages(1), authenticated=True))
    assert len(h.adapter.requests_to(BATCH)) == 6
    assert len(h.clock.sleeps) == 4
    assert log_output().count('"auth_failed"') == 1


def test_403_is_fatal_and_names_no_secret() -> None:
    """403 stops the worker with a clear message that contains neither token nor secret."""
    h = Harness(auth=True)
    h.adapter.queue(IMS, token_reply("tok-403"))
    h.adapter.queue(BATCH, Reply(403, {"title": "Forbidden"}))
    with pytest.raises(FatalError, match="403 Forbidden for inlet") as info:
        h.deliver(messages(1), authenticated=True)
    assert "tok-403" not in str(info.value) and "s3cr3t" not in str(info.value)


def test_401_on_an_unauthenticated_route_is_fatal() -> None:
    """An inlet that wants a token while auth is off cannot be fixed by retrying."""
    h = Harness()
    h.adapter.queue(BATCH, Reply(401))
    with pytest.raises(FatalError, match="requires authentication"):
        h.deliver(messages(1))


def test_404_inlet_is_fatal() -> None:
    """A wrong inlet URL stops the worker instead of retrying forever."""
    h = Harness()
    h.adapter.queue(BATCH, Reply(404))
    with pytest.raises(FatalError, match=r"aep\.inlet_url"):
        h.deliver(messages(1))


def test_ims_outage_while_fetching_a_token_is_retried() -> None:
    """IMS 503 / unreachable while getting a token backs off and retries, then delivers."""
    h = Harness(auth=True, delivery={"attempts_before_exhausted": 1, "on_retries_exhausted": "dead_letter"})
    h.adapter.queue(IMS, Reply(503), requests.ConnectionError("refused"), token_reply("tok"))
    h.adapter.queue(BATCH, ok_207(1))
    assert all_accepted(h.deliver(messages(1), authenticated=True))
    assert len(h.clock.sleeps) == 2


def test_gzip_only_when_enabled() -> None:
    """transport.gzip compresses the body and says so in Content-Encoding."""
    h = Harness(transport=TransportSettings(gzip=True))
    msgs = messages(2)
    h.adapter.queue(BATCH, ok_207(2))
    h.deliver(msgs)
    (seen,) = h.adapter.seen
    assert seen.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(seen.body) == batch_body(msgs)


def test_single_mode_with_sync_validation_posts_each_message_at_60_per_minute() -> None:
    """mode single: one request per message to the single URL with syncValidation, one per second per inlet."""
    h = Harness(mode="single", sync_validation=True)
    msgs = messages(3)
    h.adapter.queue(
        SINGLE,
        Reply(200, {"xactionId": "x0", "syncValidation": {"status": "pass"}}),
        Reply(400, {"status": 400, "title": "Invalid XDM Message Format", "report": {"message": "bad type"}}),
        Reply(200, {"xactionId": "x2"}),
    )
    out = h.deliver(msgs)
    assert out[0] == Accepted("x0") and out[2] == Accepted("x2")
    assert isinstance(out[1], RejectedError) and out[1].reason == "aep-rejected-400" and out[1].message == "bad type"
    seen = h.adapter.seen
    assert [s.body for s in seen] == msgs
    assert all(s.url.endswith("/collection/0123abcd?syncValidation=true") for s in seen)
    assert [s.at for s in seen] == [0.0, 1.0, 2.0]


def test_rate_limits_are_shared_and_applied_per_request() -> None:
    """requests_per_s spaces requests across deliver calls of the same sink."""
    h = Harness(delivery={"requests_per_s": 2.0})
    h.adapter.route(BATCH, lambda r: ok_207(len(orjson.loads(r.body or b"")["messages"])))
    for _ in range(4):
        h.deliver(messages(1))
    assert [s.at for s in h.adapter.seen] == [0.0, 0.0, 0.5, 1.0]


def test_concurrent_deliveries_share_the_sink() -> None:
    """Several worker threads deliver their own batches through one sink."""
    h = Harness()
    h.adapter.route(BATCH, lambda r: ok_207(len(orjson.loads(r.body or b"")["messages"])))
    results: list[list[Outcome]] = []
    lock = threading.Lock()

    def work() -> None:
        out = h.deliver(messages(10))
        with lock:
            results.append(out)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 and all(all_accepted(r) for r in results)


def test_authenticated_route_without_auth_settings_is_fatal() -> None:
    """A route that needs a token while no token provider exists fails fast."""
    h = Harness()
    with pytest.raises(FatalError, match=r"aep\.auth"):
        h.deliver(messages(1), authenticated=True)


def test_backoff_is_injectable_for_deterministic_delays() -> None:
    """The backoff policy can be injected (e.g. seeded) without touching the sink."""
    clock = FakeClock()
    adapter = FakeAdapter(clock)
    adapter.queue(BATCH, Reply(500), ok_207(1))
    sink = DcsSink(
        aep_settings(),
        delivery_settings(),
        session=session_with(adapter),
        clock=clock,
        backoff=Backoff(1.0, 1.0),
    )
    sink.deliver(route(), messages(1), threading.Event())
    assert 0 <= clock.sleeps[0] <= 1.0


def test_a_header_requests_refuses_stops_the_worker_and_is_never_retried() -> None:
    """A header value requests cannot send (a newline that slipped past config checks) is a config problem.

    It used to count as a connection error: retried for ever, or every record dead-lettered with
    on_retries_exhausted: dead_letter. Nothing is dead-lettered and nothing reaches the wire.
    """
    h = Harness(delivery={"on_retries_exhausted": "dead_letter", "attempts_before_exhausted": 2})
    with pytest.raises(FatalError, match="InvalidHeader"):
        h.deliver(messages(2), flow_id="flow-1\n")
    assert h.adapter.seen == []
