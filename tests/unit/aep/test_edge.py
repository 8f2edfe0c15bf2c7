"""EdgeSink against a fake transport and a fake clock: nothing sleeps, nothing leaves the process."""

from __future__ import annotations

import threading
from email.utils import formatdate
from typing import Any

import orjson
import pytest
import requests
from requests.models import PreparedRequest

from connector import USER_AGENT
from connector.aep.edge import EdgeSink, body_size, plan_requests, request_body
from connector.aep.ims import TokenProvider
from connector.config import EdgeSettings
from connector.errors import DeliveryAbandoned, FatalError, RejectedError
from connector.records import Accepted, Outcome, Route

from .fakes import (
    WALL_START,
    FakeAdapter,
    FakeClock,
    Reply,
    aep_settings,
    auth_settings,
    delivery_settings,
    session_with,
    token_reply,
)

COLLECT = "ee/v2/collect"
URL = "http://edge.test/ee/v2/collect"
IMS = "ims/token/v3"
ORG = "ORG@AdobeOrg"


def exeg(code: str, title: str = "problem", **extra: Any) -> dict[str, Any]:
    status = int(code.rsplit("-", 1)[1])
    return {"type": f"https://ns.adobe.com/aep/errors/EXEG-{code}", "status": status, "title": title, **extra}


def ok(request_id: str = "req-1") -> Reply:
    return Reply(202, {"requestId": request_id})


class Harness:
    def __init__(self, *, auth: bool = False, delivery: dict[str, Any] | None = None, **edge: Any) -> None:
        self.clock = FakeClock()
        self.adapter = FakeAdapter(self.clock)
        self.session = session_with(self.adapter)
        settings = aep_settings(auth=auth_settings() if auth else None, ims_org=ORG, edge=EdgeSettings(**edge))
        self.tokens = TokenProvider(settings.auth, self.session, clock=self.clock) if auth else None
        self.sink = EdgeSink(
            settings, delivery_settings(**(delivery or {})), session=self.session, tokens=self.tokens, clock=self.clock
        )
        self.cancel = threading.Event()

    def deliver(self, msgs: list[bytes], **route_fields: Any) -> list[Outcome]:
        fields = {"inlet_url": URL, "destination": "edge", "datastream_id": "ds-1", "ims_org": ORG, **route_fields}
        return self.sink.deliver(Route(**fields), msgs, self.cancel)

    def bodies(self) -> list[list[Any]]:
        return [s.json()["events"] for s in self.adapter.requests_to(COLLECT)]


def events(n: int, pad: int = 0) -> list[bytes]:
    return [orjson.dumps({"xdm": {"_id": f"id-{i}", "pad": "x" * pad}}) for i in range(n)]


def ids(batch: list[Any]) -> list[str]:
    return [e["xdm"]["_id"] for e in batch]


def test_collect_gets_the_events_byte_for_byte_with_the_datastream_in_the_query() -> None:
    """An unauthenticated route posts {"events":[...]} to /ee/v2/collect?datastreamId=..., no credentials."""
    h = Harness()
    msgs = events(3)
    h.adapter.queue(COLLECT, ok("r-7"))
    assert h.deliver(msgs) == [Accepted("r-7")] * 3
    (seen,) = h.adapter.seen
    assert seen.url == f"{URL}?datastreamId=ds-1"
    assert seen.body == request_body(msgs)
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.headers["User-Agent"] == USER_AGENT
    assert "Authorization" not in seen.headers and "x-api-key" not in seen.headers


def test_authenticated_route_sends_token_api_key_and_org() -> None:
    """The authenticated host gets Authorization: Bearer, x-api-key (the client id) and x-gw-ims-org-id."""
    h = Harness(auth=True)
    h.adapter.queue(IMS, token_reply("tok-1"))
    h.adapter.queue(COLLECT, ok())
    assert all(isinstance(o, Accepted) for o in h.deliver(events(2), authenticated=True))
    seen = h.adapter.requests_to(COLLECT)[0]
    assert seen.headers["Authorization"] == "Bearer tok-1"
    assert seen.headers["x-api-key"] == "client-1"
    assert seen.headers["x-gw-ims-org-id"] == ORG


