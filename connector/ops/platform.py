"""A small client for `platform.adobe.io` (Flow Service, Profile access): IMS token + the gateway headers.

Headers (streaming-api.md §3.3): `Authorization: Bearer <token>`, `x-api-key` (aep.api_key, else
the OAuth client_id), `x-gw-ims-org-id`, `x-sandbox-name` (the
mapping's `sandbox`, else aep.sandbox, else `prod`). Statuses are mapped
to the exception tree: 401/403 and other 4xx are FatalError (a person must fix credentials or
input), 5xx/429 and transport failures RetriableError; 404 is returned to the caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
import requests

from connector.aep.ims import TokenProvider
from connector.aep.transport import make_session, timeouts
from connector.config import AepSettings
from connector.errors import FatalError, RetriableError
from connector.observability.logging import redact_text, register_secret

_DETAIL_KEYS = ("message", "detail", "title", "errorMessage", "error_description")


class NotFound(Exception):
    """The Platform API answered 404 for this resource."""


def _describe(response: requests.Response) -> str:
    try:
        doc = orjson.loads(response.content) if response.content else None
    except orjson.JSONDecodeError:
        return redact_text(response.text[:300])
    if isinstance(doc, dict):
        parts = [str(doc[k]) for k in _DETAIL_KEYS if doc.get(k)]
        code = doc.get("error_code") or doc.get("code")
        text = ": ".join(parts) or orjson.dumps(doc)[:300].decode()
        return f"{code} {text}" if code else text
    return redact_text(response.text[:300])


class PlatformClient:
    def __init__(
        self,
        aep: AepSettings,
        session: requests.Session | None = None,
        tokens: TokenProvider | None = None,
        *,
        sandbox: str | None = None,
    ) -> None:
        """`sandbox` (a mapping's own sandbox) overrides aep.sandbox in x-sandbox-name."""
        auth = aep.auth
        if tokens is None and not (auth.client_id and auth.client_secret):
            raise FatalError(
                "the Platform APIs need OAuth credentials: set aep.auth.client_id and aep.auth.client_secret "
                "(aep.auth.enabled may stay false for an unauthenticated inlet)"
            )
        if not aep.ims_org:
            raise FatalError("the Platform APIs need aep.ims_org (the x-gw-ims-org-id header)")
        register_secret(auth.client_secret.reveal())
        self._aep = aep
        self.sandbox = sandbox or aep.sandbox or "prod"
        self._session = session or make_session(aep.transport)
        self._tokens = tokens or TokenProvider(auth, self._session, timeout=timeouts(aep.transport))
        self._timeout = timeouts(aep.transport)
        self.base = aep.platform_url.rstrip("/")

    def headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self._tokens.token()}",
            "x-api-key": self._aep.api_key or self._aep.auth.client_id,
            "x-gw-ims-org-id": self._aep.ims_org or "",
            "x-sandbox-name": self.sandbox,
            "Accept": "application/json",
        }

    def get(self, path: str, params: Mapping[str, str] | None = None, accept: str | None = None) -> Any:
        """`accept` replaces `application/json` (the Schema Registry wants e.g. xed-full)."""
        return self._call("GET", path, params=params, accept=accept)

    def post(self, path: str, body: Any) -> Any:
        return self._call("POST", path, body=body)

    def download(self, path: str, params: Mapping[str, str] | None = None) -> bytes:
        """The raw body of a GET (a Data Access file), with the same status handling as `get`."""
        return self._request("GET", path, params=params).content

    def _call(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        accept: str | None = None,
    ) -> Any:
        response = self._request(method, path, params, body, accept)
        if not response.content:
            return None
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            status = response.status_code
            raise RetriableError(f"{method} {response.url}: HTTP {status} with a body that is not JSON") from None

    def _request(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        accept: str | None = None,
    ) -> requests.Response:
        url = path if path.startswith(("http://", "https://")) else f"{self.base}{path}"
        headers = self.headers()
        if accept:
            headers["Accept"] = accept
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = orjson.dumps(body)
        try:
            response = self._session.request(
                method, url, params=params, data=data, headers=headers, timeout=self._timeout, allow_redirects=False
            )
        except requests.RequestException as exc:
            raise RetriableError(f"{method} {url}: {type(exc).__name__}: {redact_text(str(exc))}") from None
        status = response.status_code
        if status == 404:
            raise NotFound(f"{method} {url}: 404 {_describe(response)}")
        if status == 401:
            self._tokens.invalidate(headers["Authorization"].removeprefix("Bearer "))
        if status == 429 or status >= 500:
            raise RetriableError(f"{method} {url}: HTTP {status} {_describe(response)}")
        if status >= 300:
            raise FatalError(f"{method} {url}: HTTP {status} {_describe(response)}")
        return response
