"""What a DCS answer means: one function per question, no I/O.

`classify` maps a whole-request status to what the sink does; `parse_batch` reads a 207/200
batch body by position (failures as `statusCode` or `status`, with or without `xactionId`);
`retry_after` reads the header as delta-seconds or an HTTP date.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import orjson

from connector.retry_after import parse_retry_after

_MESSAGE_LIMIT = 1_000


class Action(enum.Enum):
    ACCEPTED = "accepted"  # 2xx: read the body
    BISECT = "bisect"  # 400/422: some message is bad; halve until it is isolated
    SPLIT = "split"  # 413: too large; halve and resend
    REAUTH = "reauth"  # 401: new token, retry
    FORBIDDEN = "forbidden"  # 403: stop the worker
    MISCONFIGURED = "misconfigured"  # 3xx/404/405/501: wrong inlet URL, or sync validation where unsupported
    RETRY = "retry"  # 408/425/429/5xx and anything unexpected: back off and retry


_RETRY_CAUSE = {408: "timeout", 429: "429"}


def classify(status: int) -> Action:
    """What the sink does with a whole-request status. Unknown statuses are retried, never dropped."""
    if 200 <= status < 300:
        return Action.ACCEPTED
    if status in (400, 422):
        return Action.BISECT
    if status == 413:
        return Action.SPLIT
    if status == 401:
        return Action.REAUTH
    if status == 403:
        return Action.FORBIDDEN
    if 300 <= status < 400 or status in (404, 405, 501):
        return Action.MISCONFIGURED
    return Action.RETRY


def retry_cause(status: int) -> str:
    """The DCS_RETRIES label for a retried status."""
    if status in _RETRY_CAUSE:
        return _RETRY_CAUSE[status]
    return "5xx" if status >= 500 else "other"


class Verdict(enum.Enum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    RETRY = "retry"


@dataclass(frozen=True, slots=True)
class Entry:
    """One element of `responses[]`: `status` is None for a success."""

    status: int | None
    xaction_id: str | None
    message: str | None

    @property
    def verdict(self) -> Verdict:
        """Accepted (2xx or an xactionId without status), rejected (4xx but 429), else retry it alone."""
        if self.status is None:
            return Verdict.ACCEPTED if self.xaction_id is not None else Verdict.RETRY
        if 200 <= self.status < 300:
            return Verdict.ACCEPTED
        if 400 <= self.status < 500 and self.status != 429:
            return Verdict.REJECTED
        return Verdict.RETRY


@dataclass(frozen=True, slots=True)
class BatchParse:
    """`entries` aligned with the request's messages, or None with `problem` saying why."""

    entries: list[Entry] | None
    problem: str | None = None


def _status(raw: Any) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and raw.strip().isdigit():
        return int(raw.strip())
    return None


def _text(raw: Any) -> str | None:
    if raw is None:
        return None
    text = raw if isinstance(raw, str) else orjson.dumps(raw).decode()
    return text[:_MESSAGE_LIMIT]


def _entry(raw: Any) -> Entry | None:
    if not isinstance(raw, dict):
        return None
    status_raw = raw.get("statusCode", raw.get("status"))
    status = _status(status_raw)
    if status_raw is not None and status is None:
        return None
    xid = raw.get("xactionId")
    return Entry(status, xid if isinstance(xid, str) else None, _text(raw.get("message")))


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return None


def parse_batch(body: bytes, count: int) -> BatchParse:
    """Entries of a batch answer, matched to the `count` messages sent BY POSITION.

    Any doubt (not JSON, no `responses`, wrong length, an entry that is not an object or whose
    status is not a number) returns no entries: the caller retries the whole request.
    """
    doc = _json(body)
    if not isinstance(doc, dict):
        return BatchParse(None, "body is not a JSON object")
    responses = doc.get("responses")
    if not isinstance(responses, list):
        return BatchParse(None, "body has no responses array")
    if len(responses) != count:
        return BatchParse(None, f"responses has {len(responses)} entries for {count} messages")
    entries: list[Entry] = []
    for i, raw in enumerate(responses):
        entry = _entry(raw)
        if entry is None:
            return BatchParse(None, f"responses[{i}] is not a valid entry")
        entries.append(entry)
    return BatchParse(entries)


def plain_successes(body: bytes, count: int) -> list[str] | None:
    """The xactionIds of a batch answer in which every entry is a plain success, or None.

    A plain success is the documented `{"xactionId": "..."}` with no status key. This is the answer
    to nearly every request, so it is read without building an Entry per message; any other answer
    (a status key, a missing id, a wrong length, not JSON) returns None and `parse_batch` decides.
    """
    doc = _json(body)
    if doc.__class__ is not dict:
        return None
    responses = doc.get("responses")
    if responses.__class__ is not list or len(responses) != count:
        return None
    ids: list[str] = []
    for raw in responses:
        if raw.__class__ is not dict or "statusCode" in raw or "status" in raw:
            return None
        xid = raw.get("xactionId")
        if xid.__class__ is not str:
            return None
        ids.append(xid)
    return ids


def parse_single(body: bytes) -> Entry | None:
    """A single-message 2xx answer: `{"xactionId": ...}`; None when the body is not a JSON object."""
    doc = _json(body)
    if not isinstance(doc, dict):
        return None
    xid = doc.get("xactionId")
    return Entry(None, xid if isinstance(xid, str) else None, None)


def problem_message(body: bytes, status: int) -> str:
    """The human part of an error body: report.message, title, detail, message, or the raw text."""
    doc = _json(body)
    if isinstance(doc, dict):
        report = doc.get("report")
        for candidate in (
            report.get("message") if isinstance(report, dict) else None,
            doc.get("title"),
            doc.get("detail"),
            doc.get("message"),
        ):
            if isinstance(candidate, str) and candidate:
                return candidate[:_MESSAGE_LIMIT]
    text = body.decode("utf-8", "replace").strip()
    return text[:_MESSAGE_LIMIT] if text else f"DCS answered HTTP {status}"


def validation_report(body: bytes) -> bool:
    """Whether a 400 body is DCS's verdict on the message itself: a `report.cause` (sync validation's violations)."""
    doc = _json(body)
    report = doc.get("report") if isinstance(doc, dict) else None
    cause = report.get("cause") if isinstance(report, dict) else None
    return isinstance(cause, dict | list) and bool(cause)


def retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), at most MAX_SERVER_DELAY_S."""
    return parse_retry_after(value, now)