def test_datastream_overrides_travel_as_meta() -> None:
    """The route's meta (configOverrides) is the request's `meta` object."""
    h = Harness()
    meta = '{"configOverrides":{"com_adobe_analytics":{"reportSuites":["rs1"]}}}'
    h.adapter.queue(COLLECT, ok())
    h.deliver(events(2), edge_meta=meta)
    body = h.adapter.seen[0].json()
    assert body["meta"] == orjson.loads(meta)
    assert len(h.adapter.seen[0].body) == body_size(sum(len(e) for e in events(2)), 2, len(meta))


@pytest.mark.parametrize("reply", [Reply(200, {"requestId": "r"}), Reply(204), Reply(202, b"not json")])
def test_every_documented_success_status_accepts(reply: Reply) -> None:
    """202 with a requestId, 204 (silent) and a 200 all accept every event; an odd body does not matter."""
    h = Harness()
    h.adapter.queue(COLLECT, reply)
    assert all(isinstance(o, Accepted) for o in h.deliver(events(2)))


def test_batch_is_cut_under_the_request_size_limit_in_order() -> None:
    """A worker batch larger than 64 KB goes as several requests, each under the limit, events in order."""
    h = Harness()
    msgs = events(40, pad=4000)
    h.adapter.route(COLLECT, lambda _: ok())
    assert all(isinstance(o, Accepted) for o in h.deliver(msgs))
    sent = h.adapter.requests_to(COLLECT)
    assert len(sent) > 1
    assert all(len(s.body) <= 64_000 for s in sent)
    assert [i for b in h.bodies() for i in ids(b)] == [f"id-{i}" for i in range(40)]


def test_max_events_caps_the_events_per_request() -> None:
    h = Harness(max_events=3)
    h.adapter.route(COLLECT, lambda _: ok())
    h.deliver(events(7))
    assert [len(b) for b in h.bodies()] == [3, 3, 1]


def test_plan_puts_an_oversized_event_aside() -> None:
    """An event that cannot fit a request alone is not planned into any request."""
    sizes = [10, 100_000, 10]
    chunks, too_large = plan_requests(sizes, 64_000, None)
    assert chunks == [[0, 2]] and too_large == [1]


def test_an_event_too_large_alone_is_dead_lettered_without_a_request() -> None:
    h = Harness(max_request_bytes=2_000)
    msgs = [*events(1), orjson.dumps({"xdm": {"_id": "big", "pad": "x" * 5_000}}), *events(1)]
    h.adapter.queue(COLLECT, ok())
    out = h.deliver(msgs)
    assert isinstance(out[1], RejectedError) and out[1].reason == "too-large"
    assert isinstance(out[0], Accepted) and isinstance(out[2], Accepted)
    assert len(h.adapter.seen) == 1


def _reject_poisoned(code: str, index: str = "right") -> Any:
    """400 while the request holds the poisoned event, naming its index (right, 1-based, or always 0)."""

    def handler(request: PreparedRequest) -> Reply:
        body = orjson.loads(request.body or b"{}")
        at = [i for i, e in enumerate(body["events"]) if e["xdm"]["_id"] == "poison"]
        if not at:
            return ok()
        named = {"right": at[0], "one-based": at[0] + 1, "zero": 0}[index]
        detail = f"There was no primary identity provided for event #{named}."
        return Reply(int(code[-3:]), exeg(code, "Event is missing primary identity", detail=detail))

    return handler


def _poisoned(n: int, at: int) -> list[bytes]:
    msgs = events(n)
    msgs[at] = orjson.dumps({"xdm": {"_id": "poison"}})
    return msgs


def test_event_named_by_the_refusal_is_sent_alone_at_once() -> None:
    """EXEG-0306-400 names event #5: it is sent alone (and dead-lettered), its neighbours around it."""
    h = Harness()
    h.adapter.route(COLLECT, _reject_poisoned("0306-400"))
    out = h.deliver(_poisoned(8, 5))
    assert [i for i, o in enumerate(out) if isinstance(o, RejectedError)] == [5]
    err = out[5]
    assert isinstance(err, RejectedError) and err.reason == "edge-rejected" and err.http_status == 400
    assert "EXEG-0306-400" in err.message and "primary identity" in err.message
    assert [len(b) for b in h.bodies()] == [8, 5, 1, 2]


