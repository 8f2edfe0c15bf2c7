"""The one requests Session the sink and the token provider share: pooled, verified, proxied per config."""

from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

from connector import USER_AGENT
from connector.config import TransportSettings


def timeouts(transport: TransportSettings) -> tuple[float, float]:
    """(connect, read) seconds, passed on every request."""
    return (transport.connect_timeout_s, transport.read_timeout_s)


def verify(transport: TransportSettings) -> str | bool:
    """TLS verification is always on; a CA bundle only changes what is trusted."""
    return transport.ca_bundle or True


def proxy_url(transport: TransportSettings) -> str | None:
    """The configured proxy with its credentials (percent-encoded) in the URL, or None."""
    if not transport.proxy_url:
        return None
    if not transport.proxy_username:
        return transport.proxy_url
    parts = urlsplit(transport.proxy_url)
    host = parts.netloc.rpartition("@")[2]
    user = quote(transport.proxy_username, safe="")
    password = transport.proxy_password.reveal() if transport.proxy_password else ""
    userinfo = f"{user}:{quote(password, safe='')}" if password else user
    return urlunsplit((parts.scheme, f"{userinfo}@{host}", parts.path, parts.query, parts.fragment))


def make_session(transport: TransportSettings) -> requests.Session:
    """A keep-alive Session with a pool of `pool_size` connections per host and no hidden retries.

    `trust_env` is off: proxies and CA bundles come from the connector's config only, so
    HTTP(S)_PROXY or REQUESTS_CA_BUNDLE in the environment cannot override them (requests lets
    environment proxies win over session ones), and requests does not re-read the environment
    and ~/.netrc on every request. The process environment is never modified.
    """
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=transport.pool_size, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    session.verify = verify(transport)
    session.trust_env = False
    proxy = proxy_url(transport)
    if proxy:
        session.proxies = {"http": proxy, "https": proxy}
    return session
