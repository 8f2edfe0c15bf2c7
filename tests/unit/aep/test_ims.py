"""TokenProvider: caching, early refresh, one refresh across threads, clear errors without secrets."""

from __future__ import annotations

import threading
import time
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
from requests.models import PreparedRequest

from connector.aep.ims import TokenProvider
from connector.errors import FatalError, RetriableError, RetryAfterError

from .fakes import SECRET, FakeAdapter, FakeClock, Reply, auth_settings, session_with, token_reply

IMS = "ims/token/v3"


def provider(**auth: Any) -> tuple[TokenProvider, FakeAdapter, FakeClock]:
    clock = FakeClock()
    adapter = FakeAdapter(clock)
    return TokenProvider(auth_settings(**auth), session_with(adapter), clock=clock), adapter, clock


def test_posts_url_encoded_client_credentials_with_configured_scopes() -> None:
    """The form body is URL-encoded (a secret with & + = survives) and carries the configured scopes."""
    tokens, adapter, _ = provider(scopes=("openid", "AdobeID"))
    adapter.queue(IMS, token_reply("tok"))
    assert tokens.token() == "tok"
    (seen,) = adapter.seen
    assert seen.headers["Content-Type"] == "application/x-www-form-urlencoded"
    form = parse_qs(seen.body.decode())
    assert form == {
        "grant_type": ["client_credentials"],
        "client_id": ["client-1"],
        "client_secret": [SECRET],
        "scope": ["openid,AdobeID"],
    }
    assert seen.timeout == (5.0, 30.0)


def test_token_is_cached_until_refresh_margin_before_expiry() -> None:
    """expires_in is seconds: with a 300 s margin a 3600 s token is reused until 3300 s, then refreshed."""
    tokens, adapter, clock = provider()
    adapter.queue(IMS, token_reply("tok-1", 3600), token_reply("tok-2", 3600))
    assert tokens.token() == "tok-1"
    clock.advance(3299)
    assert tokens.token() == "tok-1"
    clock.advance(1)
    assert tokens.token() == "tok-2"
    assert len(adapter.seen) == 2


def test_short_lived_token_is_refreshed_at_half_life() -> None:
    """A token shorter-lived than the margin is refreshed at half its lifetime, not on every call."""
    tokens, adapter, clock = provider()
    adapter.queue(IMS, token_reply("tok-1", 60), token_reply("tok-2", 60))
    assert tokens.token() == "tok-1"
    clock.advance(29)
    assert tokens.token() == "tok-1"
    clock.advance(1)
    assert tokens.token() == "tok-2"


def test_failed_early_refresh_keeps_the_still_valid_token() -> None:
    """IMS down during the refresh window: the old token is used until it really expires."""
    tokens, adapter, clock = provider()
    adapter.queue(IMS, token_reply("tok-1", 3600), Reply(503), Reply(503))
    tokens.token()
    clock.advance(3400)
    assert tokens.token() == "tok-1"
    clock.advance(200)
    with pytest.raises(RetriableError):
        tokens.token()


def test_only_one_refresh_with_8_threads_racing() -> None:
    """Eight threads asking at once for a token cause exactly one IMS request."""
    clock = FakeClock()
    adapter = FakeAdapter(clock)
    calls = 0

    def ims(_: PreparedRequest) -> Reply:
        nonlocal calls
        calls += 1
        time.sleep(0.05)
        return token_reply(f"tok-{calls}")

    adapter.route(IMS, ims)
    tokens = TokenProvider(auth_settings(), session_with(adapter), clock=clock)
    barrier = threading.Barrier(8)
    got: list[str] = []

    def ask() -> None:
        barrier.wait()
        got.append(tokens.token())

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == 1
    assert got == ["tok-1"] * 8


def test_only_one_refresh_with_8_threads_racing_in_the_refresh_window() -> None:
    """In the refresh window one thread refreshes while the others keep using the valid token."""
    clock = FakeClock()
    adapter = FakeAdapter(clock)
    calls = 0

    def ims(_: PreparedRequest) -> Reply:
        nonlocal calls
        calls += 1
        time.sleep(0.05)
        return token_reply(f"tok-{calls}", 3600)

    adapter.route(IMS, ims)
    tokens = TokenProvider(auth_settings(), session_with(adapter), clock=clock)
    tokens.token()
    clock.advance(3400)
    barrier = threading.Barrier(8)
    got: list[str] = []

    def ask() -> None:
        barrier.wait()
        got.append(tokens.token())

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == 2
    assert set(got) <= {"tok-1", "tok-2"} and "tok-2" in got
    assert tokens.token() == "tok-2"


def test_invalidate_forces_a_new_token_only_for_the_cached_one() -> None:
    """invalidate(old) after a newer token was fetched does not throw the newer one away."""
    tokens, adapter, _ = provider()
    adapter.queue(IMS, token_reply("tok-1"), token_reply("tok-2"))
    assert tokens.token() == "tok-1"
    tokens.invalidate("tok-1")
    assert tokens.token() == "tok-2"
    tokens.invalidate("tok-1")
    assert tokens.token() == "tok-2"
    assert len(adapter.seen) == 2


@pytest.mark.parametrize("status", [400, 401])
def test_wrong_credentials_are_fatal_without_the_secret(status: int) -> None:
    """IMS 400/401 -> FatalError naming the client id and the IMS error, never the secret."""
    tokens, adapter, _ = provider()
    description = f"invalid client_secret={SECRET} for client"
    adapter.queue(IMS, Reply(status, {"error": "invalid_client", "error_description": description}))
    with pytest.raises(FatalError) as info:
        tokens.check()
    text = str(info.value)
    assert "client-1" in text and "invalid_client" in text
    assert SECRET not in text and "s3cr3t" not in text


def test_ims_5xx_and_unreachable_are_retriable() -> None:
    """IMS 5xx (with Retry-After) and connection failures are transient."""
    tokens, adapter, _ = provider()
    adapter.queue(IMS, Reply(503, None, {"Retry-After": "4"}), requests.ConnectionError("refused"), Reply(500))
    with pytest.raises(RetryAfterError) as info:
        tokens.check()
    assert info.value.retry_after == 4.0
    with pytest.raises(RetriableError, match="unreachable"):
        tokens.check()
    with pytest.raises(RetriableError, match="HTTP 500"):
        tokens.check()


def test_200_without_access_token_is_retriable() -> None:
    """A 200 that carries no token is treated as an IMS hiccup."""
    tokens, adapter, _ = provider()
    adapter.queue(IMS, Reply(200, {"token_type": "bearer"}))
    with pytest.raises(RetriableError, match="without an access_token"):
        tokens.token()


def test_expires_in_missing_or_string_is_tolerated() -> None:
    """expires_in as a string is read as seconds; missing falls back to one hour."""
    tokens, adapter, clock = provider(refresh_margin_s=0.0)
    adapter.queue(IMS, Reply(200, {"access_token": "a", "expires_in": "120"}), Reply(200, {"access_token": "b"}))
    assert tokens.token() == "a"
    clock.advance(120)
    assert tokens.token() == "b"
    clock.advance(3599)
    assert tokens.token() == "b"
