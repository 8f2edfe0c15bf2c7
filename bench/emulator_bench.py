"""Emulator throughput: messages/s it accepts with 500-message batches, per store.

    python -m bench.emulator_bench [--seconds 5] [--stores count,sqlite,memory]

The emulator runs in its own process (`aep-connector emulator`), as it does next to the
connector in `make bench`; two client threads on keep-alive connections post the same
pre-serialised batch body, so the figure is the emulator's cost, not the client's.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass

import requests

from bench.delivery_bench import envelope
from connector.aep.wire import batch_body
from tests.harness.ports import free_port, is_listening

INLET = "ab" * 32


@dataclass(frozen=True, slots=True)
class EmulatorFigure:
    store: str
    messages_per_s: float
    requests_per_s: float
    rejected: int


def _post_loop(url: str, body: bytes, stop: threading.Event, counts: list[int], errors: list[int]) -> None:
    session = requests.Session()
    headers = {"Content-Type": "application/json"}
    while not stop.is_set():
        response = session.post(url, data=body, headers=headers, timeout=30)
        if response.status_code == 207:
            counts[0] += 1
        else:
            errors[0] += 1


def measure(store: str, seconds: float = 5.0, batch: int = 500, clients: int = 2) -> EmulatorFigure:
    port = free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        cmd = [sys.executable, "-m", "connector", "emulator", "--port", str(port), "--store", store]
        if store == "sqlite":
            cmd += ["--data-dir", data_dir]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 20
            while not is_listening(port) and time.monotonic() < deadline:
                time.sleep(0.05)
            url = f"http://127.0.0.1:{port}/collection/batch/{INLET}"
            body = batch_body([envelope(i, 600) for i in range(batch)])
            requests.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=30)  # warm-up
            stop = threading.Event()
            counts = [[0] for _ in range(clients)]
            errors = [[0] for _ in range(clients)]
            threads = [
                threading.Thread(target=_post_loop, args=(url, body, stop, counts[i], errors[i]), daemon=True)
                for i in range(clients)
            ]
            t0 = time.monotonic()
            for t in threads:
                t.start()
            time.sleep(seconds)
            stop.set()
            for t in threads:
                t.join(30)
            elapsed = time.monotonic() - t0
        finally:
            proc.terminate()
            proc.wait(10)
    ok = sum(c[0] for c in counts)
    return EmulatorFigure(store, ok * batch / elapsed, ok / elapsed, sum(e[0] for e in errors))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--stores", default="count,sqlite")
    args = parser.parse_args(argv)
    print(f"{'store':<8} {'messages/s':>12} {'requests/s':>11}  (500-message batches, ~600 B each, 2 clients)")
    for store in args.stores.split(","):
        fig = measure(store.strip(), args.seconds)
        print(f"{fig.store:<8} {fig.messages_per_s:>12,.0f} {fig.requests_per_s:>11,.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
