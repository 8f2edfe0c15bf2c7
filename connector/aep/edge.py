"""EdgeSink: delivers one batch of Edge events (one datastream) to `/ee/v2/collect` and says what became of each.

Per `deliver` call:

1. cut the batch into requests of at most `edge.max_request_bytes` (and `edge.max_events`); an
   event too large to travel alone is dead-lettered at once ("too-large");
2. send the requests in order (a lane carries whole partitions, so this keeps each partition's
   order, across retries); a 2xx accepts every event of the request; a 207 names failed
   upstreams and is retried (`on_upstream_error: retry`, the default) or accepted;
3. an input error (an event-level EXEG code, or a 4xx without a known code): send the event the
   problem names ("event #3") alone, or halve, until the bad event is alone, then dead-letter it
   with Adobe's code and report; 413: halve, alone "too-large";
4. 401 for a missing, invalid or expired token: new token and one immediate retry, then backoff;
   datastream, permission and URL problems raise FatalError;
5. 429, 5xx, timeouts, connection errors, IMS outages: backoff with full jitter, Retry-After as a
   (capped) floor; after `attempts_before_exhausted` either dead-letter (opt-in) or keep retrying.

Nothing is returned until every event is Accepted or carries a RejectedError; cancellation raises
DeliveryAbandoned. docs/edge.md explains the choices where Adobe's documentation is unclear.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

import requests
import structlog

from connector import USER_AGENT
from connector.aep.base import CONFIG_ERRORS, NEVER_DEAD_LETTER, Chunk, HttpSink, NoAnswer
from connector.aep.exeg import (
    EVENT_CODES,
    EdgeAction,
    Problem,
    classify,
    fatal_reason,
    parse_problem,
    parse_success,
    retry_cause,
)
from connector.aep.ratelimit import TokenBucket
from connector.aep.responses import retry_after
from connector.config import AepSettings
from connector.errors import DeliveryAbandoned, FatalError, RejectedError, RetriableError, RetryAfterError
from connector.observability.delivery_log import DeliveryEvents
from connector.observability.metrics import EDGE_ERRORS, EDGE_REQUEST_SECONDS, EDGE_RETRIES
from connector.records import Accepted, Outcome, Route

log = structlog.get_logger(__name__)

REQUEST_UNIT_BYTES = 8 * 1024  # Adobe: a request unit is an 8 KB fragment sent to one upstream
_OPEN = b'{"events":['


def request_body(events: Sequence[bytes], meta: bytes | None = None) -> bytes:
    """`{"events":[e1,...],"meta":{...}}` with the events' bytes untouched."""
    tail = b'],"meta":' + meta + b"}" if meta else b"]}"
    return _OPEN + b",".join(events) + tail


def body_size(sizes_sum: int, count: int, meta_len: int = 0) -> int:
    """Exact length of `request_body` for `count` events whose lengths sum to `sizes_sum`."""
    tail = len(b'],"meta":}') + meta_len if meta_len else len(b"]}")
    return len(_OPEN) + sizes_sum + max(count - 1, 0) + tail


def plan_requests(
    sizes: Sequence[int], max_bytes: int, max_events: int | None, meta_len: int = 0
) -> tuple[list[list[int]], list[int]]:
    """(requests as lists of event indices in order, indices too large to send even alone)."""
    chunks: list[list[int]] = []
    too_large: list[int] = []
    current: list[int] = []
    total = 0
    for i, size in enumerate(sizes):
        if body_size(size, 1, meta_len) > max_bytes:
            too_large.append(i)
            continue
        full = max_events is not None and len(current) >= max_events
        if current and (full or body_size(total + size, len(current) + 1, meta_len) > max_bytes):
            chunks.append(current)
            current, total = [], 0
        current.append(i)
        total += size
    if current:
        chunks.append(current)
    return chunks, too_large


@dataclass(frozen=True, slots=True)
class _Reply:
    status: int
    body: bytes
    retry_after: float | None


