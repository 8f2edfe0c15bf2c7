"""Tokens, client secrets and proxy passwords never reach the logs or exception messages."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
import requests

from connector.aep.dcs import DcsSink
from connector.aep.ims import TokenProvider
from connector.config import Secret, TransportSettings
from connector.errors import FatalError

from .fakes import (
    SECRET,
    FakeAdapter,
    FakeClock,
    Reply,
    aep_settings,
    auth_settings,
    delivery_settings,
    messages,
    ok_207,
    route,
    session_with,
    token_reply,
)

TOKEN_1 = "eyJhbGciOiJSUzI1NiJ9.first-token-value"
TOKEN_2 = "eyJhbGciOiJSUzI1NiJ9.second-token-value"
PROXY_PASSWORD = "pr0xy-pa55"


def test_full_auth_flow_logs_no_secret_and_no_token(log_output: Callable[[], str]) -> None:
    """Refresh, 401, re-auth, a failing request and a rejected IMS login log counts and ids only."""
    clock = FakeClock()
    adapter = FakeAdapter(clock)
    transport = TransportSettings(
        proxy_url="http://proxy:3128", proxy_username="u", proxy_password=Secret(PROXY_PASSWORD)
    )
    settings = aep_settings(auth=auth_settings(), transport=transport)
    session = session_with(adapter)
    sink = DcsSink(settings, delivery_settings(), session=session, clock=clock)
    adapter.queue("ims/token/v3", token_reply(TOKEN_1), token_reply(TOKEN_2), token_reply(TOKEN_2))
    adapter.queue(
        "collection/batch/0123abcd",
        Reply(401, {"status": "401", "report": {"message": f"token {TOKEN_1} expired"}}),
        Reply(401, {"status": "401", "report": {"message": f"token {TOKEN_2} rejected"}}),
        requests.ConnectionError(f"proxy http://u:{PROXY_PASSWORD}@proxy:3128 refused"),
        ok_207(2),
    )
    sink.deliver(route(authenticated=True), messages(2), threading.Event())

    tokens = TokenProvider(auth_settings(), session, clock=clock)
    adapter.queue("ims/token/v3", Reply(401, {"error": "invalid_client", "error_description": f"bad {SECRET}"}))
    with pytest.raises(FatalError) as info:
        tokens.check()

    logged = log_output()
    assert "batch_sent" in logged and "auth_failed" in logged and "token_refreshed" in logged
    for leak in (SECRET, "s3cr3t", TOKEN_1, TOKEN_2, PROXY_PASSWORD, "Bearer ey"):
        assert leak not in logged
        assert leak not in str(info.value)