@pytest.mark.parametrize("index", ["one-based", "zero"])
def test_a_misleading_event_index_still_finds_the_bad_event(index: str) -> None:
    """Should the index mean something else, the named event is accepted and halving takes over."""
    h = Harness()
    h.adapter.route(COLLECT, _reject_poisoned("0306-400", index))
    out = h.deliver(_poisoned(64, 37))
    assert [i for i, o in enumerate(out) if isinstance(o, RejectedError)] == [37]
    assert len(h.adapter.seen) <= 4 + 2 * 6  # one wrong guess, then bisection


def test_event_level_422_without_an_index_bisects_to_the_one_bad_event_among_8() -> None:
    """A refusal that names no event: halves until the poisoned event is alone."""
    h = Harness()

    def handler(request: PreparedRequest) -> Reply:
        body = request.body if isinstance(request.body, bytes) else b""
        return Reply(422, exeg("0104-422", "Unprocessable entity")) if b"poison" in body else ok()

    h.adapter.route(COLLECT, handler)
    out = h.deliver(_poisoned(8, 5))
    assert [i for i, o in enumerate(out) if isinstance(o, RejectedError)] == [5]
    assert len(h.adapter.seen) == 1 + 2 + 2 + 2  # whole, two halves, two quarters, two eighths


@pytest.mark.parametrize("code", ["0104-422", "0102-400", "0100-500"])
def test_other_input_errors_are_dead_lettered_alone(code: str) -> None:
    """422 validation, 400 invalid field and the 500 'JSON processing error' all name the input."""
    h = Harness()
    msgs = [*events(1), orjson.dumps({"xdm": {"_id": "poison"}})]
    h.adapter.route(COLLECT, _reject_poisoned(code))
    out = h.deliver(msgs)
    assert isinstance(out[0], Accepted)
    assert isinstance(out[1], RejectedError) and f"EXEG-{code}" in out[1].message


def test_unrecognised_400_for_every_event_alone_is_fatal_not_dead_lettered() -> None:
    """A 400 naming no known input error for each event alone is a request problem: stop, dead-letter nothing."""
    h = Harness()
    h.adapter.route(COLLECT, lambda _: Reply(400, {"title": "Bad Request"}))
    with pytest.raises(FatalError, match="request problem"):
        h.deliver(events(4))


def test_a_single_unrecognised_400_is_dead_lettered() -> None:
    h = Harness()
    h.adapter.queue(COLLECT, Reply(400, {"title": "Bad Request"}))
    (out,) = h.deliver(events(1))
    assert isinstance(out, RejectedError) and out.reason == "edge-rejected"


def test_413_splits_and_an_event_still_too_large_alone_is_rejected() -> None:
    """EXEG-0112-413 halves the request; the one event refused alone is dead-lettered as too-large."""
    h = Harness()

    def handler(request: PreparedRequest) -> Reply:
        body = orjson.loads(request.body or b"{}")
        big = any(e["xdm"]["_id"] == "id-2" for e in body["events"])
        if len(body["events"]) > 2 or big:
            return Reply(413, exeg("0112-413", "Invalid request"))
        return ok()

    h.adapter.route(COLLECT, handler)
    out = h.deliver(events(6))
    assert [type(o).__name__ for o in out] == [
        "Accepted",
        "Accepted",
        "RejectedError",
        "Accepted",
        "Accepted",
        "Accepted",
    ]
    assert isinstance(out[2], RejectedError) and out[2].reason == "too-large"


def test_429_retry_after_seconds_is_a_floor() -> None:
    h = Harness()
    h.adapter.queue(COLLECT, Reply(429, {"title": "Too Many Requests"}, {"Retry-After": "7"}), ok())
    assert all(isinstance(o, Accepted) for o in h.deliver(events(2)))
    assert h.clock.sleeps and h.clock.sleeps[0] >= 7


