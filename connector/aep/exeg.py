"""What an Edge Network answer means: status and EXEG code -> what the Edge sink does; no I/O.

Problem bodies (RFC 7807) carry `type: https://ns.adobe.com/aep/errors/EXEG-<code>-<status>`.
`classify` reads the code first and the HTTP status second, so an unknown code still gets the
status's usual treatment, and an unknown status is retried, never dropped. The tables follow
Adobe's error-code list; docs/edge.md says where that list is silent or contradicts itself.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import Any

import orjson

_CODE = re.compile(r"EXEG-(\d{4})-(\d{3})")
_EVENT = re.compile(r"\bevent #(\d+)|\bevents\[(\d+)\]", re.IGNORECASE)  # "event #3" (0306), "events[3]"
_TEXT_LIMIT = 1_000


class EdgeAction(enum.Enum):
    ACCEPTED = "accepted"  # 2xx (not 207): every event of the request was accepted
    UPSTREAM = "upstream"  # 207: accepted, but an upstream service (Platform, Analytics, ...) failed
    BISECT = "bisect"  # an event is invalid: halve until it is alone, then dead-letter it
    SPLIT = "split"  # 413: too large; halve and resend
    REAUTH = "reauth"  # the token is missing, invalid or expired: new token, retry
    FATAL = "fatal"  # configuration or permissions: stop the worker
    RETRY = "retry"  # 429, 5xx, anything unexpected: back off and retry


# Code number -> why retrying cannot help: the datastream, the request shape or the permissions are wrong.
FATAL_CODES: dict[str, str] = {
    "0002": "the datastreamId parameter is missing",
    "0003": "the datastream does not exist (check datastream_id)",
    "0004": "the datastream is disabled",
    "0010": "the datastream has no Experience Platform configuration for this org",
    "0011": "Adobe Experience Platform is not enabled on the datastream",
    "0012": "the datastream's sandbox does not exist or belongs to another org",
    "0013": "an identity namespace of the datastream configuration does not exist",
    "0106": "the Content-Type header is refused",
    "0107": "a required request parameter is missing",
    "0108": "a request parameter has an unsupported type",
    "0110": "a parameter required with cookie support is missing",
    "0111": "the request content type is not supported",
    "0113": "the datastream config overrides are invalid or not allowed by the datastream (datastream_overrides)",
    "0400": "requests from this country are not allowed",
    "0504": "the credentials lack the Adobe Experience Platform product context",
    "0505": "the token lacks a required scope",
    "0506": "the credentials may not write to the datastream's sandbox (DATASET.WRITE)",
}
REAUTH_CODES = frozenset({"0500", "0501", "0502", "0503"})
SPLIT_CODES = frozenset({"0112"})
# Input errors: one event of the request is at fault (0100 is a 500 but names the JSON, i.e. the input).
EVENT_CODES = frozenset({"0100", "0101", "0102", "0103", "0104", "0105", "0302", "0304", "0305", "0306", "0308"})
RETRY_CODES = frozenset({"0000", "0001", "0109", "0200", "0201", "0202", "0203", "0205", "0300", "0307"})


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem detail: a fatal answer's body, or an entry of `errors[]` / `warnings[]`."""

    code: str | None  # "EXEG-0306-400", or None when the type names no EXEG code
    status: int | None
    title: str
    detail: str = ""
    errors: tuple[str, ...] = ()  # report.errors, when present

    @property
    def number(self) -> str | None:
        """The four digits of the code ("0306"), or None."""
        return self.code[5:9] if self.code else None

    @property
    def event_index(self) -> int | None:
        """The index of the event the problem names ("event #3", "events[3]"), if exactly one is named."""
        found = {int(m.group(1) or m.group(2)) for m in _EVENT.finditer(" ".join((self.detail, *self.errors)))}
        return found.pop() if len(found) == 1 else None

    def describe(self) -> str:
        """One line for logs and dead-letter headers: code, title, detail and the report's errors."""
        parts = [p for p in (self.code, self.title, self.detail) if p]
        text = ": ".join(parts) or "no detail"
        if self.errors:
            text += " (" + "; ".join(self.errors) + ")"
        return text[:_TEXT_LIMIT]


