"""Request/response values passed between the HTTP handler and the API modules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

import orjson

from connector.numbers import json_bytes

DCS_PROBLEM = "http://ns.adobe.com/adobecloud/problem/data-collection-service/inlet"
DCS_AUTH_PROBLEM = "https://ns.adobe.com/adobecloud/problem/data-collection-service-authorization"
JSON = "application/json"
PROBLEM_JSON = "application/problem+json"


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]
    body: bytes = b""

    def q(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self) -> Any:
        return orjson.loads(self.body)

    def bearer(self) -> str | None:
        """The token of `Authorization: Bearer X` (or a bare token, as the legacy DCS docs allow)."""
        value = self.header("authorization")
        if not value:
            return None
        scheme, _, rest = value.strip().partition(" ")
        if scheme.lower() == "bearer":
            return rest.strip() or None
        return value.strip()


def make_request(method: str, target: str, headers: Mapping[str, str], body: bytes) -> Request:
    path, _, qs = target.partition("?")
    query = parse_qs(qs, keep_blank_values=True) if qs else {}
    return Request(method, path, query, {k.lower(): v for k, v in headers.items()}, body)


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = JSON
    headers: tuple[tuple[str, str], ...] = field(default=())
    reset: bool = False
    delay_s: float = 0.0

    @property
    def reason(self) -> str:
        try:
            return HTTPStatus(self.status).phrase
        except ValueError:
            return "Unknown"


def json_response(
    status: int, obj: Any, headers: tuple[tuple[str, str], ...] = (), content_type: str = JSON
) -> Response:
    return Response(status, json_bytes(obj), content_type, headers)


def problem(
    status: int,
    title: str,
    message: str,
    *,
    cause: Any = None,
    type_: str = DCS_PROBLEM,
    headers: tuple[tuple[str, str], ...] = (),
) -> Response:
    """A DCS problem+json body in the documented 400 style."""
    report: dict[str, Any] = {"message": message}
    if cause is not None:
        report["cause"] = cause
    body = {"type": type_, "status": status, "title": title, "report": report}
    return json_response(status, body, headers, PROBLEM_JSON)


def not_found(message: str = "Not Found") -> Response:
    return json_response(
        404, {"type": "/placeholder/type/uri", "status": 404, "title": "NotFoundError", "detail": message}
    )


def bad_request(message: str) -> Response:
    return json_response(
        400, {"type": "/placeholder/type/uri", "status": 400, "title": "BadRequestError", "detail": message}
    )
