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
