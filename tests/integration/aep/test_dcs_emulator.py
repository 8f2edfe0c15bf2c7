"""DcsSink and TokenProvider against the local AEP emulator over real loopback HTTP."""

from __future__ import annotations

import threading
from typing import Any

import orjson
import pytest
import requests

from connector.aep.dcs import DcsSink
from connector.aep.ims import TokenProvider
from connector.aep.transport import make_session
from connector.config import AepSettings, AuthSettings, DeliverySettings, Secret, TransportSettings
from connector.emulator.server import EmulatorServer
from connector.errors import FatalError, RejectedError
from connector.records import Accepted, Outcome, Route

pytestmark = pytest.mark.integration

CLIENT_ID = "connector-it"
CLIENT_SECRET = "it-secret-value"
SCHEMA = "https://ns.adobe.com/acme/schemas/it"
FAST = DeliverySettings(initial_backoff_ms=5, max_backoff_ms=50, attempts_before_exhausted=5)


@pytest.fixture
def emulator(emulator: EmulatorServer) -> EmulatorServer:
    """The shared emulator, with this module's IMS client."""
    emulator.add_client(CLIENT_ID, CLIENT_SECRET)
    return emulator


def envelope(i: int, **header: Any) -> bytes:
    ref = {"id": SCHEMA, "contentType": "application/vnd.adobe.xed-full+json;version=1"}
    entity = {"_id": f"evt-{i}", "timestamp": "2024-05-01T10:00:00Z", "eventType": "loyaltyBalanceUpdate"}
    return orjson.dumps(
        {"header": {"schemaRef": ref, **header}, "body": {"xdmMeta": {"schemaRef": ref}, "xdmEntity": entity}}
    )


def auth(server: EmulatorServer, secret: str = CLIENT_SECRET) -> AuthSettings:
    return AuthSettings(
        enabled=True, token_url=f"{server.url}/ims/token/v3", client_id=CLIENT_ID, client_secret=Secret(secret)
    )


def sink_for(
    server: EmulatorServer, *, authenticated: bool, delivery: DeliverySettings = FAST
) -> tuple[DcsSink, Route]:
    inlet = server.create_inlet(authenticated=authenticated)
    url = server.inlet_url(inlet)
    settings = AepSettings(inlet_url=url, auth=auth(server) if authenticated else AuthSettings())
    return DcsSink(settings, delivery), Route(url, authenticated=authenticated)


def stats(server: EmulatorServer) -> dict[str, Any]:
    doc: dict[str, Any] = requests.get(f"{server.url}/emulator/stats", timeout=5).json()
    return doc


def accepted(outcomes: list[Outcome]) -> int:
    return sum(isinstance(o, Accepted) for o in outcomes)


def test_authenticated_inlet_end_to_end(emulator: EmulatorServer) -> None:
    """A token from the emulator's IMS opens an authenticated inlet; every message is accepted and stored."""
    sink, route = sink_for(emulator, authenticated=True)
    out = sink.deliver(route, [envelope(i) for i in range(50)], threading.Event())
    assert accepted(out) == 50
    assert stats(emulator)["totals"]["accepted"] == 50
    sink.close()


def test_token_refreshed_after_forced_expiry(emulator: EmulatorServer) -> None:
    """After IMS expires every token, the 401 leads to a fresh token and the batch is still delivered."""
    sink, route = sink_for(emulator, authenticated=True)
    assert sink.tokens is not None
    assert accepted(sink.deliver(route, [envelope(0)], threading.Event())) == 1
    before = sink.tokens.token()
    requests.post(f"{emulator.url}/emulator/tokens/expire", timeout=5).raise_for_status()
    assert accepted(sink.deliver(route, [envelope(i) for i in range(1, 11)], threading.Event())) == 10
    assert sink.tokens.token() != before
    assert stats(emulator)["totals"]["requests_by_status"].get("401") == 1


