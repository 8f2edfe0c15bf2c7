"""Test doubles for the aep package: a fake clock and an HTTP adapter mounted on a real Session."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
import requests
from requests.adapters import BaseAdapter
from requests.models import PreparedRequest
from requests.structures import CaseInsensitiveDict

from connector.config import AepSettings, AuthSettings, DeliverySettings, Secret, TransportSettings
from connector.records import Route

WALL_START = 1_700_000_000.0
INLET = "http://dcs.test/collection/0123abcd"
IMS_URL = "http://ims.test/ims/token/v3"
SECRET = "s3cr3t&+=value"


class FakeClock:
    """Time moves only when someone sleeps; `sleeps` records every sleep. `on_sleep` runs after each."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self.on_sleep: Callable[[float], None] | None = None
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        with self._lock:
            return self.now

    def time(self) -> float:
        with self._lock:
            return WALL_START + self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds
        if self.on_sleep is not None:
            self.on_sleep(seconds)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any = None  # bytes as-is, anything else JSON-encoded, None for empty
    headers: Mapping[str, str] = field(default_factory=dict)


Answer = Reply | BaseException
Handler = Callable[[PreparedRequest], Answer]


@dataclass(frozen=True)
class Seen:
    """A request as the adapter received it, with the fake clock's time."""

    url: str
    headers: Mapping[str, str]
    body: bytes
    at: float
    timeout: Any
    verify: Any

    @property
    def path(self) -> str:
        return self.url.split("://", 1)[1].split("/", 1)[1].split("?", 1)[0]

    def json(self) -> Any:
        return orjson.loads(self.body)


class FakeAdapter(BaseAdapter):
    """Answers from per-path queues (`queue`) or a handler per path (`route`); records every request."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        super().__init__()
        self.clock = clock
        self.seen: list[Seen] = []
        self._queues: dict[str, deque[Answer]] = {}
        self._handlers: dict[str, Handler] = {}
        self._lock = threading.Lock()

    def queue(self, path: str, *answers: Answer) -> None:
        with self._lock:
            self._queues.setdefault("/" + path.lstrip("/"), deque()).extend(answers)

    def route(self, path: str, handler: Handler) -> None:
        self._handlers["/" + path.lstrip("/")] = handler

    def requests_to(self, path: str) -> list[Seen]:
        return [s for s in self.seen if "/" + s.path == "/" + path.lstrip("/")]

    def send(  # noqa: PLR0917 - BaseAdapter.send's signature
        self,
        request: PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        body = request.body or b""
        raw = body.encode() if isinstance(body, str) else bytes(body)
        url = request.url or ""
        seen = Seen(url, dict(request.headers), raw, self.clock.monotonic() if self.clock else 0.0, timeout, verify)
        path = "/" + seen.path
        with self._lock:
            self.seen.append(seen)
            pending = self._queues.get(path)
            answer: Answer | None = pending.popleft() if pending else None
        if answer is None:
            handler = self._handlers.get(path)
            if handler is None:
                raise AssertionError(f"unexpected request to {url}")
            answer = handler(request)
        if isinstance(answer, BaseException):
            raise answer
        return _response(request, answer)

    def close(self) -> None:
        pass


def _response(request: PreparedRequest, reply: Reply) -> requests.Response:
    response = requests.Response()
    response.status_code = reply.status
    if reply.body is None:
        response._content = b""
    elif isinstance(reply.body, bytes):
        response._content = reply.body
    else:
        response._content = orjson.dumps(reply.body)
    response.headers = CaseInsensitiveDict(reply.headers)
    response.url = request.url or ""
    response.request = request
    response.encoding = "utf-8"
    return response


def session_with(adapter: FakeAdapter) -> requests.Session:
    session = requests.Session()
    session.mount("http://", adapter)
    return session


def auth_settings(**overrides: Any) -> AuthSettings:
    values: dict[str, Any] = {
        "enabled": True,
        "token_url": IMS_URL,
        "client_id": "client-1",
        "client_secret": Secret(SECRET),
        "refresh_margin_s": 300.0,
    }
    values.update(overrides)
    return AuthSettings(**values)


def aep_settings(*, auth: AuthSettings | None = None, **overrides: Any) -> AepSettings:
    values: dict[str, Any] = {"inlet_url": INLET, "auth": auth or AuthSettings(), "transport": TransportSettings()}
    values.update(overrides)
    return AepSettings(**values)


def delivery_settings(**overrides: Any) -> DeliverySettings:
    values: dict[str, Any] = {"initial_backoff_ms": 100, "max_backoff_ms": 10_000, "attempts_before_exhausted": 5}
    values.update(overrides)
    return DeliverySettings(**values)


def route(**overrides: Any) -> Route:
    return Route(**{"inlet_url": INLET, **overrides})


def messages(n: int) -> list[bytes]:
    return [orjson.dumps({"header": {"n": i}, "body": {"xdmEntity": {"_id": f"id-{i}"}}}) for i in range(n)]


def ok_207(n: int) -> Reply:
    return Reply(
        207, {"inletId": "0123abcd", "batchId": "b:1", "responses": [{"xactionId": f"b:1:{i}"} for i in range(n)]}
    )


def token_reply(token: str, expires_in: float = 86_399) -> Reply:
    return Reply(200, {"access_token": token, "token_type": "bearer", "expires_in": expires_in})
