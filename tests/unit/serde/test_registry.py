"""The schema registry client: caching, auth, TLS, timeouts and the status -> error classes."""

from __future__ import annotations

import base64
import json

import pytest
import requests

from connector.config import SchemaRegistrySettings, Secret
from connector.errors import DecodeError, FatalError, RetriableError, RetryAfterError
from connector.serde.avro import decode_framed
from connector.serde.registry import RegistryClient, redact_url
from tests.unit.serde.fakes import REGISTRY_URL, FakeRegistry, client_for, framed, response

RECORD = {"type": "record", "name": "R", "fields": [{"name": "a", "type": "int"}]}


def registry_with_record() -> FakeRegistry:
    fake = FakeRegistry()
    fake.add(7, RECORD)
    return fake


def test_fetches_parses_and_caches_each_id_once() -> None:
    """A schema id is fetched once; later lookups come from memory."""
    fake = registry_with_record()
    client = client_for(fake)
    first = client.writer_schema(7)
    for _ in range(5):
        assert client.writer_schema(7) is first
    assert len(fake.seen) == 1
    assert fake.seen[0].url == f"{REGISTRY_URL}/schemas/ids/7"
    assert first["name"] == "R"
    assert client.cached_ids() == frozenset({7})


def test_cached_ids_keep_working_when_the_registry_is_down() -> None:
    """Ids are immutable: an outage only affects ids not seen before."""
    fake = registry_with_record()
    fake.add(8, RECORD)
    client = client_for(fake)
    client.writer_schema(7)
    fake.fault = lambda _r: requests.ConnectionError("connection refused")
    assert client.writer_schema(7)["name"] == "R"
    with pytest.raises(RetriableError):
        client.writer_schema(8)


def test_unknown_id_is_a_decode_error() -> None:
    """404 with the registry's error body: the record names a schema that does not exist."""
    with pytest.raises(DecodeError) as info:
        client_for(FakeRegistry()).writer_schema(99)
    assert info.value.reason == "unknown-schema-id"
    assert "99" in info.value.message


def test_404_without_registry_body_is_fatal() -> None:
    """A bare 404 means the URL is not a registry API root; dead-lettering everything would be wrong."""
    fake = FakeRegistry(fault=lambda _r: response(404))
    with pytest.raises(FatalError, match="API root"):
        client_for(fake).writer_schema(1)


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failures_are_fatal_without_secrets(status: int) -> None:
    """401/403 stop the worker with a clear message that never shows the credentials."""
    fake = FakeRegistry(fault=lambda _r: response(status, {"error_code": 40101, "message": "nope"}))
    client = client_for(fake, basic_auth=("user", "hunter2-secret"))
    with pytest.raises(FatalError) as info:
        client.writer_schema(1)
    assert f"HTTP {status}" in str(info.value)
    assert "hunter2-secret" not in str(info.value)


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429, 408])
def test_server_errors_and_throttling_are_retriable(status: int) -> None:
    """5xx, 429 and 408 are transient: retry later, never dead-letter."""
    fake = FakeRegistry(fault=lambda _r: response(status))
    with pytest.raises(RetriableError) as info:
        client_for(fake).writer_schema(1)
    assert not isinstance(info.value, RetryAfterError)


def test_retry_after_is_carried() -> None:
    """A Retry-After in seconds becomes RetryAfterError.retry_after."""
    fake = FakeRegistry(fault=lambda _r: response(429, headers={"Retry-After": "7"}))
    with pytest.raises(RetryAfterError) as info:
        client_for(fake).writer_schema(1)
    assert info.value.retry_after == 7.0


@pytest.mark.parametrize(
    "exc", [requests.ConnectionError("refused"), requests.ConnectTimeout("slow"), requests.ReadTimeout("slow")]
)
def test_transport_errors_are_retriable(exc: Exception) -> None:
    """Connection failures and timeouts are transient."""
    fake = FakeRegistry(fault=lambda _r: exc)
    with pytest.raises(RetriableError):
        client_for(fake).writer_schema(1)


def test_failed_certificate_verification_is_fatal() -> None:
    """An untrusted certificate will not fix itself: point at ca_bundle."""
    fake = FakeRegistry(fault=lambda _r: requests.exceptions.SSLError("[SSL: CERTIFICATE_VERIFY_FAILED] bad"))
    with pytest.raises(FatalError, match="ca_bundle"):
        client_for(fake).writer_schema(1)


def test_other_4xx_is_fatal() -> None:
    """A 400/405 is a client or configuration bug, not a record problem."""
    fake = FakeRegistry(fault=lambda _r: response(405, b"method not allowed"))
    with pytest.raises(FatalError, match="HTTP 405"):
        client_for(fake).writer_schema(1)


def test_non_json_success_body_is_retriable() -> None:
    """A 200 with an HTML body (a proxy page) is treated as a transient outage."""
    fake = FakeRegistry(fault=lambda _r: response(200, b"<html>login</html>"))
    with pytest.raises(RetriableError):
        client_for(fake).writer_schema(1)


def test_basic_auth_timeout_and_ca_bundle_reach_the_transport() -> None:
    """Basic auth header, (connect, read) timeouts and the CA bundle are sent with each request."""
    fake = registry_with_record()
    client_for(fake, basic_auth=("alice", "pw"), ca_bundle="/etc/ca.pem", timeout_s=3.5).writer_schema(7)
    seen = fake.seen[0]
    assert seen.headers["Authorization"] == "Basic " + base64.b64encode(b"alice:pw").decode()
    assert seen.timeout == (3.5, 3.5)
    assert seen.verify == "/etc/ca.pem"


