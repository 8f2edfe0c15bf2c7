"""A small Confluent Schema Registry client: schema id -> parsed Avro writer schema, cached forever.

Schema ids are immutable, so a schema fetched once is kept for the life of the process and a
registry outage only affects ids not seen before. Lookups run on the poll thread: after a failed
fetch (timeout, unreachable, 5xx, 429) the client does not ask again for a cool-down (5 s,
doubling per consecutive failure up to 60 s, at least the server's Retry-After) and fails fast
instead, so a registry that times out blocks the loop for one timeout per cool-down, not for one
timeout per partition run. Every failure is classified by what the
caller does (`classify_response` is the one place that maps an HTTP status to an error class):

    200                               the schema (references resolved, parsed with fastavro)
    404 with a Confluent error body   DecodeError "unknown-schema-id" (dead-letter the record)
    404 without one                   FatalError: the URL does not point at a registry API
    401 / 403                         FatalError: credentials or permissions
    408, 429, 5xx, connection, timeout RetriableError (RetryAfterError when Retry-After is given)
    other 4xx                         FatalError
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Self
from urllib.parse import quote, urlsplit, urlunsplit

import fastavro
import orjson
import requests
import structlog
from fastavro.schema import SchemaParseException, UnknownType

from connector.config import SchemaRegistrySettings
from connector.errors import DecodeError, FatalError, RetriableError, RetryAfterError
from connector.retry_after import parse_retry_after

log = structlog.get_logger(__name__)

ParsedSchema = Any
"""A schema as returned by `fastavro.parse_schema` (a dict, list or str)."""

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
MAX_REFERENCE_DEPTH = 32
COOL_DOWN_S = 5.0
MAX_COOL_DOWN_S = 60.0
_RETRIABLE_STATUS = frozenset({408, 425, 429})


def redact_url(url: str) -> str:
    """`url` without user info, safe to log and put in error messages."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds from a Retry-After header (seconds or HTTP date), at most MAX_SERVER_DELAY_S; None if absent."""
    return parse_retry_after(value, time.time())


def _error_code(response: requests.Response) -> int | None:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None
    code = body.get("error_code") if isinstance(body, dict) else None
    return code if isinstance(code, int) else None


def classify_response(response: requests.Response, what: str, base_url: str) -> Exception | None:
    """None for a 2xx; otherwise the exception the caller must raise for this status."""
    status = response.status_code
    if 200 <= status < 300:
        return None
    where = f"schema registry {redact_url(base_url)}"
    if status == 404:
        code = _error_code(response)
        if code is not None:
            return DecodeError("unknown-schema-id", f"{where} does not know {what} (HTTP 404, error {code})")
        return FatalError(
            f"{where} answered 404 without a registry error body for {what}: "
            "schema_registry.url must be the Confluent-compatible API root"
        )
    if status in (401, 403):
        return FatalError(
            f"{where} refused the request for {what} (HTTP {status}): check schema_registry.basic_auth_user/"
            "basic_auth_password or bearer_token and the principal's read permission"
        )
    if status in _RETRIABLE_STATUS or status >= 500:
        message = f"{where} is unavailable fetching {what} (HTTP {status})"
        retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        if retry_after is not None:
            return RetryAfterError(message, retry_after)
        return RetriableError(message)
    return FatalError(f"{where} rejected the request for {what} (HTTP {status}): {response.text[:200]}")