@dataclass(frozen=True, slots=True)
class Answer207:
    """The body of a 2xx: the request id and the non-fatal errors and warnings it lists."""

    request_id: str | None = None
    errors: tuple[Problem, ...] = ()
    warnings: tuple[Problem, ...] = field(default=())


def code_of(type_uri: Any) -> str | None:
    if not isinstance(type_uri, str):
        return None
    match = _CODE.search(type_uri)
    return f"EXEG-{match.group(1)}-{match.group(2)}" if match else None


def _text(value: Any) -> str:
    if value is None:
        return ""
    return (value if isinstance(value, str) else orjson.dumps(value).decode())[:_TEXT_LIMIT]


def _status(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _problem(doc: Any, status: int | None) -> Problem:
    if not isinstance(doc, dict):
        return Problem(None, status, "")
    report = doc.get("report")
    raw_errors = report.get("errors") if isinstance(report, dict) else None
    errors = tuple(_text(e) for e in raw_errors[:20]) if isinstance(raw_errors, list) else ()
    if not errors and isinstance(report, dict) and report.get("message"):
        errors = (_text(report.get("message")),)
    return Problem(
        code_of(doc.get("type")),
        _status(doc.get("status")) or status,
        _text(doc.get("title")),
        _text(doc.get("detail")),
        errors,
    )


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return None


def parse_problem(body: bytes, status: int) -> Problem:
    """The problem of a non-2xx answer; a body that is not a problem detail keeps its text as the title."""
    doc = _json(body)
    if isinstance(doc, dict):
        return _problem(doc, status)
    text = body.decode("utf-8", "replace").strip()[:_TEXT_LIMIT]
    return Problem(None, status, text or f"HTTP {status}")


def parse_success(body: bytes) -> Answer207:
    """A 2xx body: `requestId`, `errors[]`, `warnings[]`; anything unreadable reads as no errors."""
    doc = _json(body)
    if not isinstance(doc, dict):
        return Answer207()
    rid = doc.get("requestId")

    def problems(key: str) -> tuple[Problem, ...]:
        items = doc.get(key)
        return tuple(_problem(p, None) for p in items if isinstance(p, dict)) if isinstance(items, list) else ()

    return Answer207(rid if isinstance(rid, str) else None, problems("errors"), problems("warnings"))


def classify(status: int, problem: Problem | None = None) -> EdgeAction:
    """What the sink does with a whole-request answer. The EXEG code decides where it is known."""
    if status == 207:
        return EdgeAction.UPSTREAM
    if 200 <= status < 300:
        return EdgeAction.ACCEPTED
    number = problem.number if problem is not None else None
    by_code = _by_code(number)
    if by_code is not None:
        return by_code
    return _by_status(status)


def _by_code(number: str | None) -> EdgeAction | None:
    if number is None:
        return None
    if number in FATAL_CODES:
        return EdgeAction.FATAL
    if number in REAUTH_CODES:
        return EdgeAction.REAUTH
    if number in SPLIT_CODES:
        return EdgeAction.SPLIT
    if number in EVENT_CODES:
        return EdgeAction.BISECT
    if number in RETRY_CODES:
        return EdgeAction.RETRY
    return None


def _by_status(status: int) -> EdgeAction:
    if status == 401:
        return EdgeAction.REAUTH
    if status == 413:
        return EdgeAction.SPLIT
    if status == 403 or 300 <= status < 400 or status in (404, 405, 501):
        return EdgeAction.FATAL
    if status in (408, 425, 429) or status >= 500:
        return EdgeAction.RETRY
    if 400 <= status < 500:
        return EdgeAction.BISECT
    return EdgeAction.RETRY


def retry_cause(status: int) -> str:
    """The EDGE_RETRIES label of a retried answer."""
    if status == 429:
        return "429"
    if status == 408:
        return "timeout"
    return "5xx" if status >= 500 else "other"


def fatal_reason(status: int, problem: Problem) -> str:
    """Why a FATAL answer stops the worker, in words an operator can act on."""
    number = problem.number
    if number is not None and number in FATAL_CODES:
        return FATAL_CODES[number]
    if status == 403:
        return "the Edge Network refused the request (403)"
    return "the collect URL is wrong (check aep.edge.url and aep.edge.location_hint)"