def test_wrong_credentials_are_fatal_at_check(emulator: EmulatorServer) -> None:
    """check() against the emulator's IMS with a wrong secret fails fast without echoing the secret."""
    tokens = TokenProvider(auth(emulator, secret="wrong-secret-xyz"), make_session(TransportSettings()))
    with pytest.raises(FatalError) as info:
        tokens.check()
    assert "wrong-secret-xyz" not in str(info.value) and "invalid_client" in str(info.value)


def test_mixed_207_and_a_bisected_400(emulator: EmulatorServer) -> None:
    """Invalid envelopes are rejected by position; a non-JSON message is isolated by bisecting the 400."""
    sink, route = sink_for(emulator, authenticated=False)
    msgs = [envelope(i) for i in range(12)]
    msgs[3] = orjson.dumps({"header": {}, "body": {}})
    msgs[7] = envelope(7, imsOrgId="SOMEONE-ELSE@AdobeOrg")
    msgs[10] = b'{"header": not json'
    out = sink.deliver(route, msgs, threading.Event())
    bad = {i: o for i, o in enumerate(out) if isinstance(o, RejectedError)}
    assert sorted(bad) == [3, 7, 10]
    assert bad[3].reason == "aep-rejected" and "unknown xdm format" in bad[3].message
    assert bad[7].reason == "aep-rejected" and "ims org" in bad[7].message
    assert bad[10].reason == "aep-rejected-400" and bad[10].http_status == 400
    assert stats(emulator)["totals"]["accepted"] == 9


def test_413_is_split_until_each_part_fits(emulator: EmulatorServer) -> None:
    """Two ~600 KB messages in one request are split by the 413 and both delivered."""
    sink, route = sink_for(emulator, authenticated=False)
    big = [envelope(i)[:-2] + b',"_pad":"' + b"x" * 600_000 + b'"}}' for i in range(2)]
    assert orjson.loads(big[0])["body"]["_pad"]
    out = sink.deliver(route, big, threading.Event())
    assert accepted(out) == 2
    assert stats(emulator)["totals"]["requests_by_status"].get("413") == 1


def test_503_429_and_reset_storms_deliver_everything(emulator: EmulatorServer) -> None:
    """Under 503/429/connection-reset storms every message of every concurrent batch is delivered, none rejected."""
    delivery = DeliverySettings(initial_backoff_ms=5, max_backoff_ms=50, attempts_before_exhausted=3)
    sink, route = sink_for(emulator, authenticated=True, delivery=delivery)
    emulator.faults.set_rules(
        [
            {"kind": "status", "status": 503, "rate": 0.3, "retry_after": 0},
            {"kind": "status", "status": 429, "rate": 0.2, "retry_after": 0},
            {"kind": "status", "status": 502, "rate": 0.1},
            {"kind": "reset", "rate": 0.1},
        ],
        seed=11,
    )
    results: list[list[Outcome]] = []
    lock = threading.Lock()

    def work(k: int) -> None:
        out = sink.deliver(route, [envelope(k * 100 + i) for i in range(40)], threading.Event())
        with lock:
            results.append(out)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 6
    assert all(accepted(r) == 40 for r in results)
    snapshot = stats(emulator)
    assert snapshot["totals"]["faults"] > 0
    assert snapshot["totals"]["accepted"] == 240
    assert snapshot["totals"]["rejected"] == 0


def test_sync_validation_single_mode_respects_60_per_minute(emulator: EmulatorServer) -> None:
    """mode single with sync validation: the emulator never has to answer 429 to the connector."""
    inlet = emulator.create_inlet(authenticated=False)
    url = emulator.inlet_url(inlet)
    sink = DcsSink(AepSettings(inlet_url=url, mode="single", sync_validation=True), FAST)
    out = sink.deliver(Route(url), [envelope(0), envelope(1)], threading.Event())
    assert accepted(out) == 2
    assert "429" not in stats(emulator)["totals"]["requests_by_status"]
