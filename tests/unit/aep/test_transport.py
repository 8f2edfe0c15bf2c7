"""The Session: pool size, TLS always verified, proxy from config (with credentials) wins over the environment."""

from __future__ import annotations

import pytest
from requests.adapters import HTTPAdapter

from connector import USER_AGENT
from connector.aep.transport import make_session, proxy_url, timeouts, verify
from connector.config import Secret, TransportSettings


def test_pool_and_defaults() -> None:
    """Both schemes share an adapter whose pool holds pool_size connections, with no hidden retries."""
    session = make_session(TransportSettings(pool_size=12))
    adapter = session.get_adapter("https://dcs.adobedc.net/collection/x")
    assert isinstance(adapter, HTTPAdapter)
    assert adapter._pool_maxsize == 12  # type: ignore[attr-defined]
    assert adapter.max_retries.total == 0
    assert session.headers["User-Agent"] == USER_AGENT
    assert session.verify is True


def test_ca_bundle_replaces_the_trust_store_but_never_disables_verification() -> None:
    """verify is the CA bundle path when given, else True; never False."""
    assert verify(TransportSettings()) is True
    assert verify(TransportSettings(ca_bundle="/etc/corp-ca.pem")) == "/etc/corp-ca.pem"
    assert make_session(TransportSettings(ca_bundle="/etc/corp-ca.pem")).verify == "/etc/corp-ca.pem"


def test_timeouts() -> None:
    """(connect, read) from the settings."""
    assert timeouts(TransportSettings(connect_timeout_s=2.0, read_timeout_s=9.0)) == (2.0, 9.0)


def test_proxy_credentials_are_percent_encoded_into_the_url() -> None:
    """proxy_username/proxy_password go into the proxy URL, encoded."""
    t = TransportSettings(proxy_url="http://proxy.corp:3128", proxy_username="me@corp", proxy_password=Secret("p:w@d"))
    assert proxy_url(t) == "http://me%40corp:p%3Aw%40d@proxy.corp:3128"
    assert proxy_url(TransportSettings(proxy_url="http://proxy.corp:3128")) == "http://proxy.corp:3128"
    assert proxy_url(TransportSettings()) is None


def test_configured_proxy_wins_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a configured proxy, HTTPS_PROXY in the environment is ignored; the environment is not modified."""
    monkeypatch.setenv("HTTPS_PROXY", "http://env-proxy:1")
    monkeypatch.setenv("HTTP_PROXY", "http://env-proxy:1")
    session = make_session(TransportSettings(proxy_url="http://proxy.corp:3128"))
    settings = session.merge_environment_settings("https://dcs.adobedc.net/collection/x", {}, None, None, None)
    assert settings["proxies"]["https"] == "http://proxy.corp:3128"
    assert session.proxies == {"http": "http://proxy.corp:3128", "https": "http://proxy.corp:3128"}


def test_environment_proxy_and_ca_bundle_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    """Proxies and CA bundles come from the config only (`proxy_url: ${HTTPS_PROXY}` opts in)."""
    monkeypatch.setenv("HTTPS_PROXY", "http://env-proxy:1")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nowhere.pem")
    session = make_session(TransportSettings())
    settings = session.merge_environment_settings("https://dcs.adobedc.net/collection/x", {}, None, None, None)
    assert "https" not in settings["proxies"]
    assert settings["verify"] is True