class RegistryClient:
    """GET {url}/schemas/ids/{id} with auth, TLS verification and timeouts; parsed schemas cached per id."""

    def __init__(
        self,
        url: str,
        *,
        session: requests.Session | None = None,
        basic_auth: tuple[str, str] | None = None,
        bearer_token: str | None = None,
        ca_bundle: str | None = None,
        timeout_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url.rstrip("/")
        self._session = session or requests.Session()
        self._session.headers["Accept"] = CONTENT_TYPE
        if basic_auth is not None:
            self._session.auth = basic_auth
        elif bearer_token:
            self._session.headers["Authorization"] = f"Bearer {bearer_token}"
        # passed per request: with REQUESTS_CA_BUNDLE set, requests ignores Session.verify
        self._verify: str | bool = ca_bundle if ca_bundle else True
        self._timeout = timeout_s
        self._schemas: dict[int, ParsedSchema] = {}
        self._lock = threading.Lock()
        self._clock = clock
        self._failures = 0  # consecutive failed fetches
        self._unavailable_until = 0.0
        self._last_error = ""
        self._secrets = tuple(s for s in (basic_auth[1] if basic_auth else None, bearer_token) if s)

    @classmethod
    def from_settings(cls, settings: SchemaRegistrySettings, session: requests.Session | None = None) -> Self:
        if not settings.url:
            raise ValueError("schema_registry.url is not set")
        basic = None
        if settings.basic_auth_user:
            password = settings.basic_auth_password.reveal() if settings.basic_auth_password else ""
            basic = (settings.basic_auth_user, password)
        token = settings.bearer_token.reveal() if settings.bearer_token else None
        return cls(
            settings.url,
            session=session,
            basic_auth=basic,
            bearer_token=token,
            ca_bundle=settings.ca_bundle,
            timeout_s=settings.timeout_s,
        )

    @property
    def url(self) -> str:
        return redact_url(self._url)

    def cached_ids(self) -> frozenset[int]:
        return frozenset(self._schemas)

    def writer_schema(self, schema_id: int) -> ParsedSchema:
        """The parsed writer schema of `schema_id`; fetched once, then served from memory."""
        try:
            return self._schemas[schema_id]
        except KeyError:
            pass
        with self._lock:
            if schema_id in self._schemas:
                return self._schemas[schema_id]
            wait = self._unavailable_until - self._clock()
            if wait > 0:
                raise RetryAfterError(
                    f"schema registry {self.url} failed a moment ago ({self._last_error}); "
                    f"schema id {schema_id} is not asked for before {wait:.1f}s",
                    wait,
                )
            try:
                body = self._get(f"/schemas/ids/{schema_id}", f"schema id {schema_id}")
                parsed = self._parse(body, f"schema id {schema_id}")
            except RetriableError as exc:
                self._cool_down(exc)
                raise
            self._failures = 0
            self._schemas[schema_id] = parsed
        log.info("schema_fetched", schema_id=schema_id, registry=self.url)
        return parsed

    def _cool_down(self, exc: RetriableError) -> None:
        self._failures += 1
        wait = min(MAX_COOL_DOWN_S, COOL_DOWN_S * 2.0 ** min(self._failures - 1, 8))
        if isinstance(exc, RetryAfterError):
            wait = max(wait, exc.retry_after)
        self._unavailable_until = self._clock() + wait
        self._last_error = str(exc)[:200]

    def check(self) -> None:
        """Raise unless the registry answers an authenticated request (for `check` and start-up)."""
        self._request("GET", "/schemas/types", "the list of schema types")  # a JSON array, not an object

    def _parse(self, body: Mapping[str, Any], what: str) -> ParsedSchema:
        schema_type = body.get("schemaType") or "AVRO"
        if schema_type != "AVRO":
            raise DecodeError("unsupported-schema-type", f"{what} is a {schema_type} schema, not Avro")
        named: dict[str, Any] = {}
        self._load_references(body, what, named, set(), 0)
        try:
            schema = orjson.loads(body["schema"])
            return fastavro.parse_schema(schema, named_schemas=named)
        except (KeyError, TypeError, orjson.JSONDecodeError, SchemaParseException, UnknownType, ValueError) as exc:
            raise DecodeError("invalid-schema", f"{what} is not a valid Avro schema: {exc}") from None

    def _load_references(
        self, body: Mapping[str, Any], what: str, named: dict[str, Any], seen: set[tuple[str, int]], depth: int
    ) -> None:
        """Parse referenced schemas (depth first) into `named` so the referring schema can use their types."""
        for ref in body.get("references") or ():
            try:
                key = (str(ref["subject"]), int(ref["version"]))
            except (KeyError, TypeError, ValueError):
                raise DecodeError("invalid-schema", f"{what} has a malformed schema reference: {ref!r}") from None
            if key in seen:
                continue
            seen.add(key)
            if depth >= MAX_REFERENCE_DEPTH:
                raise DecodeError("invalid-schema", f"{what}: schema references nest deeper than {MAX_REFERENCE_DEPTH}")
            ref_what = f"reference {key[0]} v{key[1]} of {what}"
            ref_body = self._get(f"/subjects/{quote(key[0], safe='')}/versions/{key[1]}", ref_what)
            self._load_references(ref_body, what, named, seen, depth + 1)
            try:
                fastavro.parse_schema(orjson.loads(ref_body["schema"]), named_schemas=named)
            except (KeyError, TypeError, orjson.JSONDecodeError, SchemaParseException, UnknownType, ValueError) as exc:
                raise DecodeError("invalid-schema", f"{ref_what} is not a valid Avro schema: {exc}") from None

    def _get(self, path: str, what: str) -> dict[str, Any]:
        body = self._request("GET", path, what)
        if not isinstance(body, dict):
            raise RetriableError(f"schema registry {self.url} sent a body that is not a JSON object for {what}")
        return body

    def _request(self, method: str, path: str, what: str, payload: Any = None) -> Any:
        """One request; the JSON answer, or the exception `classify_response` names (RetriableError if not JSON)."""
        try:
            response = self._session.request(
                method, self._url + path, json=payload, timeout=(self._timeout, self._timeout), verify=self._verify
            )
        except requests.exceptions.SSLError as exc:
            text = self._scrub(str(exc))
            if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
                raise FatalError(
                    f"schema registry {self.url}: TLS certificate verification failed ({text}); "
                    "set schema_registry.ca_bundle to the CA that signed the registry's certificate"
                ) from None
            raise RetriableError(f"schema registry {self.url}: TLS error fetching {what}: {text}") from None
        except requests.exceptions.InvalidURL as exc:
            raise FatalError(f"schema registry url {self.url} is invalid: {self._scrub(str(exc))}") from None
        except requests.RequestException as exc:
            kind = "timed out" if isinstance(exc, requests.Timeout) else "is unreachable"
            raise RetriableError(
                f"schema registry {self.url} {kind} fetching {what}: {type(exc).__name__}: {self._scrub(str(exc))}"
            ) from None
        error = classify_response(response, what, self._url)
        if error is not None:
            raise error
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise RetriableError(f"schema registry {self.url} sent a body that is not JSON for {what}") from None

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return re.sub(r"//[^/@\s]+@", "//", text)


SchemaLookup = Callable[[int], ParsedSchema]
"""`RegistryClient.writer_schema` or a test double: schema id -> parsed writer schema."""
