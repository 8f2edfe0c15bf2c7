"""`EmulatorServer`: the emulator on a stdlib ThreadingHTTPServer (HTTP/1.1 keep-alive, daemon threads)."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

import structlog

from connector.emulator.app import EmulatorApp
from connector.emulator.config import DEFAULT_ORG, DEFAULT_SCOPES, STORE_KINDS, EmulatorOptions, load_seed
from connector.emulator.http import Response, make_request, problem
from connector.emulator.seed import apply_seed
from connector.emulator.sqlite import make_store
from connector.emulator.store import MemoryStore

log = structlog.get_logger(__name__)
_MAX_DRAIN = 64 * 1024 * 1024


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "aep-emulator"
    server: _HttpServer

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request stderr line; stats and the page tell what happened."""

    def _read_body(self) -> bytes | None:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_DRAIN:
            return None
        return self.rfile.read(length) if length else b""

    def _dispatch(self) -> None:
        app = self.server.app
        body = self._read_body()
        if body is None:
            self.close_connection = True
            self._write(problem(413, "Payload Too Large", "The payload is larger than the inlet accepts"))
            return
        req = make_request(self.command, self.path, dict(self.headers.items()), body)
        try:
            response = app.handle(req)
        except Exception as exc:
            log.exception("emulator_request_failed", method=self.command, path=req.path)
            response = problem(500, "Internal Server Error", f"emulator error: {type(exc).__name__}: {exc}")
        if response.delay_s:
            self.server.stopping.wait(response.delay_s)
        if response.reset:
            self._reset()
            return
        self._write(response)

    def _reset(self) -> None:
        """Close the TCP connection with an RST and no response (SO_LINGER 0)."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    def _write(self, response: Response) -> None:
        lines = [
            f"HTTP/1.1 {response.status} {response.reason}",
            f"Server: {self.server_version}",
            f"Content-Type: {response.content_type}",
            f"Content-Length: {len(response.body)}",
        ]
        lines.extend(f"{k}: {v}" for k, v in response.headers)
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        try:
            self.wfile.write(head + response.body)
        except OSError:
            self.close_connection = True


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: EmulatorApp) -> None:
        self.app = app
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conn_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._conn_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._conn_lock:
            conns = list(self._connections)
            self._connections.clear()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                conn.close()


class EmulatorServer:
    """The local AEP: DCS inlets, IMS, Flow Service, Catalog, Schema Registry and Profile access.

    `start()` binds (port 0 picks a free port, kept for later restarts) and serves in a thread;
    `stop()` closes the listener and every open connection. The memory store stays in the object
    across stop/start; the sqlite store is reloaded from `data_dir`.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        store: str = "memory",
        data_dir: Path | None = None,
        options: EmulatorOptions | None = None,
    ) -> None:
        if store not in STORE_KINDS:
            raise ValueError(f"unknown store {store!r}: expected one of {', '.join(STORE_KINDS)}")
        self.host = host
        self.port = port
        self.store_kind = store
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.options = options or EmulatorOptions()
        self.store: MemoryStore = make_store(store, self.data_dir)
        self.app = EmulatorApp(self.store, self.options, lambda: self.url)
        self.faults = self.app.faults
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None
        self._closed = False
        for client_id, secret in self.options.extra_clients:
            self.add_client(client_id, secret)
        if self.options.seed_file is not None:
            apply_seed(self.app, load_seed(self.options.seed_file))

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    def inlet_url(self, inlet_id: str) -> str:
        return f"{self.url}/collection/{inlet_id}"

    @property
    def running(self) -> bool:
        return self._httpd is not None

    def start(self) -> EmulatorServer:
        if self._httpd is not None:
            return self
        if self._closed:
            self.store = make_store(self.store_kind, self.data_dir)
            self.app.attach(self.store)
            self._closed = False
        httpd = _HttpServer((self.host, self.port), self.app)
        self.port = int(httpd.server_address[1])
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=f"aep-emulator-{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.stopping.set()
        httpd.shutdown()
        httpd.server_close()
        httpd.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.store_kind == "sqlite":
            self.store.close()
            self._closed = True

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def add_client(
        self, client_id: str, client_secret: str, org: str = DEFAULT_ORG, scopes: str = DEFAULT_SCOPES
    ) -> None:
        """Register OAuth server-to-server credentials IMS will issue tokens for."""
        self.app.ims.add_client(client_id, client_secret, org, scopes)

    def create_inlet(
        self,
        *,
        name: str = "Emulator streaming connection",
        authenticated: bool = False,
        org: str = DEFAULT_ORG,
        data_type: str = "xdm",
    ) -> str:
        """Create an HTTP API streaming connection (as Flow Service would) and return its 64-hex inletId."""
        return self.app.create_inlet(name=name, authenticated=authenticated, org=org, data_type=data_type)
