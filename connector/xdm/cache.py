"""The on-disk copy of every fetched schema and dataset binding, so a restart during an AEP outage validates.

One JSON file per entry in `cache_dir`, named by a hash of (IMS org, sandbox, what it is), written
atomically (temporary file, then rename). The cache is only ever a fallback: a fetch that succeeds
replaces it; an entry is used when AEP cannot be reached at start. A cache directory that cannot be
written costs the fallback, not the worker: it is logged once and the schemas stay in memory.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import structlog

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Cached:
    document: Any
    fetched_at: float  # epoch seconds of the successful fetch it was written after
    path: Path


class DiskCache:
    def __init__(self, directory: Path | None, *, org: str | None, sandbox: str | None) -> None:
        self.directory = directory
        self._scope = f"{org or ''}|{sandbox or 'prod'}"
        self._write_failed = False

    def _path(self, kind: str, key: str) -> Path | None:
        if self.directory is None:
            return None
        digest = hashlib.sha256(f"{self._scope}|{kind}|{key}".encode()).hexdigest()[:24]
        return self.directory / f"{kind}-{digest}.json"

    def load(self, kind: str, key: str) -> Cached | None:
        path = self._path(kind, key)
        if path is None or not path.is_file():
            return None
        try:
            entry = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            log.warning("xdm_cache_unreadable", path=str(path), error=str(exc))
            return None
        if not isinstance(entry, dict) or entry.get("key") != key or "document" not in entry:
            return None
        fetched = entry.get("fetched_at")
        return Cached(entry["document"], float(fetched) if isinstance(fetched, int | float) else 0.0, path)

    def save(self, kind: str, key: str, document: Any, fetched_at: float) -> None:
        path = self._path(kind, key)
        if path is None:
            return
        body = orjson.dumps({"key": key, "scope": self._scope, "fetched_at": fetched_at, "document": document})
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(body)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            if not self._write_failed:
                self._write_failed = True
                log.warning("xdm_cache_not_writable", directory=str(self.directory), error=str(exc))
