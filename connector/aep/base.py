"""HttpSink: what the DCS and Edge Network sinks share.

The clock (and whether it is real time), the pooled Session (closed only if the sink made it),
timeouts and TLS verification, the IMS token provider, the backoff policy, cancellable waits
and the scrubbing of secrets out of error texts; the retry state of a request (Chunk) and the
failure of a request that got no answer (NoAnswer).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import requests

from connector.aep.ims import TokenProvider
from connector.aep.retry import Backoff
from connector.aep.transport import make_session, timeouts, verify
from connector.clock import SystemClock
from connector.config import AepSettings, DeliverySettings
from connector.errors import DeliveryAbandoned
from connector.interfaces import Clock
from connector.observability.logging import redact_text

NEVER_DEAD_LETTER = frozenset({"401", "ims"})  # retry causes where the records are fine; the credentials or IMS are not
CONFIG_ERRORS = (
    requests.exceptions.InvalidURL,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
    requests.exceptions.InvalidHeader,  # a header value requests will not send: retrying cannot help
)


@dataclass(slots=True)
class Chunk:
    """Message indices sent together in one request, with the retry state they carry."""

    indices: list[int]
    failures: int = 0
    delay: float = 0.0
    auth_retried: bool = False


class NoAnswer(Exception):
    """A request that got no HTTP answer (timeout, connection error): `cause` labels the retry metric."""

    def __init__(self, cause: str, detail: str) -> None:
        super().__init__(detail)
        self.cause = cause
        self.detail = detail


class HttpSink:
    def __init__(
        self,
        aep: AepSettings,
        delivery: DeliverySettings,
        *,
        session: requests.Session | None = None,
        tokens: TokenProvider | None = None,
        clock: Clock | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self._real_time = isinstance(self.clock, SystemClock)
        self._owns_session = session is None
        self.session = session or make_session(aep.transport)
        self._timeout = timeouts(aep.transport)
        self._verify = verify(aep.transport)
        if tokens is None and aep.auth.enabled:
            tokens = TokenProvider(aep.auth, self.session, clock=clock, timeout=self._timeout, verify=self._verify)
        self.tokens = tokens
        self.backoff = backoff or Backoff.from_settings(delivery)
        self.delivery = delivery
        self._secrets = [
            s.reveal() for s in (aep.auth.client_secret, aep.transport.proxy_password) if s is not None and s.reveal()
        ]
        self.configure(aep)

    def configure(self, aep: AepSettings) -> None:
        """A subclass's own settings, read once the shared parts exist."""

    def close(self) -> None:
        if self._owns_session:
            self.session.close()

    def wait(self, seconds: float, cancel: threading.Event) -> None:
        """Sleep unless cancelled; raise DeliveryAbandoned if `cancel` is set before or during the wait."""
        if seconds > 0:
            if self._real_time:
                cancel.wait(seconds)
            else:
                self.clock.sleep(seconds)
        if cancel.is_set():
            raise DeliveryAbandoned("delivery cancelled")

    def scrub(self, text: str) -> str:
        """`text` without the client secret, the proxy password or anything the log redaction masks."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return redact_text(text)
