"""Status classification, 207 parsing by position, Retry-After parsing."""

from __future__ import annotations

from email.utils import formatdate

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.aep.responses import (
    Action,
    Entry,
    Verdict,
    classify,
    parse_batch,
    parse_single,
    plain_successes,
    problem_message,
    retry_after,
    retry_cause,
)


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (200, Action.ACCEPTED),
        (207, Action.ACCEPTED),
        (400, Action.BISECT),
        (413, Action.SPLIT),
        (401, Action.REAUTH),
        (403, Action.FORBIDDEN),
        (404, Action.MISCONFIGURED),
        (501, Action.MISCONFIGURED),
        (429, Action.RETRY),
        (500, Action.RETRY),
        (502, Action.RETRY),
        (503, Action.RETRY),
        (504, Action.RETRY),
        (408, Action.RETRY),
        (409, Action.RETRY),
        (302, Action.MISCONFIGURED),
    ],
)
def test_classify(status: int, action: Action) -> None:
    """Each whole-request status maps to one action; unknown ones are retried, never dropped."""
    assert classify(status) is action


def test_retry_causes() -> None:
    """Retry causes are the metric labels."""
    assert [retry_cause(s) for s in (429, 503, 408, 409)] == ["429", "5xx", "timeout", "other"]


def body(*entries: object) -> bytes:
    return orjson.dumps({"inletId": "i", "batchId": "b", "responses": list(entries)})


def test_parse_both_failure_shapes_by_position() -> None:
    """statusCode and status (int or string), with or without xactionId, all read by position."""
    parsed = parse_batch(
        body(
            {"xactionId": "b:0"},
            {"statusCode": 400, "message": "m1"},
            {"xactionId": "u-2", "status": 400, "message": "m2"},
            {"status": "401", "message": "m3"},
            {"statusCode": 503},
            {"status": 429},
        ),
        6,
    )
    assert parsed.entries is not None
    assert [e.verdict for e in parsed.entries] == [
        Verdict.ACCEPTED,
        Verdict.REJECTED,
        Verdict.REJECTED,
        Verdict.REJECTED,
        Verdict.RETRY,
        Verdict.RETRY,
    ]
    assert parsed.entries[2] == Entry(400, "u-2", "m2")


def test_entry_without_status_or_xaction_id_is_retried() -> None:
    """An empty entry is neither success nor failure: it is retried rather than guessed."""
    assert Entry(None, None, None).verdict is Verdict.RETRY
    assert Entry(200, None, None).verdict is Verdict.ACCEPTED


@pytest.mark.parametrize(
    ("raw", "count", "problem"),
    [
        (b"", 1, "not a JSON object"),
        (b"[]", 1, "not a JSON object"),
        (b'{"inletId":"x"}', 1, "no responses"),
        (body({"xactionId": "a"}), 2, "1 entries for 2"),
        (body("nope"), 1, "responses[0]"),
        (body({"status": "bad"}), 1, "responses[0]"),
        (body({"status": True}), 1, "responses[0]"),
    ],
)
def test_unreadable_batch_bodies_return_no_entries(raw: bytes, count: int, problem: str) -> None:
    """Anything doubtful yields no entries and says why."""
    parsed = parse_batch(raw, count)
    assert parsed.entries is None and parsed.problem is not None and problem in parsed.problem


def test_parse_single() -> None:
    """A single-message answer is read for its xactionId; a non-object is unreadable."""
    assert parse_single(b'{"xactionId":"x"}') == Entry(None, "x", None)
    assert parse_single(b'{"inletId":"i"}') == Entry(None, None, None)
    assert parse_single(b"ok") is None


def test_problem_message_prefers_report_message() -> None:
    """report.message, then title, detail, message, then the raw text."""
    assert problem_message(b'{"title":"T","report":{"message":"R"}}', 400) == "R"
    assert problem_message(b'{"title":"T"}', 400) == "T"
    assert problem_message(b'{"message":"M"}', 400) == "M"
    assert problem_message(b"plain text", 400) == "plain text"
    assert problem_message(b"", 413) == "DCS answered HTTP 413"


def test_retry_after_seconds_and_http_date() -> None:
    """Retry-After is delta-seconds or an HTTP date relative to now; junk and absence give None."""
    now = 1_700_000_000.0
    assert retry_after("2", now) == 2.0
    assert retry_after(" 1.5 ", now) == 1.5
    assert retry_after("-3", now) == 0.0
    assert retry_after(formatdate(now + 30, usegmt=True), now) == 30.0
    assert retry_after(formatdate(now - 30, usegmt=True), now) == 0.0
    assert retry_after("soon", now) is None
    assert retry_after("inf", now) is None
    assert retry_after(None, now) is None


_ENTRY_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-1, 600), st.sampled_from(["200", " 201 ", "abc", ""]), st.text(max_size=5),
)
_ENTRIES = st.one_of(
    st.fixed_dictionaries({"xactionId": st.text(max_size=8)}),  # the plain success, most of the time
    st.dictionaries(st.sampled_from(["xactionId", "status", "statusCode", "message"]), _ENTRY_VALUES, max_size=4),
    st.integers(-5, 5), st.none(), st.lists(st.integers(-5, 5), max_size=2),
)


@given(entries=st.lists(_ENTRIES, max_size=6), extra=st.integers(-1, 1), wrapped=st.booleans())
def test_plain_successes_agree_with_the_general_parse(entries: list[object], extra: int, wrapped: bool) -> None:
    """The fast path answers only when every entry is a success the general parse accepts, with the same ids."""
    body = orjson.dumps({"batchId": "b", "responses": entries} if wrapped else entries)
    count = max(0, len(entries) + extra)
    fast = plain_successes(body, count)
    general = parse_batch(body, count)
    if fast is None:
        return
    assert general.entries is not None
    assert all(e.verdict is Verdict.ACCEPTED for e in general.entries)
    assert fast == [e.xaction_id for e in general.entries]


def test_plain_successes_leave_every_other_answer_to_the_general_parse() -> None:
    ok = {"xactionId": "b:0"}
    assert plain_successes(orjson.dumps({"responses": [ok, {"xactionId": "b:1"}]}), 2) == ["b:0", "b:1"]
    for responses in (
        [ok, {"xactionId": "b:1", "status": 200}],  # a status key, even a 2xx: the general parse
        [ok, {"statusCode": 400, "message": "bad"}],
        [ok, {"xactionId": None}],
        [ok],  # wrong length
        [ok, "b:1"],
    ):
        assert plain_successes(orjson.dumps({"responses": responses}), 2) is None
    assert plain_successes(b"not json", 1) is None
    assert plain_successes(b"", 0) is None
