"""A minimal stand-in for DCS: answers every batch POST with a 207 of one success per message, counts
nothing else (no JSON parse). Used where only the client's cost per record matters.

    python -m bench.peers.stub_dcs PORT
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # header and body in separate segments would meet delayed ACKs

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        n = body.count(b'"xdmMeta"')
        bid = b"%d" % time.time_ns()
        resp = (b'{"inletId":"stub","batchId":"%s","receivedTimeMs":%d,"responses":[' % (bid, time.time_ns() // 10**6)
                + b",".join(b'{"xactionId":"%s:%d"}' % (bid, i) for i in range(n)) + b"]}")  # fmt: skip
        head = b"HTTP/1.1 207 Multi-Status\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(resp)
        self.wfile.write(head + resp)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer(("127.0.0.1", int(args[0])), Handler).serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
