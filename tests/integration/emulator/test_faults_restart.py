"""Fault injection over HTTP, and restarts: stop/start on the same port, sqlite persistence."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from connector.emulator import EmulatorServer
from tests.integration.emulator.tutorial import envelope, event_message, platform_session, profile_message, provision

pytestmark = pytest.mark.integration
MSG = envelope("https://ns.adobe.com/acme/schemas/1", "ds", {"_id": "p1"})
RULES = {
    "seed": 7,
    "rules": [
        {"kind": "status", "status": 503, "rate": 0.3, "retry_after": 1},
        {"kind": "status", "status": 429, "rate": 0.2, "retry_after": None},
        {"kind": "reset", "rate": 0.3},
    ],
}


def _outcomes(server: EmulatorServer, n: int) -> list[str]:
    out = []
    session = requests.Session()
    for _ in range(n):
        try:
            out.append(str(session.post(server.inlet_url("a" * 64), json=MSG, timeout=5).status_code))
        except requests.ConnectionError:
            out.append("reset")
            session = requests.Session()
    return out


def test_same_seed_same_sequence(emulator: EmulatorServer) -> None:
    """The same seed gives the same sequence of faults, including connection resets."""
    requests.post(f"{emulator.url}/emulator/faults", json=RULES, timeout=5).raise_for_status()
    first = _outcomes(emulator, 40)
    requests.post(f"{emulator.url}/emulator/faults", json=RULES, timeout=5).raise_for_status()
    second = _outcomes(emulator, 40)
    assert first == second
    assert {"200", "503", "429", "reset"} <= set(first)
    requests.delete(f"{emulator.url}/emulator/faults", timeout=5).raise_for_status()
    assert set(_outcomes(emulator, 5)) == {"200"}


def test_sequence_rule_and_paths(emulator: EmulatorServer) -> None:
    """A sequence rule fires exactly on its pattern and only on matching paths."""
    emulator.faults.set_rules([{"kind": "status", "status": 500, "sequence": [True, False, True]}])
    assert requests.get(f"{emulator.url}/emulator/stats", timeout=5).status_code == 200
    assert _outcomes(emulator, 4) == ["500", "200", "500", "200"]


def test_latency_fault_delays_response(emulator: EmulatorServer) -> None:
    """A latency rule delays the response past a short client timeout."""
    emulator.faults.set_rules([{"kind": "latency", "ms": 1500, "rate": 1.0}])
    with pytest.raises(requests.Timeout):
        requests.post(emulator.inlet_url("a" * 64), json=MSG, timeout=0.5)


def test_stop_start_same_port_keeps_memory_data() -> None:
    """While stopped clients get connection refused; start() rebinds the port and the data is still there."""
    server = EmulatorServer().start()
    try:
        url = server.url
        requests.post(server.inlet_url("a" * 64), json=MSG, timeout=5).raise_for_status()
        keep_alive = requests.Session()
        keep_alive.get(f"{url}/emulator/stats", timeout=5)
        server.stop()
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{url}/emulator/stats", timeout=2)
        with pytest.raises(requests.ConnectionError):
            keep_alive.get(f"{url}/emulator/stats", timeout=2)
        server.start()
        assert server.url == url
        assert len(requests.get(f"{url}/emulator/records", timeout=5).json()) == 1
    finally:
        server.stop()


def test_sqlite_restart_keeps_records_and_profiles(tmp_path: Path) -> None:
    """A new sqlite emulator on the same data_dir has the records, profiles, inlets and clients."""
    with EmulatorServer(store="sqlite", data_dir=tmp_path) as first:
        session = platform_session(first)
        p = provision(first, session)
        requests.post(p.inlet_url, json=profile_message(p, "r@example.com"), timeout=5).raise_for_status()
        requests.post(p.inlet_url, json=event_message(p, "r@example.com", "ev-1"), timeout=5).raise_for_status()
        headers = dict(session.headers)
    with EmulatorServer(store="sqlite", data_dir=tmp_path) as second:
        assert len(second.store.records()) == 2
        found = requests.get(
            f"{second.url}/data/core/ups/access/entities",
            params={"schema.name": "_xdm.context.profile", "entityId": "r@example.com", "entityIdNS": "email"},
            headers=headers,
            timeout=5,
        )
        assert found.status_code == 200
        assert second.store.profiles.events("email", "r@example.com")[1][0].event_id == "ev-1"
        conn = requests.get(
            f"{second.url}/data/foundation/flowservice/flows/{p.event_flow}", headers=headers, timeout=5
        )
        assert conn.status_code == 200


def test_sqlite_stop_start_reloads(tmp_path: Path) -> None:
    """stop()/start() of a sqlite emulator reloads from data_dir and keeps accepting."""
    server = EmulatorServer(store="sqlite", data_dir=tmp_path).start()
    try:
        requests.post(server.inlet_url("a" * 64), json=MSG, timeout=5).raise_for_status()
        server.stop()
        server.start()
        requests.post(server.inlet_url("a" * 64), json=MSG, timeout=5).raise_for_status()
        assert len(server.store.records()) == 2
    finally:
        server.stop()


def test_count_store_counts_only() -> None:
    """The count store answers per message but keeps no records."""
    with EmulatorServer(store="count") as server:
        messages = [MSG, {"header": {}}, MSG]
        body = requests.post(f"{server.url}/collection/batch/{'a' * 64}", json={"messages": messages}, timeout=5)
        stats = server.store.stats()
        assert server.store.records() == []
    assert [("xactionId" in r) for r in body.json()["responses"]] == [True, False, True]
    assert (stats["totals"]["accepted"], stats["totals"]["rejected"]) == (2, 1)