def test_bearer_token_and_default_tls_verification() -> None:
    """A bearer token is sent as Authorization: Bearer; TLS verification is on by default."""
    fake = registry_with_record()
    client_for(fake, bearer_token="tok-123").writer_schema(7)
    assert fake.seen[0].headers["Authorization"] == "Bearer tok-123"
    assert fake.seen[0].verify  # True, or the environment's REQUESTS_CA_BUNDLE


def test_from_settings_uses_secrets_and_requires_url() -> None:
    """Settings carry Secret-wrapped credentials; without a url there is no client."""
    fake = registry_with_record()
    session = requests.Session()
    session.mount("http://", fake)
    settings = SchemaRegistrySettings(
        url=REGISTRY_URL, basic_auth_user="bob", basic_auth_password=Secret("pw2"), timeout_s=2.0
    )
    RegistryClient.from_settings(settings, session).writer_schema(7)
    assert fake.seen[0].headers["Authorization"] == "Basic " + base64.b64encode(b"bob:pw2").decode()
    with pytest.raises(ValueError, match="url"):
        RegistryClient.from_settings(SchemaRegistrySettings())


def test_schema_references_are_resolved() -> None:
    """A schema referring to a named type of another subject is parsed with that type."""
    fake = FakeRegistry()
    address = {"type": "record", "name": "Address", "namespace": "x", "fields": [{"name": "city", "type": "string"}]}
    fake.subjects[("address-value", 3)] = {"schema": json.dumps(address)}
    person = {"type": "record", "name": "Person", "namespace": "x", "fields": [{"name": "home", "type": "x.Address"}]}
    fake.add(5, person, references=[{"name": "x.Address", "subject": "address-value", "version": 3}])
    client = client_for(fake)
    inline = {**person, "fields": [{"name": "home", "type": address}]}  # the same bytes as the reference
    data = framed(5, inline, {"home": {"city": "Basel"}})
    assert decode_framed(data, client.writer_schema) == {"home": {"city": "Basel"}}


def test_non_avro_schema_is_a_decode_error() -> None:
    """A record framed with a Protobuf/JSON schema id cannot be read as Avro."""
    fake = FakeRegistry()
    fake.schemas[3] = {"schema": "syntax = 'proto3';", "schemaType": "PROTOBUF"}
    with pytest.raises(DecodeError) as info:
        client_for(fake).writer_schema(3)
    assert info.value.reason == "unsupported-schema-type"


def test_invalid_schema_text_is_a_decode_error() -> None:
    """A registry schema that fastavro cannot parse dead-letters its records."""
    fake = FakeRegistry()
    fake.add(4, {"type": "record", "name": "R", "fields": [{"name": "a", "type": "nope"}]})
    with pytest.raises(DecodeError) as info:
        client_for(fake).writer_schema(4)
    assert info.value.reason == "invalid-schema"


def test_messages_never_show_url_credentials() -> None:
    """User info in the registry URL is removed from messages."""
    assert redact_url("https://u:p@reg.example:8081/api") == "https://reg.example:8081/api"
    fake = FakeRegistry(fault=lambda _r: response(503))
    client = client_for(fake, url="http://user:topsecret@registry.test/apis/ccompat/v7")
    with pytest.raises(RetriableError) as info:
        client.writer_schema(1)
    assert "topsecret" not in str(info.value)


@pytest.mark.parametrize(
    ("header", "expected"), [("inf", None), ("nan", None), ("-5", 0.0), ("1e12", 300.0), ("7", 7.0)]
)
def test_registry_retry_after_is_validated_and_bounded(header: str, expected: float | None) -> None:
    """Defect 6: the registry's Retry-After is a finite delay of at most 300 s; `inf` once parked a partition."""
    fake = FakeRegistry(fault=lambda _r: response(503, {"error_code": 50301}, {"Retry-After": header}))
    with pytest.raises(RetriableError) as info:
        client_for(fake).writer_schema(1)
    if expected is None:
        assert not isinstance(info.value, RetryAfterError)
    else:
        assert isinstance(info.value, RetryAfterError) and info.value.retry_after == expected


def test_a_registry_that_times_out_is_not_asked_again_during_the_cool_down() -> None:
    """A registry that times out costs the poll thread one timeout per cool-down, not one per partition run."""
    fake = registry_with_record()
    fake.add(8, RECORD)
    fake.fault = lambda _r: requests.ReadTimeout("read timed out")
    client = client_for(fake)
    for schema_id in (7, 8, 7, 8):
        with pytest.raises(RetriableError):
            client.writer_schema(schema_id)
    assert len(fake.seen) == 1, "after the timeout, lookups fail fast without a request"


def test_the_cool_down_doubles_per_failure_and_ends_when_the_registry_answers() -> None:
    """5 s after the first failure, 10 s after the second; a success resets it and caches the schema."""
    now = [0.0]
    fake = registry_with_record()
    fake.add(8, RECORD)
    fake.fault = lambda _r: requests.ReadTimeout("read timed out")
    client = client_for(fake, clock=lambda: now[0])
    with pytest.raises(RetriableError):
        client.writer_schema(7)
    for schema_id in (7, 8, 7):
        with pytest.raises(RetryAfterError) as info:
            client.writer_schema(schema_id)
        assert 0 < info.value.retry_after <= 5.0
    assert len(fake.seen) == 1, "failing fast during the cool-down, without a request"
    now[0] += 5.0
    with pytest.raises(RetriableError):
        client.writer_schema(8)
    assert len(fake.seen) == 2
    now[0] += 9.0  # the second failure doubled the cool-down to 10 s
    with pytest.raises(RetryAfterError):
        client.writer_schema(8)
    now[0] += 1.0
    fake.fault = None
    assert client.writer_schema(8)["name"] == "R" and client.writer_schema(7)["name"] == "R"
