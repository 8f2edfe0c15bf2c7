"""DcsSink: delivers one batch of serialised envelopes to a DCS inlet and says what became of each.

Per `deliver` call the batch is worked through as a queue of chunks (lists of message indices):

1. send the chunk (one batch request, or one single-message request in mode "single");
2. 2xx: read the answer by position; 4xx entries are rejected; a 5xx/429 entry is retried after a
   backoff together with every message after it in the chunk that was not rejected, accepted ones
   included, so the last write AEP takes of each message follows the batch's order (a message
   accepted once stays accepted, whatever its later copies get);
3. 400 / 413 on the whole request: halve the chunk until the bad (or too large) message is alone.
   One rule for a 400 of a message sent alone, in every mode and batch size: it is that record's
   fault (dead-letter) only when DCS showed the request itself is fine, by answering another
   request of this delivery with a 2xx or by a validation report on the message (`report.cause`,
   sync validation). Otherwise the request is wrong (headers, sandbox, content type, inlet): a
   configuration problem, which stops the worker (FatalError) and dead-letters nothing;
4. 401: new token and one immediate retry, then backoff; 403 and a wrong URL raise FatalError;
5. 429, 5xx, timeouts, connection errors, IMS outages: backoff with full jitter, Retry-After as a
   floor; after `attempts_before_exhausted` failures either dead-letter (opt-in) or keep retrying.

Nothing is returned until every message is Accepted or carries a RejectedError; cancellation
raises DeliveryAbandoned.
"""

from __future__ import annotations

import gzip
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import requests
import structlog

from connector import USER_AGENT
from connector.aep.base import CONFIG_ERRORS as _CONFIG_ERRORS
from connector.aep.base import NEVER_DEAD_LETTER as _NEVER_DEAD_LETTER
from connector.aep.base import Chunk as _Chunk
from connector.aep.base import HttpSink
from connector.aep.base import NoAnswer as _Failure
from connector.aep.ratelimit import InletLimits, TokenBucket
from connector.aep.responses import (
    Action,
    Verdict,
    classify,
    parse_batch,
    parse_single,
    plain_successes,
    problem_message,
    retry_after,
    retry_cause,
    validation_report,
)
from connector.aep.wire import batch_body
from connector.config import AepSettings
from connector.errors import DeliveryAbandoned, FatalError, RejectedError, RetriableError, RetryAfterError
from connector.observability.delivery_log import DeliveryEvents
from connector.observability.metrics import (
    BATCH_BYTES,
    BATCH_RECORDS,
    DCS_REQUEST_SECONDS,
    DCS_RETRIES,
    REQUESTS_IN_FLIGHT,
)
from connector.records import Accepted, Outcome, Route

log = structlog.get_logger(__name__)

SYNC_VALIDATION_PER_MINUTE = 60.0


@dataclass(slots=True)
class _Answer:
    status: int
    body: bytes
    retry_after: float | None
    request_id: str | None = field(default=None)


