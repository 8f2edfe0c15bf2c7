"""Data Access API (`/data/foundation/export`): the failed records of a streaming batch (§1.8).

    GET /batches/{id}/failed            -> {"data": [{name, length, _links.self.href}], "_page": {limit, count}}
    GET /batches/{id}/failed?path=NAME  -> the file: one failed record per line (JSON Lines), each the
                                           message as received plus `_validationErrors`
A batch with failed records lists `_SUCCESS` (empty) and one part file, as the retrieval guide
shows; a batch without failures, or still open (`loading`), lists nothing; an unknown batch or
file is a 404.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from connector.emulator import ids
from connector.emulator.batches import BATCHES, FINAL, failed_file_name, status
from connector.emulator.http import Request, Response, json_response, not_found
from connector.emulator.store import MemoryStore
from connector.numbers import json_bytes

EXPORT_PREFIX = "/data/foundation/export/"
SUCCESS_FILE = "_SUCCESS"
PAGE_LIMIT = 100


def failed_file(store: MemoryStore, batch_id: str) -> bytes:
    """The failed-records file of a batch: JSON Lines, one failed record per line."""
    lines = [
        json_bytes(rec.get("line") or {"_validationErrors": rec.get("errors", [])})
        for rec in store.batch_failures(batch_id)
    ]
    return b"\n".join(lines) + (b"\n" if lines else b"")


class DataAccess:
    def __init__(self, store: MemoryStore, base_url: Callable[[], str]) -> None:
        self.store = store
        self.base_url = base_url

    def handle(self, req: Request) -> Response:
        parts = req.path[len(EXPORT_PREFIX) :].strip("/").split("/")
        if len(parts) != 3 or parts[0] != "batches" or parts[2] != "failed":
            return not_found(f"no Data Access route for {req.method} {req.path}")
        if req.method != "GET":
            return json_response(405, {"status": 405, "title": "Method Not Allowed"})
        batch_id = parts[1]
        batch = self.store.get(BATCHES, batch_id)
        if batch is None:
            return not_found(f"batch {batch_id} not found")
        final = status(batch, ids.now_ms()) in FINAL
        content = failed_file(self.store, batch_id) if final else b""
        name = failed_file_name(batch_id)
        path = req.q("path")
        if path is not None:
            if path == SUCCESS_FILE and content:
                return Response(200, b"", "application/octet-stream")
            if path == name and content:
                return Response(200, content, "application/json")
            return not_found(f"file {path} not found in the failed records of batch {batch_id}")
        files = [(SUCCESS_FILE, 0), (name, len(content))] if content else []
        href = f"{self.base_url()}{EXPORT_PREFIX}batches/{batch_id}/failed?path="
        data = [{"name": n, "length": str(size), "_links": {"self": {"href": href + quote(n)}}} for n, size in files]
        return json_response(200, {"data": data[:PAGE_LIMIT], "_page": {"limit": PAGE_LIMIT, "count": len(data)}})