class EdgeSink(HttpSink):
    """Implements connector.interfaces.Sink for Edge routes over one pooled Session; safe from many threads."""

    def configure(self, aep: AepSettings) -> None:
        self.events = DeliveryEvents(prefix="edge")  # retries, throttling, 401s and splits, rate-limited
        self.edge = aep.edge
        self.api_key = aep.api_key or aep.auth.client_id or None
        rate = aep.edge.request_units_per_s
        burst = max(rate or 0.0, 8.0 * aep.edge.upstreams)
        self._units = TokenBucket(rate, burst, self.clock) if rate else None

    def deliver(self, route: Route, messages: Sequence[bytes], cancel: threading.Event) -> list[Outcome]:
        if not messages:
            return []
        if not route.datastream_id:
            raise FatalError(f"route {route.inlet_url} has no datastream id")
        if route.authenticated and self.tokens is None:
            raise FatalError("the Edge Network route is authenticated but aep.auth is not enabled")
        return _EdgeDelivery(self, route, messages, cancel).run()

    @staticmethod
    def url(route: Route) -> str:
        return f"{route.inlet_url}?datastreamId={quote(route.datastream_id or '', safe='')}"

    def headers(self, route: Route, token: str | None) -> dict[str, str]:
        out = {"User-Agent": USER_AGENT, **dict(route.extra_headers), "Content-Type": "application/json"}
        if token is not None:
            out["Authorization"] = f"Bearer {token}"
            if self.api_key:
                out["x-api-key"] = self.api_key
            if route.ims_org:
                out["x-gw-ims-org-id"] = route.ims_org
        return out

    def throttle(self, nbytes: int, cancel: threading.Event) -> None:
        """Wait for the request-unit budget: ceil(bytes / 8 KB) units per upstream of the datastream."""
        if self._units is not None:
            units = -(-nbytes // REQUEST_UNIT_BYTES) * self.edge.upstreams
            self.wait(self._units.reserve(units), cancel)

    def post(self, url: str, body: bytes, headers: dict[str, str], count: int) -> _Reply:
        """One HTTP request; no answer raises NoAnswer, a malformed URL FatalError."""
        started = self.clock.monotonic()
        try:
            response = self.session.post(
                url, data=body, headers=headers, timeout=self._timeout, verify=self._verify, allow_redirects=False
            )
        except requests.Timeout as exc:
            raise self._no_answer("timeout", exc, url, count, started) from None
        except CONFIG_ERRORS as exc:
            raise FatalError(f"cannot send to the Edge Network at {url}: {type(exc).__name__}") from None
        except requests.RequestException as exc:
            raise self._no_answer("connection", exc, url, count, started) from None
        elapsed = self.clock.monotonic() - started
        EDGE_REQUEST_SECONDS.labels(status=str(response.status_code)).observe(elapsed)
        reply = _Reply(
            response.status_code, response.content, retry_after(response.headers.get("Retry-After"), self.clock.time())
        )
        log.debug("edge_request", url=url, status=reply.status, events=count, bytes=len(body), ms=round(elapsed * 1000))
        return reply

    def _no_answer(self, cause: str, exc: Exception, url: str, count: int, started: float) -> NoAnswer:
        elapsed = self.clock.monotonic() - started
        EDGE_REQUEST_SECONDS.labels(status="error").observe(elapsed)
        log.debug("edge_request", url=url, status="error", cause=cause, events=count, ms=round(elapsed * 1000))
        return NoAnswer(cause, f"{type(exc).__name__}: {self.scrub(str(exc))}"[:500])


class _EdgeDelivery:
    """The state of one `deliver` call."""

    def __init__(self, sink: EdgeSink, route: Route, messages: Sequence[bytes], cancel: threading.Event) -> None:
        self.sink = sink
        self.route = route
        self.url = sink.url(route)
        self.messages = messages
        self.meta = route.edge_meta.encode() if route.edge_meta else None
        self.cancel = cancel
        self.outcomes: list[Outcome | None] = [None] * len(messages)
        self.unrecognised: set[int] = set()  # dead-lettered after a 4xx whose code is no known input error
        self.named: set[int] = set()  # events sent alone because a refusal named their index
        self.trust_index = True
        self.notes: Counter[str] = Counter()  # EXEG codes of 2xx warnings and accepted 207 errors
        self.requests = 0
        self.exhausted_logged = False
        self.auth_failed_logged = False

    def run(self) -> list[Outcome]:
        started = self.sink.clock.monotonic()
        edge = self.sink.edge
        sizes = [len(m) for m in self.messages]
        planned, too_large = plan_requests(sizes, edge.max_request_bytes, edge.max_events, len(self.meta or b""))
        for i in too_large:
            self.outcomes[i] = RejectedError(
                "too-large",
                f"the event is {sizes[i]} bytes; the Edge Network accepts at most "
                f"{edge.max_request_bytes} bytes per request (aep.edge.max_request_bytes)",
                http_status=413,
            )
        queue = deque(Chunk(c) for c in planned)
        while queue:
            chunk = queue.popleft()
            self.sink.wait(chunk.delay, self.cancel)
            queue.extendleft(reversed(self.attempt(chunk)))
        outcomes = [o for o in self.outcomes if o is not None]
        assert len(outcomes) == len(self.messages), "every event has an outcome"
        self.refuse_unrecognised(outcomes)
        accepted = sum(isinstance(o, Accepted) for o in outcomes)
        if self.notes:
            log.warning("edge_warnings", datastream=self.route.datastream_id, codes=dict(self.notes))
        log.info(
            "edge_batch_sent",
            datastream=self.route.datastream_id,
            events=len(outcomes),
            accepted=accepted,
            rejected=len(outcomes) - accepted,
            requests=self.requests,
            ms=round((self.sink.clock.monotonic() - started) * 1000),
        )
        return outcomes

    def refuse_unrecognised(self, outcomes: list[Outcome]) -> None:
        """If every event alone got a 4xx that names no known input error, the request is at fault: stop.

        Dead-lettering the whole stream would hide a wrong header, datastream or host.
        """
        if len(outcomes) > 1 and len(self.unrecognised) == len(outcomes):
            first = outcomes[0]
            detail = first.message if isinstance(first, RejectedError) else ""
            raise FatalError(
                f"the Edge Network refused each of the {len(outcomes)} events sent alone to {self.url} "
                f"({detail}): this is a request problem, not bad events"
            )

    def attempt(self, chunk: Chunk) -> list[Chunk]:
        """Send `chunk` once; settle what can be settled and return the chunks still to send, in order."""
        if self.cancel.is_set():
            raise DeliveryAbandoned("delivery cancelled")
        sink = self.sink
        body = request_body([self.messages[i] for i in chunk.indices], self.meta)
        sink.throttle(len(body), self.cancel)
        token: str | None = None
        if self.route.authenticated and sink.tokens is not None:
            try:
                token = sink.tokens.token()
            except RetriableError as exc:
                wait = exc.retry_after if isinstance(exc, RetryAfterError) else None
                return self.retry(chunk, "ims", None, wait, str(exc))
        self.requests += 1
        try:
            reply = sink.post(self.url, body, sink.headers(self.route, token), len(chunk.indices))
        except NoAnswer as failure:
            return self.retry(chunk, failure.cause, None, None, failure.detail)
        if 200 <= reply.status < 300:
            return self.succeeded(chunk, reply)
        problem = parse_problem(reply.body, reply.status)
        EDGE_ERRORS.labels(code=problem.code or f"HTTP-{reply.status}").inc()
        action = classify(reply.status, problem)
        if action is EdgeAction.BISECT:
            return self.halve(chunk, reply.status, problem, "edge-rejected")
        if action is EdgeAction.SPLIT:
            return self.halve(chunk, reply.status, problem, "too-large")
        if action is EdgeAction.REAUTH:
            return self.reauth(chunk, token, reply, problem)
        if action is EdgeAction.FATAL:
            raise FatalError(
                f"the Edge Network answered {reply.status} for datastream {self.route.datastream_id}: "
                f"{fatal_reason(reply.status, problem)} ({sink.scrub(problem.describe())})"
            )
        detail = f"HTTP {reply.status}: {sink.scrub(problem.describe())}"
        return self.retry(chunk, retry_cause(reply.status), reply.status, reply.retry_after, detail)

    def succeeded(self, chunk: Chunk, reply: _Reply) -> list[Chunk]:
        """2xx: accepted, unless a 207 names failed upstreams and the policy is to retry them."""
        answer = parse_success(reply.body)
        for p in answer.warnings + answer.errors:
            EDGE_ERRORS.labels(code=p.code or "none").inc()
        retry_upstream = self.sink.edge.on_upstream_error == "retry"
        if classify(reply.status) is EdgeAction.UPSTREAM and answer.errors and retry_upstream:
            detail = "; ".join(self.sink.scrub(p.describe()) for p in answer.errors[:3])
            return self.retry(chunk, "upstream", reply.status, reply.retry_after, f"HTTP 207: {detail}")
        self.notes.update(p.code or "none" for p in answer.warnings + answer.errors)
        if len(chunk.indices) == 1 and chunk.indices[0] in self.named:
            self.trust_index = False
        for i in chunk.indices:
            self.outcomes[i] = Accepted(answer.request_id)
        return []

    def halve(self, chunk: Chunk, status: int, problem: Problem, reason: str) -> list[Chunk]:
        if len(chunk.indices) == 1:
            index = chunk.indices[0]
            message = self.sink.scrub(problem.describe())
            self.outcomes[index] = RejectedError(reason, message, http_status=status)
            if reason == "edge-rejected" and problem.number not in EVENT_CODES:
                self.unrecognised.add(index)
            return []
        named = problem.event_index if reason == "edge-rejected" and self.trust_index else None
        if named is not None and 0 <= named < len(chunk.indices):
            # Adobe names the event ("event #3"): send it alone and its neighbours around it. Should
            # that event be accepted, the index meant something else: halve from then on.
            self.named.add(chunk.indices[named])
            parts = [chunk.indices[:named], chunk.indices[named : named + 1], chunk.indices[named + 1 :]]
        else:
            mid = len(chunk.indices) // 2
            parts = [chunk.indices[:mid], chunk.indices[mid:]]
        self.sink.events.split(self.route, status, len(chunk.indices))
        return [Chunk(part, chunk.failures, auth_retried=chunk.auth_retried) for part in parts if part]

    def reauth(self, chunk: Chunk, token: str | None, reply: _Reply, problem: Problem) -> list[Chunk]:
        tokens = self.sink.tokens
        if token is None or tokens is None:
            raise FatalError(
                f"the Edge Network answered 401 for datastream {self.route.datastream_id} "
                f"({problem.describe()}): the datastream accepts authenticated events only; enable aep.auth "
                "with OAuth server-to-server credentials (the authenticated host is server.adobedc.net)"
            )
        tokens.invalidate(token)
        if not chunk.auth_retried:
            EDGE_RETRIES.labels(cause="401").inc()
            self.sink.events.token_rejected(self.route)
            return [Chunk(chunk.indices, chunk.failures, auth_retried=True)]
        if not self.auth_failed_logged:
            log.error(
                "auth_failed",
                datastream=self.route.datastream_id,
                status=401,
                events=len(chunk.indices),
                detail=self.sink.scrub(problem.describe().replace(token, "***")),
            )
            self.auth_failed_logged = True
        return self.retry(chunk, "401", 401, reply.retry_after, "the Edge Network answered 401 with a fresh token")

    def retry(self, chunk: Chunk, cause: str, status: int | None, wait: float | None, detail: str) -> list[Chunk]:
        """Schedule `chunk` again after a backoff, or dead-letter it once retries are exhausted (opt-in)."""
        EDGE_RETRIES.labels(cause=cause).inc()
        failures = chunk.failures + 1
        delivery = self.sink.delivery
        exhausted = failures >= delivery.attempts_before_exhausted
        if exhausted and cause not in NEVER_DEAD_LETTER and delivery.on_retries_exhausted == "dead_letter":
            log.warning(
                "retries_exhausted", action="dead_letter", events=len(chunk.indices), attempts=failures,
                cause=cause, status=status, datastream=self.route.datastream_id,
            )  # fmt: skip
            message = f"Edge Network delivery gave up after {failures} attempts; last failure: {detail}"
            for i in chunk.indices:
                self.outcomes[i] = RejectedError("retries-exhausted", message, http_status=status)
            return []
        if exhausted and not self.exhausted_logged:
            log.warning(
                "retries_exhausted", action="pause", events=len(chunk.indices), attempts=failures,
                cause=cause, status=status, detail=detail, datastream=self.route.datastream_id,
            )  # fmt: skip
            self.exhausted_logged = True
        delay = self.sink.backoff.delay(failures, wait, exhausted=exhausted)
        self.sink.events.retry(self.route, cause, status, failures, delay_s=delay, retry_after_s=wait, detail=detail)
        return [Chunk(chunk.indices, failures, delay, chunk.auth_retried)]