class DcsSink(HttpSink):
    """Implements connector.interfaces.Sink over one pooled requests Session; safe to call from many threads."""

    def configure(self, aep: AepSettings) -> None:
        self.events = DeliveryEvents()  # retries, throttling, 401s and splits as rate-limited log events
        self.single = aep.mode == "single"
        self._sync_validation = self.single and aep.sync_validation
        self._gzip = aep.transport.gzip
        self._requests = self._bucket(self.delivery.requests_per_s)
        self._messages = self._bucket(self.delivery.messages_per_s)
        self._sync_limits = InletLimits(SYNC_VALIDATION_PER_MINUTE, self.clock) if self._sync_validation else None

    def _bucket(self, rate: float | None) -> TokenBucket | None:
        return TokenBucket(rate, max(1.0, rate), self.clock) if rate else None

    def deliver(self, route: Route, messages: Sequence[bytes], cancel: threading.Event) -> list[Outcome]:
        if not messages:
            return []
        if route.authenticated and self.tokens is None:
            raise FatalError(f"inlet {route.inlet_url} is authenticated but aep.auth is not enabled")
        return _Delivery(self, route, messages, cancel).run()

    def url(self, route: Route) -> str:
        if not self.single:
            return route.batch_url
        return route.single_url + ("?syncValidation=true" if self._sync_validation else "")

    def headers(self, route: Route, token: str | None) -> dict[str, str]:
        out = {"User-Agent": USER_AGENT}
        for name, value in (
            ("x-adobe-flow-id", route.flow_id),
            ("x-sandbox-name", route.sandbox),
            ("x-gw-ims-org-id", route.ims_org),
        ):
            if value:
                out[name] = value
        out.update(route.extra_headers)
        out["Content-Type"] = "application/json"
        if token is not None:
            out["Authorization"] = f"Bearer {token}"
        return out

    def throttle(self, route: Route, count: int, cancel: threading.Event) -> None:
        """Wait for the shared rate limits (requests/s, messages/s, sync validation per inlet)."""
        waits = [0.0]
        if self._requests is not None:
            waits.append(self._requests.reserve(1))
        if self._messages is not None:
            waits.append(self._messages.reserve(count))
        if self._sync_limits is not None:
            waits.append(self._sync_limits.bucket(route.single_url).reserve(1))
        self.wait(max(waits), cancel)

    def post(self, url: str, body: bytes, headers: dict[str, str], count: int) -> _Answer:
        """One HTTP request; a transport failure raises _Failure, a wrong URL FatalError."""
        BATCH_RECORDS.observe(count)
        BATCH_BYTES.observe(len(body))
        size = len(body)
        if self._gzip:
            body = gzip.compress(body, compresslevel=5)
            headers["Content-Encoding"] = "gzip"
        started = self.clock.monotonic()
        REQUESTS_IN_FLIGHT.inc()
        try:
            response = self.session.post(
                url, data=body, headers=headers, timeout=self._timeout, verify=self._verify, allow_redirects=False
            )
        except requests.Timeout as exc:
            raise self._failure("timeout", exc, url, count, started) from None
        except _CONFIG_ERRORS as exc:
            raise FatalError(f"cannot send to DCS at {url}: {type(exc).__name__}") from None
        except requests.RequestException as exc:
            raise self._failure("connection", exc, url, count, started) from None
        finally:
            REQUESTS_IN_FLIGHT.dec()
        elapsed = self.clock.monotonic() - started
        status = response.status_code
        DCS_REQUEST_SECONDS.labels(status=str(status)).observe(elapsed)
        answer = _Answer(
            status,
            response.content,
            retry_after(response.headers.get("Retry-After"), self.clock.time()),
            response.headers.get("x-request-id"),
        )
        log.debug(
            "dcs_request",
            url=url,
            status=status,
            records=count,
            bytes=size,
            ms=round(elapsed * 1000),
            request_id=answer.request_id,
        )
        return answer

    def _failure(self, cause: str, exc: Exception, url: str, count: int, started: float) -> _Failure:
        elapsed = self.clock.monotonic() - started
        DCS_REQUEST_SECONDS.labels(status="error").observe(elapsed)
        detail = f"{type(exc).__name__}: {self.scrub(str(exc))}"[:500]
        log.debug("dcs_request", url=url, status="error", cause=cause, records=count, ms=round(elapsed * 1000))
        return _Failure(cause, detail)


