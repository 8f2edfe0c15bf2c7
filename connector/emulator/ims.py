"""IMS OAuth server-to-server tokens (`/ims/token/v3`) and the Platform gateway's header checks."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from connector.emulator.config import DEFAULT_SCOPES, EmulatorOptions
from connector.emulator.http import Request, Response, json_response
from connector.emulator.store import MemoryStore

CLIENTS = "clients"
TOKENS = "tokens"


def _oauth_error(status: int, error: str, description: str) -> Response:
    return json_response(status, {"error": error, "error_description": description})


def gateway_error(status: int, code: str, message: str) -> Response:
    return json_response(status, {"error_code": code, "message": message})


class Ims:
    """Issues opaque bearer tokens for configured clients and checks them."""

    def __init__(self, store: MemoryStore, options: EmulatorOptions, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.options = options
        self.clock = clock

    def add_client(self, client_id: str, client_secret: str, org: str, scopes: str = DEFAULT_SCOPES) -> None:
        self.store.put(
            CLIENTS, client_id, {"client_id": client_id, "client_secret": client_secret, "org": org, "scopes": scopes}
        )

    def issue(self, client_id: str) -> dict[str, Any]:
        client = self.store.get(CLIENTS, client_id) or {}
        token = secrets.token_urlsafe(48)
        ttl = self.options.token_ttl_s
        self.store.put(
            TOKENS,
            token,
            {
                "client_id": client_id,
                "org": client.get("org", self.options.default_org),
                "expires_at": self.clock() + ttl,
            },
        )
        return {"access_token": token, "token_type": "bearer", "expires_in": ttl}

    def token_endpoint(self, req: Request) -> Response:
        """`POST /ims/token/v3` (and v2): form-encoded, parameters in the body or the query string."""
        params = {k: v[0] for k, v in req.query.items() if v}
        if req.body:
            form = parse_qs(req.body.decode("utf-8", "replace"), keep_blank_values=True)
            params.update({k: v[0] for k, v in form.items() if v})
        missing = [p for p in ("grant_type", "client_id", "client_secret") if not params.get(p)]
        if missing:
            return _oauth_error(400, "invalid_request", f"missing required parameter(s): {', '.join(missing)}")
        if params["grant_type"] != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type", f"grant_type {params['grant_type']} is not supported")
        client = self.store.get(CLIENTS, params["client_id"])
        if client is None or not secrets.compare_digest(str(client["client_secret"]), params["client_secret"]):
            return _oauth_error(401, "invalid_client", "invalid client_id or client_secret")
        return json_response(200, self.issue(params["client_id"]))

    def token_info(self, token: str | None) -> dict[str, Any] | None:
        """The token's {client_id, org, expires_at} when it was issued here and has not expired."""
        if not token:
            return None
        info = self.store.get(TOKENS, token)
        if info is None or float(info["expires_at"]) <= self.clock():
            return None
        return info

    def expire_all(self) -> int:
        now = self.clock()
        tokens = self.store.items(TOKENS)
        for token, info in tokens:
            self.store.put(TOKENS, token, {**info, "expires_at": min(float(info["expires_at"]), now - 1)})
        return len(tokens)

    def gateway(self, req: Request) -> tuple[Response | None, dict[str, Any]]:
        """Platform headers (§3.3): returns (error response or None, caller info incl. org and sandbox)."""
        sandbox = req.header("x-sandbox-name")
        if not self.options.platform_auth:
            return None, {
                "org": req.header("x-gw-ims-org-id") or self.options.default_org,
                "sandbox": sandbox or "prod",
                "client_id": req.header("x-api-key") or "emulator",
            }
        token = req.bearer()
        if not token:
            return gateway_error(403, "403010", "Oauth token is missing."), {}
        info = self.token_info(token)
        if info is None:
            return gateway_error(401, "401013", "Oauth token is not valid"), {}
        api_key = req.header("x-api-key")
        if not api_key:
            return gateway_error(403, "403000", "Api Key is required"), {}
        if self.store.get(CLIENTS, api_key) is None:
            return gateway_error(403, "403003", "Api Key is invalid"), {}
        org = req.header("x-gw-ims-org-id")
        if not org or (self.options.require_sandbox_header and not sandbox):
            return gateway_error(400, "400003", "Missing header"), {}
        if org != info["org"]:
            return gateway_error(403, "403025", "Profile is not valid"), {}
        return None, {"org": org, "sandbox": sandbox or "prod", "client_id": api_key}