def test_503_retry_after_http_date_is_a_floor() -> None:
    h = Harness()
    when = formatdate(WALL_START + 12, usegmt=True)
    h.adapter.queue(COLLECT, Reply(503, exeg("0000-503", "Service unavailable"), {"Retry-After": when}), ok())
    h.deliver(events(1))
    assert h.clock.sleeps[0] >= 11


def test_a_hostile_retry_after_is_capped() -> None:
    """Retry-After: one day waits at most the cap (300 s), so a worker is never parked for hours."""
    h = Harness()
    h.adapter.queue(COLLECT, Reply(503, {}, {"Retry-After": "86400"}), ok())
    h.deliver(events(1))
    assert h.clock.sleeps == [300.0]


@pytest.mark.parametrize("code", ["0001-500", "0201-503", "0200-504", "0203-502"])
def test_transient_codes_are_retried(code: str) -> None:
    h = Harness()
    h.adapter.queue(COLLECT, Reply(int(code[-3:]), exeg(code)), ok())
    assert all(isinstance(o, Accepted) for o in h.deliver(events(2)))
    assert len(h.adapter.seen) == 2


def test_timeouts_and_resets_are_retried() -> None:
    h = Harness()
    h.adapter.queue(COLLECT, requests.ReadTimeout("slow"), requests.ConnectionError("reset"), ok())
    assert all(isinstance(o, Accepted) for o in h.deliver(events(2)))
    assert len(h.clock.sleeps) == 2


UPSTREAM_207 = Reply(
    207,
    {
        "requestId": "r",
        "handle": [],
        "errors": [exeg("0201-503", "The 'com.adobe.experience.platform.ode' service is temporarily unavailable")],
    },
)


def test_207_upstream_error_is_retried_by_default() -> None:
    """A failed upstream (here Platform) may not have the events: send the request again."""
    h = Harness()
    h.adapter.queue(COLLECT, UPSTREAM_207, ok())
    assert all(isinstance(o, Accepted) for o in h.deliver(events(3)))
    assert len(h.adapter.seen) == 2


def test_207_upstream_error_is_accepted_when_configured(log_output: Any) -> None:
    h = Harness(on_upstream_error="accept")
    h.adapter.queue(COLLECT, UPSTREAM_207)
    assert all(isinstance(o, Accepted) for o in h.deliver(events(3)))
    assert len(h.adapter.seen) == 1
    assert "EXEG-0201-503" in log_output()


def test_200_with_warnings_accepts_and_logs_the_codes_once(log_output: Any) -> None:
    """EXEG-0301-200 (no consent) is Adobe's decision about an accepted request: accepted, warned."""
    h = Harness()
    h.adapter.queue(COLLECT, Reply(200, {"requestId": "r", "warnings": [exeg("0301-200", "User consent missing")]}))
    assert all(isinstance(o, Accepted) for o in h.deliver(events(2)))
    assert log_output().count("edge_warnings") == 1 and "EXEG-0301-200" in log_output()


def test_expired_token_is_refreshed_and_retried_at_once() -> None:
    """EXEG-0503-401: the token is invalidated, a new one fetched, the request resent without a backoff."""
    h = Harness(auth=True)
    h.adapter.queue(IMS, token_reply("old"), token_reply("new"))
    h.adapter.queue(COLLECT, Reply(401, exeg("0503-401", "Authorization token expired")), ok())
    assert all(isinstance(o, Accepted) for o in h.deliver(events(2), authenticated=True))
    sent = h.adapter.requests_to(COLLECT)
    assert [s.headers["Authorization"] for s in sent] == ["Bearer old", "Bearer new"]
    assert h.clock.sleeps == []


def test_persistent_401_backs_off_and_is_never_dead_lettered() -> None:
    h = Harness(auth=True, delivery={"attempts_before_exhausted": 2, "on_retries_exhausted": "dead_letter"})
    h.adapter.route(IMS, lambda _: token_reply("t"))
    answers = [Reply(401, exeg("0502-401", "Invalid authorization token signature"))] * 5
    h.adapter.queue(COLLECT, *answers, ok())
    assert all(isinstance(o, Accepted) for o in h.deliver(events(1), authenticated=True))
    assert len(h.clock.sleeps) >= 3


