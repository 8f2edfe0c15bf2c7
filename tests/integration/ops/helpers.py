"""Shared pieces of the operations integration tests: configs on disk, a worker in a thread, polling."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from connector.app import Services, build_worker, compile_plan, start_services
from connector.config import Settings, load_settings
from connector.worker import Worker, WorkerOptions

ROOT = Path(__file__).resolve().parents[3]
MAPPINGS = ROOT / "config" / "mappings"
SAMPLES = ROOT / "connector" / "samples"


def profiles() -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads((SAMPLES / "loyalty-profiles.json").read_text(encoding="utf-8"))
    return data


def events() -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads((SAMPLES / "loyalty-events.json").read_text(encoding="utf-8"))
    return data


def profile_messages(count: int, start: int = 0) -> list[tuple[bytes | None, bytes | None]]:
    """`count` loyalty profiles keyed by loyalty id; beyond the 25 samples, ids get a numeric suffix."""
    base = profiles()
    out: list[tuple[bytes | None, bytes | None]] = []
    for i in range(start, start + count):
        p = json.loads(json.dumps(base[i % len(base)]))
        if i >= len(base):
            loyalty = p["_exchangeinternal"]["loyaltyID"]
            p["_exchangeinternal"]["loyaltyID"] = loyalty.replace("@", f"+{i}@")
        out.append((p["_exchangeinternal"]["loyaltyID"].encode(), json.dumps(p).encode()))
    return out


def write_config(
    path: Path,
    *,
    bootstrap: str,
    group: str,
    topic: str,
    dlq: str,
    aep: dict[str, Any],
    observability: dict[str, Any] | None = None,
    mapping_overrides: dict[str, Any] | None = None,
    extra_mappings: list[dict[str, Any]] | None = None,
) -> Path:
    """A connector config with the loyalty-profiles mapping reading `topic` (plus `extra_mappings`)."""
    doc = {
        "kafka": {
            "bootstrap_servers": bootstrap,
            "group_id": group,
            "topics": [topic, *(t for m in extra_mappings or [] for t in m.get("topics", []))],
        },
        "aep": aep,
        "dead_letter": {"topic": dlq},
        "batching": {"linger_ms": 20, "commit_interval_ms": 200, "max_records": 50},
        "delivery": {"initial_backoff_ms": 50, "max_backoff_ms": 400},
        "observability": observability or {},
        "mappings": [
            {"file": str(MAPPINGS / "loyalty-profiles.yaml"), "topics": [topic], **(mapping_overrides or {})},
            *(extra_mappings or []),
        ],
    }
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


@dataclass
class RunningWorker:
    settings: Settings
    worker: Worker
    thread: threading.Thread
    services: Services

    def stop(self) -> None:
        self.worker.stop()
        self.thread.join(timeout=30)
        self.services.close()
        assert not self.thread.is_alive(), "worker did not stop"


def start_worker(config: Path) -> RunningWorker:
    """compile_plan + build_worker + start_services from the config file, the loop in a thread."""
    settings = load_settings(config)
    plan = compile_plan(settings)
    worker = build_worker(plan, options=WorkerOptions(shutdown_timeout_s=5.0))
    services = start_services(plan, worker)
    thread = threading.Thread(target=worker.run, name="ops-test-worker", daemon=True)
    thread.start()
    return RunningWorker(settings, worker, thread, services)


def wait_for(cond: Callable[[], bool], timeout_s: float, what: str, interval_s: float = 0.1) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


def http_get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return int(r.status), bytes(r.read())
    except urllib.error.HTTPError as e:
        return int(e.code), bytes(e.read())
