"""Identifier formats AEP uses: 64-hex inlet ids, uuids, 24-hex catalog ids, xaction ids."""

from __future__ import annotations

import itertools
import secrets
import threading
import time
import uuid

_counter = itertools.count(1)
_lock = threading.Lock()


def inlet_id() -> str:
    return secrets.token_hex(32)


def uuid4() -> str:
    return str(uuid.uuid4())


def catalog_id() -> str:
    return secrets.token_hex(12)


def schema_hex() -> str:
    return secrets.token_hex(24)


def etag() -> str:
    return f'"{uuid.uuid4()}"'


def now_ms() -> int:
    return int(time.time() * 1000)


def xaction_id(received_ms: int) -> str:
    """A DCS transaction id, `receivedMs:node:sequence` like `1584479347507:2153:240`."""
    with _lock:
        seq = next(_counter)
    return f"{received_ms}:{seq % 10000:04d}:{seq}"


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_SANDBOX_NS = uuid.UUID("6f1c2a52-5d0e-4c43-9a57-1b0d1c6a0e51")


def batch_id(now_ms: int) -> str:
    """A Catalog batch id for a streaming batch: a ULID like `01E8043CY305K2MTV5ANH9G1GC`."""
    value = (now_ms & (2**48 - 1)) << 80 | secrets.randbits(80)
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def sandbox_id(org: str, sandbox: str) -> str:
    """The sandbox's UUID: stable per org and sandbox name, so it survives restarts."""
    return str(uuid.uuid5(_SANDBOX_NS, f"{org}/{sandbox}"))
