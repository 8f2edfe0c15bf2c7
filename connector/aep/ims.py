"""IMS OAuth server-to-server (client_credentials) access tokens: cached, refreshed early, one fetch at a time."""

from __future__ import annotations

import threading

import orjson
import requests
import structlog

from connector.aep.responses import retry_after
from connector.clock import SystemClock
from connector.config import AuthSettings
from connector.errors import FatalError, RetriableError, RetryAfterError
from connector.interfaces import Clock
from connector.observability.events import EventAggregator
from connector.observability.logging import redact_text, register_secret
from connector.observability.metrics import TOKEN_REFRESHES

log = structlog.get_logger(__name__)

DEFAULT_EXPIRES_IN_S = 3600.0
_REJECTED = (400, 401, 403)


class TokenProvider:
    """Hands out a bearer token for DCS; thread-safe.

    The token is refreshed `refresh_margin_s` before it expires (`expires_in` is seconds; for a
    token shorter-lived than twice the margin, at half its lifetime). While a still-valid token is
    being refreshed other threads keep using it; only without a valid token do they wait for the
    one fetch in progress. If a proactive refresh fails the old token is used until it expires.
    """

    def __init__(
        self,
        auth: AuthSettings,
        session: requests.Session,
        *,
        clock: Clock | None = None,
        timeout: tuple[float, float] = (5.0, 30.0),
        verify: str | bool = True,
    ) -> None:
        self._auth = auth
        self._session = session
        self._clock: Clock = clock or SystemClock()
        self._timeout = timeout
        self._verify = verify
        self._state_lock = threading.Lock()
        self._fetch_lock = threading.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0
        self._expires_at = 0.0
        self._events = EventAggregator()  # a storm of refreshes (401s) logs a few lines

    def token(self) -> str:
        now = self._clock.monotonic()
        with self._state_lock:
            token, refresh_at, expires_at = self._token, self._refresh_at, self._expires_at
        if token is not None and now < refresh_at:
            return token
        if token is not None and now < expires_at:
            return self._refresh_early(token)
        with self._fetch_lock:
            current = self._valid()
            return current if current is not None else self._fetch()

    def invalidate(self, token: str) -> None:
        """Forget `token` (DCS answered 401 with it) unless a newer one already replaced it."""
        with self._state_lock:
            if self._token == token:
                self._token = None
                self._refresh_at = self._expires_at = 0.0

    def check(self) -> None:
        """Fetch a token now: FatalError for rejected credentials, RetriableError when IMS is unavailable."""
        with self._fetch_lock:
            self._fetch()

    def _valid(self) -> str | None:
        with self._state_lock:
            if self._token is not None and self._clock.monotonic() < self._expires_at:
                return self._token
            return None

    def _refresh_early(self, token: str) -> str:
        if not self._fetch_lock.acquire(blocking=False):
            return token
        try:
            with self._state_lock:
                if self._token != token or self._clock.monotonic() < self._refresh_at:
                    return self._token or token
            try:
                return self._fetch()
            except RetriableError as exc:
                self._events.note("token_refresh_deferred", {"token_url": self._auth.token_url}, error=str(exc))
                return token
        finally:
            self._fetch_lock.release()

    def _fetch(self) -> str:
        started = self._clock.monotonic()
        try:
            response = self._session.post(
                self._auth.token_url,
                data={
                    "grant_type": "client_credentials",
                    "client_id": self._auth.client_id,
                    "client_secret": self._auth.client_secret.reveal(),
                    "scope": ",".join(self._auth.scopes),
                },
                headers={"Accept": "application/json"},
                timeout=self._timeout,
                verify=self._verify,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            TOKEN_REFRESHES.labels(result="error").inc()
            raise RetriableError(
                f"IMS at {self._auth.token_url} is unreachable: {type(exc).__name__}: {self._scrub(str(exc))}"
            ) from None
        token, expires_in = self._read(response)
        register_secret(token)  # the log redaction processor masks it wherever it might appear
        with self._state_lock:
            self._token = token
            self._expires_at = started + expires_in
            self._refresh_at = started + max(expires_in - self._auth.refresh_margin_s, expires_in / 2.0)
        TOKEN_REFRESHES.labels(result="ok").inc()
        ms = round((self._clock.monotonic() - started) * 1000)
        self._events.note("token_refreshed", {"token_url": self._auth.token_url}, level="info", expires_in_s=expires_in,
                          ms=ms)  # fmt: skip
        return token

    def _read(self, response: requests.Response) -> tuple[str, float]:
        status = response.status_code
        doc: object = None
        try:
            doc = orjson.loads(response.content) if response.content else None
        except orjson.JSONDecodeError:
            doc = None
        if status == 200 and isinstance(doc, dict):
            token, expires = doc.get("access_token"), doc.get("expires_in", DEFAULT_EXPIRES_IN_S)
            if isinstance(token, str) and token:
                if isinstance(expires, str) and expires.replace(".", "", 1).isdigit():
                    expires = float(expires)
                valid = isinstance(expires, int | float) and not isinstance(expires, bool) and expires > 0
                return token, float(expires) if valid else DEFAULT_EXPIRES_IN_S
        TOKEN_REFRESHES.labels(result="error").inc()
        where = f"IMS at {self._auth.token_url}"
        if status == 200:
            raise RetriableError(f"{where} answered 200 without an access_token")
        if status in _REJECTED:
            raise FatalError(
                f"{where} rejected the credentials of client_id {self._auth.client_id!r} "
                f"(HTTP {status}{self._describe(doc)}): check aep.auth.client_id, client_secret and scopes"
            )
        wait = retry_after(response.headers.get("Retry-After"), self._clock.time())
        message = f"{where} is unavailable (HTTP {status}{self._describe(doc)})"
        if wait is not None:
            raise RetryAfterError(message, wait)
        raise RetriableError(message)

    def _describe(self, doc: object) -> str:
        if not isinstance(doc, dict):
            return ""
        parts = [doc.get(k) for k in ("error", "error_description")]
        text = ": ".join(p for p in parts if isinstance(p, str) and p)
        return f" {self._scrub(text)[:300]}" if text else ""

    def _scrub(self, text: str) -> str:
        secret = self._auth.client_secret.reveal()
        if secret:
            text = text.replace(secret, "***")
        return redact_text(text)