@pytest.mark.parametrize(
    ("status", "code", "words"),
    [
        (401, "0506-401", "sandbox"),
        (401, "0505-401", "scope"),
        (400, "0003-400", "does not exist"),
        (422, "0004-422", "disabled"),
        (400, "0113-400", "datastream_overrides"),
        (403, "0400-403", "country"),
        (422, "0010-422", "Experience Platform configuration"),
    ],
)
def test_configuration_and_permission_problems_are_fatal(status: int, code: str, words: str) -> None:
    """A wrong datastream, overrides or permissions stop the worker with the reason, nothing dead-lettered."""
    h = Harness(auth=True)
    h.adapter.queue(IMS, token_reply("t"))
    h.adapter.queue(COLLECT, Reply(status, exeg(code)))
    with pytest.raises(FatalError, match=words) as info:
        h.deliver(events(3), authenticated=True)
    assert f"EXEG-{code}" in str(info.value) and "s3cr3t" not in str(info.value)


def test_401_on_an_unauthenticated_route_is_fatal_and_says_what_to_do() -> None:
    h = Harness()
    h.adapter.queue(COLLECT, Reply(401, exeg("0500-401", "Invalid authorization token")))
    with pytest.raises(FatalError, match=r"enable aep\.auth"):
        h.deliver(events(1))


def test_404_collect_url_is_fatal() -> None:
    h = Harness()
    h.adapter.queue(COLLECT, Reply(404, {"title": "Not Found"}))
    with pytest.raises(FatalError, match=r"aep\.edge\.url"):
        h.deliver(events(1))


def test_retries_exhausted_dead_letter_rejects_the_undelivered_only() -> None:
    """Opt-in dead-lettering after the retry budget keeps what earlier requests already delivered."""
    h = Harness(max_events=2, delivery={"attempts_before_exhausted": 2, "on_retries_exhausted": "dead_letter"})
    h.adapter.queue(COLLECT, ok(), *[Reply(503, exeg("0000-503"))] * 2)
    out = h.deliver(events(4))
    assert [type(o).__name__ for o in out[:2]] == ["Accepted", "Accepted"]
    assert all(isinstance(o, RejectedError) and o.reason == "retries-exhausted" for o in out[2:])


def test_a_retried_request_holds_back_the_requests_after_it() -> None:
    """Requests of one batch go in order: the second is sent only once the first was accepted."""
    h = Harness(max_events=2)
    h.adapter.queue(COLLECT, Reply(503, exeg("0000-503")), ok(), ok())
    h.deliver(events(4))
    assert [ids(b) for b in h.bodies()] == [["id-0", "id-1"], ["id-0", "id-1"], ["id-2", "id-3"]]


def test_cancel_during_backoff_raises_delivery_abandoned() -> None:
    h = Harness()
    h.adapter.queue(COLLECT, Reply(503, exeg("0000-503")))
    h.clock.on_sleep = lambda _: h.cancel.set()
    with pytest.raises(DeliveryAbandoned):
        h.deliver(events(1))


def test_ims_outage_while_fetching_a_token_is_retried() -> None:
    h = Harness(auth=True)
    h.adapter.queue(IMS, Reply(503, {"error": "unavailable"}), token_reply("t"))
    h.adapter.queue(COLLECT, ok())
    assert all(isinstance(o, Accepted) for o in h.deliver(events(1), authenticated=True))
    assert len(h.clock.sleeps) == 1


def test_request_units_budget_throttles_by_size_and_upstreams() -> None:
    """2 upstreams, 9 KB requests: 4 request units each. The budget saves up one largest request per
    upstream (16 RU), so at 4 RU/s four requests go at once and each further one waits 1 s."""
    h = Harness(request_units_per_s=4.0, upstreams=2, max_events=1)
    h.adapter.route(COLLECT, lambda _: ok())
    h.deliver(events(6, pad=9_000))
    assert h.clock.sleeps == pytest.approx([1.0, 1.0])


def test_authenticated_route_without_auth_settings_is_fatal() -> None:
    h = Harness()
    with pytest.raises(FatalError, match=r"aep\.auth"):
        h.deliver(events(1), authenticated=True)
