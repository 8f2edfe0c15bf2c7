"""EXEG problem bodies and the Edge action table."""

from __future__ import annotations

import orjson
import pytest

from connector.aep.exeg import (
    EVENT_CODES,
    FATAL_CODES,
    REAUTH_CODES,
    RETRY_CODES,
    SPLIT_CODES,
    EdgeAction,
    Problem,
    classify,
    code_of,
    parse_problem,
    parse_success,
)


def test_the_code_tables_do_not_overlap() -> None:
    """Every known code has exactly one treatment."""
    tables = [set(FATAL_CODES), set(REAUTH_CODES), set(SPLIT_CODES), set(EVENT_CODES), set(RETRY_CODES)]
    assert sum(len(t) for t in tables) == len(set().union(*tables))


def test_problem_body_is_read_with_its_report() -> None:
    body = orjson.dumps(
        {
            "type": "https://ns.adobe.com/aep/errors/EXEG-0104-422",
            "status": 422,
            "title": "Unprocessable entity",
            "detail": "Invalid request (report attached).",
            "report": {"errors": ["a at index 0", "b at index 1"], "requestId": "r"},
        }
    )
    p = parse_problem(body, 422)
    assert p.code == "EXEG-0104-422" and p.number == "0104" and p.status == 422
    assert (
        p.describe()
        == "EXEG-0104-422: Unprocessable entity: Invalid request (report attached). (a at index 0; b at index 1)"
    )


@pytest.mark.parametrize("body", [b"", b"<html>busy</html>", b"[1,2]", b'{"status": "x"}'])
def test_a_body_that_is_no_problem_detail_is_still_read(body: bytes) -> None:
    p = parse_problem(body, 502)
    assert p.code is None and p.status == 502


def test_success_body_lists_upstream_errors_and_warnings() -> None:
    body = orjson.dumps(
        {
            "requestId": "r-1",
            "handle": [],
            "errors": [{"type": "https://ns.adobe.com/aep/errors/EXEG-0201-503", "status": 503, "title": "down"}],
            "warnings": [{"type": "https://ns.adobe.com/aep/errors/EXEG-0204-200", "status": 200, "title": "w"}],
        }
    )
    answer = parse_success(body)
    assert answer.request_id == "r-1"
    assert [e.code for e in answer.errors] == ["EXEG-0201-503"]
    assert [w.code for w in answer.warnings] == ["EXEG-0204-200"]


def test_code_of_reads_only_exeg_types() -> None:
    assert code_of("https://ns.adobe.com/aep/errors/EXEG-0306-400") == "EXEG-0306-400"
    assert code_of("about:blank") is None and code_of(None) is None


def _p(code: str | None, status: int) -> Problem:
    return Problem(f"EXEG-{code}-{status}" if code else None, status, "")


@pytest.mark.parametrize(
    ("status", "code", "action"),
    [
        (202, None, EdgeAction.ACCEPTED),
        (204, None, EdgeAction.ACCEPTED),
        (207, None, EdgeAction.UPSTREAM),
        (400, "0306", EdgeAction.BISECT),
        (422, "0104", EdgeAction.BISECT),
        (500, "0100", EdgeAction.BISECT),  # "JSON processing error": the input, despite the 500
        (500, "0001", EdgeAction.RETRY),  # "Unexpected error ... Please try again"
        (500, None, EdgeAction.RETRY),
        (413, "0112", EdgeAction.SPLIT),
        (413, None, EdgeAction.SPLIT),
        (401, "0503", EdgeAction.REAUTH),
        (401, "0500", EdgeAction.REAUTH),
        (401, None, EdgeAction.REAUTH),
        (401, "0506", EdgeAction.FATAL),
        (400, "0003", EdgeAction.FATAL),
        (422, "0004", EdgeAction.FATAL),
        (400, "0113", EdgeAction.FATAL),
        (403, None, EdgeAction.FATAL),
        (404, None, EdgeAction.FATAL),
        (429, None, EdgeAction.RETRY),
        (503, "0000", EdgeAction.RETRY),
        (502, "0202", EdgeAction.RETRY),
        (504, "0200", EdgeAction.RETRY),
        (408, "0109", EdgeAction.RETRY),
        (400, None, EdgeAction.BISECT),
        (400, "0999", EdgeAction.BISECT),  # an unknown code falls back on its status
        (599, "0999", EdgeAction.RETRY),
        (102, None, EdgeAction.RETRY),
    ],
)
def test_classify(status: int, code: str | None, action: EdgeAction) -> None:
    assert classify(status, _p(code, status)) is action
