"""IMS tokens and authenticated inlets."""

from __future__ import annotations

import pytest
import requests

from connector.emulator import EmulatorOptions, EmulatorServer
from tests.integration.emulator.tutorial import envelope

pytestmark = pytest.mark.integration
MSG = envelope("https://ns.adobe.com/acme/schemas/1", "ds", {"_id": "p1", "person": {"name": {"firstName": "A"}}})


def _token(server: EmulatorServer, **params: str) -> requests.Response:
    data = {"grant_type": "client_credentials", "client_id": "cid", "client_secret": "secret", "scope": "openid"}
    data.update(params)
    return requests.post(f"{server.url}/ims/token/v3", data=data, timeout=5)


def test_token_response_shape(emulator: EmulatorServer) -> None:
    """client_credentials gives {access_token, token_type: bearer, expires_in seconds}."""
    emulator.add_client("cid", "secret")
    body = _token(emulator).json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 86399


def test_token_params_in_query(emulator: EmulatorServer) -> None:
    """Parameters may also come as query parameters."""
    emulator.add_client("cid", "secret")
    params = {"grant_type": "client_credentials", "client_id": "cid", "client_secret": "secret"}
    response = requests.post(f"{emulator.url}/ims/token/v3", params=params, timeout=5)
    assert response.status_code == 200


def test_token_errors(emulator: EmulatorServer) -> None:
    """Wrong secret -> 401 invalid_client; missing parameter -> 400 invalid_request."""
    emulator.add_client("cid", "secret")
    wrong = _token(emulator, client_secret="nope")
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"
    assert "error_description" in wrong.json()
    missing = requests.post(f"{emulator.url}/ims/token/v3", data={"client_id": "cid"}, timeout=5)
    assert missing.status_code == 400
    assert missing.json()["error"] == "invalid_request"


def test_authenticated_inlet_token_lifecycle(emulator: EmulatorServer) -> None:
    """No token, a bad token and an expired token get 401; a fresh IMS token gets 200."""
    emulator.add_client("cid", "secret")
    url = emulator.inlet_url(emulator.create_inlet(authenticated=True))
    assert requests.post(url, json=MSG, timeout=5).status_code == 401
    bad = requests.post(url, json=MSG, headers={"Authorization": "Bearer forged"}, timeout=5)
    assert bad.status_code == 401
    assert bad.json()["status"] == "401"
    token = _token(emulator).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    assert requests.post(url, json=MSG, headers=auth, timeout=5).status_code == 200
    assert emulator.store.records()[0]["authenticated"] is True
    requests.post(f"{emulator.url}/emulator/tokens/expire", timeout=5).raise_for_status()
    assert requests.post(url, json=MSG, headers=auth, timeout=5).status_code == 401
    fresh = {"Authorization": f"Bearer {_token(emulator).json()['access_token']}"}
    assert requests.post(url, json=MSG, headers=fresh, timeout=5).status_code == 200


def test_token_ttl_is_configurable() -> None:
    """expires_in follows token_ttl_s, and a token past it is rejected."""
    with EmulatorServer(options=EmulatorOptions(token_ttl_s=0)) as server:
        server.add_client("cid", "secret")
        body = _token(server).json()
        url = server.inlet_url(server.create_inlet(authenticated=True))
        response = requests.post(url, json=MSG, headers={"Authorization": f"Bearer {body['access_token']}"}, timeout=5)
    assert body["expires_in"] == 0
    assert response.status_code == 401


def test_unauthenticated_inlet_ignores_bad_token(emulator: EmulatorServer) -> None:
    """An unauthenticated inlet publishes even with an invalid token (authenticated=false)."""
    url = emulator.inlet_url(emulator.create_inlet())
    response = requests.post(url, json=MSG, headers={"Authorization": "Bearer forged"}, timeout=5)
    assert response.status_code == 200
    assert emulator.store.records()[0]["authenticated"] is False
