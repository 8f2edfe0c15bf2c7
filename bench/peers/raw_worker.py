"""What a user could hand-write with confluent-kafka: consume a batch -> json.loads -> map to XDM ->
json.dumps a DCS batch envelope -> POST /collection/batch/{inlet} -> commit only after the POST succeeded.

    python -m bench.peers.raw_worker --bootstrap B --topic T --url URL --group G [--pool 4]

--pool 0: one POST at a time, synchronous commit after each accepted batch.
--pool N: up to N POSTs in flight on a thread pool; offsets committed (async) strictly in order,
          each batch's offsets only after it and every earlier batch were accepted.
Runs until SIGTERM/SIGINT (the bench stops it once the group's committed offsets reach the end offsets).
"""

from __future__ import annotations

import argparse
import collections
import json
import signal
import sys
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import requests
from confluent_kafka import Consumer, TopicPartition

from bench.peers.xdm_map import batch_failures, to_xdm

HEADERS = {"Content-Type": "application/json"}


class RawLoop:
    def __init__(self, a: argparse.Namespace) -> None:
        self.a = a
        self.stop = False
        self.consumer = Consumer({"bootstrap.servers": a.bootstrap, "group.id": a.group,
                                  "auto.offset.reset": "earliest", "enable.auto.commit": False})  # fmt: skip
        self.consumer.subscribe([a.topic])
        self.session = requests.Session()
        self.pool = ThreadPoolExecutor(a.pool) if a.pool else None
        self.pending: collections.deque[tuple[Future[None], dict[int, int]]] = collections.deque()

    def post(self, body: bytes) -> None:
        while True:  # retry until accepted: nothing is committed before DCS accepted the batch
            try:
                r = self.session.post(self.a.url, data=body, headers=HEADERS, timeout=30)
                if r.status_code in (200, 207) and not batch_failures(r.json()):
                    return
                print(f"POST {r.status_code}: {r.text[:200]}", file=sys.stderr, flush=True)
            except requests.RequestException as e:
                print(f"POST error: {e}", file=sys.stderr, flush=True)
            time.sleep(0.5)

    def commit(self, offs: dict[int, int], asynchronous: bool) -> None:
        if offs:
            parts = [TopicPartition(self.a.topic, p, n) for p, n in offs.items()]
            self.consumer.commit(offsets=parts, asynchronous=asynchronous)  # type: ignore[call-overload]

    def harvest(self, block: bool) -> None:
        """Commit the offsets of every leading batch whose POST finished."""
        offs: dict[int, int] = {}
        while self.pending and (self.pending[0][0].done() or (block and len(self.pending) >= self.a.pool)):
            fut, o = self.pending.popleft()
            fut.result()
            offs.update(o)
            block = False
        self.commit(offs, True)

    def batch(self, msgs: list[Any]) -> tuple[bytes, dict[int, int]]:
        out, offs = [], {}
        for m in msgs:
            if m.error():
                print(f"consume error: {m.error()}", file=sys.stderr)
                continue
            origin = f"{m.topic()}/{m.partition()}/{m.offset()}"
            out.append(to_xdm(json.loads(m.value()), m.timestamp()[1], origin))
            offs[m.partition()] = m.offset() + 1
        return json.dumps({"messages": out}, separators=(",", ":")).encode(), offs

    def run(self) -> None:
        while not self.stop:
            msgs: list[Any] = self.consumer.consume(num_messages=self.a.batch, timeout=0.2)
            if self.pool:
                self.harvest(block=False)
            if not msgs:
                continue
            body, offs = self.batch(msgs)
            if self.pool:
                self.pending.append((self.pool.submit(self.post, body), offs))
                if len(self.pending) >= self.a.pool:
                    self.harvest(block=True)
            else:
                self.post(body)
                self.consumer.commit(asynchronous=False)
        offs = {}
        while self.pending:
            fut, o = self.pending.popleft()
            fut.result()
            offs.update(o)
        self.commit(offs, False)
        self.consumer.close()


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.peers.raw_worker")
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--url", required=True, help="http://host:port/collection/batch/INLET")
    ap.add_argument("--group", required=True)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--pool", type=int, default=0)
    loop = RawLoop(ap.parse_args(argv))

    def on_signal(*_: Any) -> None:
        loop.stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
