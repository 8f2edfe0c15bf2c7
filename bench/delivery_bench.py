"""Delivery throughput: pre-serialised ~1 KB envelopes through DcsSink from K threads.

    python -m bench.delivery_bench                 # local emulator in count mode
    python -m bench.delivery_bench --url URL       # any DCS inlet URL (careful: real data)
    python -m bench.delivery_bench --stub          # built-in 207 responder: client-side cost only

Prints delivered records/s for each in-flight count x batch size (batches are also cut at
--max-bytes of wire size, as the worker does).
"""

from __future__ import annotations

import argparse
import contextlib
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from connector.aep.dcs import DcsSink
from connector.aep.wire import batch_size
from connector.config import DCS_MAX_REQUEST_BYTES, AepSettings, DeliverySettings, TransportSettings
from connector.observability.logging import configure_logging
from connector.records import Accepted, Route


def envelope(i: int, size: int = 1000) -> bytes:
    """An XDM-shaped envelope padded to about `size` bytes."""
    doc: dict[str, Any] = {
        "header": {
            "schemaRef": {
                "id": "https://ns.adobe.com/bench/schemas/loyalty",
                "contentType": "application/vnd.adobe.xed-full+json;version=1",
            },
            "datasetId": "bench-dataset",
            "source": {"name": "delivery-bench"},
        },
        "body": {
            "xdmMeta": {
                "schemaRef": {
                    "id": "https://ns.adobe.com/bench/schemas/loyalty",
                    "contentType": "application/vnd.adobe.xed-full+json;version=1",
                }
            },
            "xdmEntity": {
                "_id": f"bench-{i}",
                "timestamp": "2024-01-01T00:00:00Z",
                "eventType": "loyaltyBalanceUpdate",
                "_bench": {"pad": ""},
            },
        },
    }
    pad = max(0, size - len(orjson.dumps(doc)))
    doc["body"]["xdmEntity"]["_bench"]["pad"] = "x" * pad
    return orjson.dumps(doc)


def batches(messages: Sequence[bytes], max_records: int, max_bytes: int) -> list[list[bytes]]:
    """Cut like the worker: at max_records or before the wire size would exceed max_bytes."""
    out: list[list[bytes]] = []
    current: list[bytes] = []
    total = 0
    for m in messages:
        if current and (len(current) >= max_records or batch_size(total + len(m), len(current) + 1) > max_bytes):
            out.append(current)
            current, total = [], 0
        current.append(m)
        total += len(m)
    if current:
        out.append(current)
    return out


def run_once(sink: DcsSink, route: Route, work: list[list[bytes]], threads: int) -> tuple[int, float]:
    """Deliver every batch from `threads` threads; returns (accepted, seconds)."""
    pending: queue.SimpleQueue[list[bytes]] = queue.SimpleQueue()
    for b in work:
        pending.put(b)
    accepted = 0
    lock = threading.Lock()
    cancel = threading.Event()

    def worker() -> None:
        nonlocal accepted
        while True:
            try:
                batch = pending.get_nowait()
            except queue.Empty:
                return
            outcomes = sink.deliver(route, batch, cancel)
            ok = sum(isinstance(o, Accepted) for o in outcomes)
            with lock:
                accepted += ok

    started = time.perf_counter()
    pool = [threading.Thread(target=worker, name=f"bench-{i}") for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return accepted, time.perf_counter() - started


class _Stub(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: avoid the 40 ms delayed-ACK stall

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        count = len(orjson.loads(self.rfile.read(length))["messages"])
        body = orjson.dumps({"responses": [{"xactionId": f"stub:{i}"} for i in range(count)]})
        self.send_response(207)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def target(url: str | None, stub: bool) -> Iterator[tuple[str, str]]:
    """Yield (inlet URL, description): the given URL, the stub, or a local emulator in count mode."""
    if url:
        yield url, url
        return
    if stub:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_port}/collection/bench", "built-in 207 stub"
        finally:
            server.shutdown()
        return
    try:
        from connector.emulator.server import EmulatorServer
    except ImportError:
        raise SystemExit(
            "the emulator (connector.emulator.server) is not available: pass --url URL or --stub"
        ) from None
    emulator = EmulatorServer(port=0, store="count").start()
    try:
        inlet = emulator.create_inlet(authenticated=False)
        yield emulator.inlet_url(inlet), f"emulator (count mode) at {emulator.url}"
    finally:
        emulator.stop()


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.delivery_bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--url", help="DCS inlet URL (default: start the local emulator in count mode)")
    parser.add_argument("--stub", action="store_true", help="use a minimal built-in 207 responder instead")
    parser.add_argument("--records", type=int, default=20_000, help="envelopes per cell (default 20000)")
    parser.add_argument("--size", type=int, default=1_000, help="bytes per envelope (default 1000)")
    parser.add_argument("--in-flight", default="1,2,4,8", help="thread counts (default 1,2,4,8)")
    parser.add_argument("--batch", default="100,250,500,1000", help="batch sizes in records (default 100,250,500,1000)")
    parser.add_argument("--max-bytes", type=int, default=DCS_MAX_REQUEST_BYTES, help="wire-size cap per request")
    parser.add_argument("--gzip", action="store_true", help="send Content-Encoding: gzip")
    args = parser.parse_args(argv)
    configure_logging("console", "warning")
    in_flight, sizes = _ints(args.in_flight), _ints(args.batch)
    messages = [envelope(i, args.size) for i in range(args.records)]
    with target(args.url, args.stub) as (url, description):
        aep = AepSettings(inlet_url=url, transport=TransportSettings(pool_size=max(in_flight), gzip=args.gzip))
        sink = DcsSink(aep, DeliverySettings())
        route = Route(url)
        run_once(sink, route, batches(messages[:200], 100, args.max_bytes), 1)  # warm up the pool
        print(f"target: {description}")
        print(f"{args.records} envelopes of {len(messages[0])} bytes; delivered records/s")
        cut = {b: batches(messages, b, args.max_bytes) for b in sizes}
        print("in-flight | " + " | ".join(f"batch {b:>4} ({len(messages) // len(cut[b])}/req)" for b in sizes))
        for k in in_flight:
            cells = []
            for b in sizes:
                accepted, seconds = run_once(sink, route, cut[b], k)
                cells.append(f"{accepted / seconds:>19,.0f}" + ("" if accepted == len(messages) else " !"))
            print(f"{k:>9} | " + " | ".join(cells), flush=True)
        sink.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
