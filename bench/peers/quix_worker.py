"""quix-streams (3.x) peer: Application -> sdf.apply(map to XDM, with the Kafka timestamp) -> a BatchingSink
that POSTs DCS batch envelopes of <= 500 messages. quix-streams commits a checkpoint's offsets only after
every sink flushed, so offsets follow accepted POSTs. --commit-interval defaults to 1.0 s (the connector's
commit interval; quix's own default is 5 s). Runs until SIGTERM (the bench stops it).

    .venv-quix/bin/python -m bench.peers.quix_worker --bootstrap B --topic T --url URL --group G
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

import requests
from quixstreams import Application, message_context
from quixstreams.sinks.base import BatchingSink, SinkBackpressureError, SinkBatch

from bench.peers.xdm_map import batch_failures, to_xdm


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.peers.quix_worker")
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--url", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--commit-interval", type=float, default=1.0)
    a = ap.parse_args(argv)

    class DcsBatchSink(BatchingSink):  # type: ignore[misc]
        def setup(self) -> None:
            self.session = requests.Session()

        def write(self, batch: SinkBatch) -> None:
            for chunk in batch.iter_chunks(n=a.batch):
                body = json.dumps({"messages": [item.value for item in chunk]}, separators=(",", ":"))
                try:
                    r = self.session.post(a.url, data=body, headers={"Content-Type": "application/json"}, timeout=30)
                except requests.RequestException:
                    raise SinkBackpressureError(retry_after=0.5) from None
                if r.status_code in (429, 503) or r.status_code >= 500:
                    raise SinkBackpressureError(retry_after=float(r.headers.get("Retry-After", 0.5)))
                r.raise_for_status()
                if batch_failures(r.json()):
                    raise RuntimeError(f"DCS rejected messages: {r.text[:200]}")

    def mapped(value: Any, key: Any, ts: int, headers: Any) -> dict[str, Any]:
        ctx = message_context()
        return to_xdm(value, ts, f"{ctx.topic}/{ctx.partition}/{ctx.offset}")

    app = Application(broker_address=a.bootstrap, consumer_group=a.group, auto_offset_reset="earliest",
                      commit_interval=a.commit_interval, loglevel="WARNING")  # fmt: skip
    topic = app.topic(a.topic, value_deserializer="json")
    sdf = app.dataframe(topic)
    sdf = sdf.apply(mapped, metadata=True)
    sdf.sink(DcsBatchSink())
    app.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