class _Delivery:
    """The state of one `deliver` call."""

    def __init__(self, sink: DcsSink, route: Route, messages: Sequence[bytes], cancel: threading.Event) -> None:
        self.sink = sink
        self.route = route
        self.messages = messages
        self.cancel = cancel
        self.outcomes: list[Outcome | None] = [None] * len(messages)
        self.requests = 0
        self.request_ok = False  # a request of this delivery got a 2xx: headers, sandbox and inlet are fine
        self.validated: set[int] = set()  # messages whose 400 carried a validation report about them
        self.exhausted_logged = False
        self.auth_failed_logged = False

    def run(self) -> list[Outcome]:
        started = self.sink.clock.monotonic()
        n = len(self.messages)
        queue = deque([_Chunk([i]) for i in range(n)] if self.sink.single else [_Chunk(list(range(n)))])
        while queue:
            chunk = queue.popleft()
            self.sink.wait(chunk.delay, self.cancel)
            queue.extendleft(reversed(self.attempt(chunk)))
        outcomes = [o for o in self.outcomes if o is not None]
        assert len(outcomes) == n, "every message has an outcome"
        self.refuse_request_400(outcomes)
        accepted = sum(isinstance(o, Accepted) for o in outcomes)
        log.info(
            "batch_sent",
            records=n,
            accepted=accepted,
            rejected=n - accepted,
            attempts=self.requests,
            ms=round((self.sink.clock.monotonic() - started) * 1000),
        )
        return outcomes

    def refuse_request_400(self, outcomes: list[Outcome]) -> None:
        """A 400 of a message sent alone is the record's fault only with evidence the request is fine.

        Evidence: another request of this delivery got a 2xx, or DCS's 400 was a validation report
        about the message. Without it the same 400 would come back for every record (a wrong header,
        sandbox, content type or inlet), so dead-lettering would drain the stream: stop instead, and
        dead-letter nothing of this batch.
        """
        if self.request_ok:
            return
        unexplained = [
            i for i, o in enumerate(outcomes)
            if isinstance(o, RejectedError) and o.reason == "aep-rejected-400" and i not in self.validated
        ]
        if unexplained:
            first = outcomes[unexplained[0]]
            detail = first.message if isinstance(first, RejectedError) else ""
            url = self.sink.url(self.route)
            raise FatalError(
                f"DCS answered 400 to {url} for {len(unexplained)} message(s) sent alone and accepted no request of "
                f"this batch ({detail}): this is a request problem (headers, sandbox, content type, inlet), "
                "not bad records; nothing was dead-lettered"
            )

    def attempt(self, chunk: _Chunk) -> list[_Chunk]:
        """Send `chunk` once; settle what can be settled and return the chunks still to send, in order."""
        if self.cancel.is_set():
            raise DeliveryAbandoned("delivery cancelled")
        sink = self.sink
        sink.throttle(self.route, len(chunk.indices), self.cancel)
        token: str | None = None
        if self.route.authenticated and sink.tokens is not None:
            try:
                token = sink.tokens.token()
            except RetriableError as exc:
                wait = exc.retry_after if isinstance(exc, RetryAfterError) else None
                return self.retry(chunk, "ims", None, wait, str(exc))
        body = self.messages[chunk.indices[0]] if sink.single else batch_body([self.messages[i] for i in chunk.indices])
        self.requests += 1
        try:
            answer = sink.post(sink.url(self.route), body, sink.headers(self.route, token), len(chunk.indices))
        except _Failure as failure:
            return self.retry(chunk, failure.cause, None, None, failure.detail)
        action = classify(answer.status)
        if action is Action.ACCEPTED:
            return self.settle(chunk, answer)
        if action is Action.BISECT:
            return self.halve(chunk, answer, "aep-rejected-400")
        if action is Action.SPLIT:
            return self.halve(chunk, answer, "too-large")
        if action is Action.REAUTH:
            return self.reauth(chunk, token, answer)
        if action is Action.FORBIDDEN:
            raise FatalError(
                f"DCS answered 403 Forbidden for inlet {self.route.inlet_url}: "
                "check the credentials' product profile / the inlet's org"
            )
        if action is Action.MISCONFIGURED:
            raise FatalError(
                f"DCS answered {answer.status} for {sink.url(self.route)}: check aep.inlet_url"
                + (" and aep.sync_validation (not supported in every region)" if answer.status == 501 else "")
            )
        detail = f"HTTP {answer.status}: {sink.scrub(problem_message(answer.body, answer.status))}"
        return self.retry(chunk, retry_cause(answer.status), answer.status, answer.retry_after, detail)

    def settle(self, chunk: _Chunk, answer: _Answer) -> list[_Chunk]:
        self.request_ok = True
        if self.sink.single:
            entry = parse_single(answer.body)
            if entry is None:
                return self.unreadable(chunk, answer, "body is not a JSON object")
            self.outcomes[chunk.indices[0]] = Accepted(entry.xaction_id)
            return []
        ids = plain_successes(answer.body, len(chunk.indices))
        if ids is not None:
            outcomes = self.outcomes
            for index, xid in zip(chunk.indices, ids, strict=True):
                outcomes[index] = Accepted(xid)
            return []
        parsed = parse_batch(answer.body, len(chunk.indices))
        if parsed.entries is None:
            return self.unreadable(chunk, answer, parsed.problem or "unreadable")
        again: list[int] = []
        for index, entry in zip(chunk.indices, parsed.entries, strict=True):
            verdict = entry.verdict
            if verdict is Verdict.ACCEPTED:
                self.outcomes[index] = Accepted(entry.xaction_id)
                if again:
                    again.append(index)  # accepted after one that failed: sent again after it, for order
            elif verdict is Verdict.REJECTED:
                message = entry.message or f"DCS rejected the message with status {entry.status}"
                self.reject(index, RejectedError("aep-rejected", message, http_status=entry.status))
            else:
                again.append(index)
        if not again:
            return []
        retry = _Chunk(again, chunk.failures, auth_retried=chunk.auth_retried)
        return self.retry(retry, "entry-5xx", answer.status, answer.retry_after, f"{len(again)} entries failed")

    def reject(self, index: int, error: RejectedError) -> None:
        """Settle a message as rejected, unless AEP already accepted it (it was sent again only for order)."""
        if not isinstance(self.outcomes[index], Accepted):
            self.outcomes[index] = error

    def unreadable(self, chunk: _Chunk, answer: _Answer, problem: str) -> list[_Chunk]:
        log.warning(
            "dcs_unreadable_response",
            status=answer.status,
            problem=problem,
            records=len(chunk.indices),
            request_id=answer.request_id,
        )
        return self.retry(chunk, "bad-response", answer.status, answer.retry_after, problem)

    def halve(self, chunk: _Chunk, answer: _Answer, reason: str) -> list[_Chunk]:
        if len(chunk.indices) == 1:
            index = chunk.indices[0]
            message = self.sink.scrub(problem_message(answer.body, answer.status))
            self.reject(index, RejectedError(reason, message, http_status=answer.status))
            if validation_report(answer.body):
                self.validated.add(index)
            return []
        mid = len(chunk.indices) // 2
        self.sink.events.split(self.route, answer.status, len(chunk.indices))
        return [
            _Chunk(chunk.indices[:mid], chunk.failures, auth_retried=chunk.auth_retried),
            _Chunk(chunk.indices[mid:], chunk.failures, auth_retried=chunk.auth_retried),
        ]

    def reauth(self, chunk: _Chunk, token: str | None, answer: _Answer) -> list[_Chunk]:
        if token is None or self.sink.tokens is None:
            raise FatalError(
                f"DCS answered 401 for inlet {self.route.inlet_url}: the inlet requires authentication; "
                "enable aep.auth with OAuth server-to-server credentials"
            )
        self.sink.tokens.invalidate(token)
        if not chunk.auth_retried:
            DCS_RETRIES.labels(cause="401").inc()
            self.sink.events.token_rejected(self.route)
            return [_Chunk(chunk.indices, chunk.failures, auth_retried=True)]
        if not self.auth_failed_logged:
            log.error(
                "auth_failed",
                inlet=self.route.inlet_url,
                status=401,
                records=len(chunk.indices),
                detail=self.sink.scrub(problem_message(answer.body, answer.status).replace(token, "***")),
            )
            self.auth_failed_logged = True
        return self.retry(chunk, "401", 401, answer.retry_after, "DCS answered 401 with a fresh token")

    def retry(self, chunk: _Chunk, cause: str, status: int | None, wait: float | None, detail: str) -> list[_Chunk]:
        """Schedule `chunk` again after a backoff, or dead-letter it once retries are exhausted (opt-in)."""
        DCS_RETRIES.labels(cause=cause).inc()
        failures = chunk.failures + 1
        exhausted = failures >= self.sink.delivery.attempts_before_exhausted
        if exhausted and cause not in _NEVER_DEAD_LETTER and self.sink.delivery.on_retries_exhausted == "dead_letter":
            log.warning(
                "retries_exhausted",
                action="dead_letter",
                records=len(chunk.indices),
                attempts=failures,
                cause=cause,
                status=status,
            )
            message = f"DCS delivery gave up after {failures} attempts; last failure: {detail}"
            for index in chunk.indices:
                self.reject(index, RejectedError("retries-exhausted", message, http_status=status))
            return []
        if exhausted and not self.exhausted_logged:
            log.warning(
                "retries_exhausted",
                action="pause",
                records=len(chunk.indices),
                attempts=failures,
                cause=cause,
                status=status,
                detail=detail,
            )
            self.exhausted_logged = True
        delay = self.sink.backoff.delay(failures, wait, exhausted=exhausted)
        self.sink.events.retry(self.route, cause, status, failures, delay_s=delay, retry_after_s=wait, detail=detail)
        return [_Chunk(chunk.indices, failures, delay, chunk.auth_retried)]
