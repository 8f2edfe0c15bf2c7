"""Free loopback TCP ports for locally started test services."""

from __future__ import annotations

import socket
import time

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing is listening on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def free_ports(count: int) -> tuple[int, ...]:
    """Return ``count`` distinct free loopback ports (all held open while picking)."""
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((LOOPBACK, 0))
            socks.append(sock)
        return tuple(int(s.getsockname()[1]) for s in socks)
    finally:
        for sock in socks:
            sock.close()


def is_listening(port: int, host: str = LOOPBACK) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def wait_port_free(port: int, timeout_s: float = 15.0) -> bool:
    """Wait until nothing listens on ``port`` any more; True when it became free."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not is_listening(port):
            return True
        time.sleep(0.1)
    return False
