"""The sqlite journal: a memory store whose writes also land in a file and are replayed on start."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import orjson

from connector.emulator.store import CountStore, Ingest, MemoryStore, ObjectRow
from connector.numbers import json_bytes
from connector.serde.json import loads_exact

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (kind TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL,
    PRIMARY KEY (kind, key));
CREATE TABLE IF NOT EXISTS accepted (seq INTEGER PRIMARY KEY, dataset_id TEXT, event_id TEXT, kind TEXT NOT NULL,
    received_ms INTEGER NOT NULL, identities BLOB NOT NULL, record BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS failed (seq INTEGER PRIMARY KEY, record BLOB NOT NULL);
"""


class SqliteJournal:
    """One connection guarded by a lock; WAL, synchronous=NORMAL; one transaction per request."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def put_object(self, kind: str, key: str, value: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO objects VALUES (?, ?, ?)", (kind, key, json_bytes(value)))

    def delete_object(self, kind: str, key: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM objects WHERE kind = ? AND key = ?", (kind, key))

    def append(
        self,
        accepted: list[Ingest],
        failed: list[dict[str, Any]],
        objects: Sequence[ObjectRow] = (),
    ) -> None:
        rows = [
            (i.dataset_id, i.event_id, i.kind, i.received_ms, orjson.dumps(i.identities), json_bytes(i.record))
            for i in accepted
        ]
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(
                    "INSERT INTO accepted (dataset_id, event_id, kind, received_ms, identities, record) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    rows,
                )
                self._db.executemany("INSERT INTO failed (record) VALUES (?)", [(json_bytes(f),) for f in failed])
                self._db.executemany(
                    "INSERT OR REPLACE INTO objects VALUES (?, ?, ?)",
                    [(k, key, json_bytes(v)) for k, key, v in objects],
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def load_objects(self) -> Iterable[tuple[str, str, dict[str, Any]]]:
        with self._lock:
            rows = self._db.execute("SELECT kind, key, value FROM objects").fetchall()
        return [(k, key, orjson.loads(v)) for k, key, v in rows]

    def load_accepted(self) -> Iterable[Ingest]:
        with self._lock:
            rows = self._db.execute(
                "SELECT dataset_id, event_id, kind, received_ms, identities, record FROM accepted ORDER BY seq"
            ).fetchall()
        for ds, ev, kind, received, idents, record in rows:
            identities = tuple((str(a), str(b), bool(c)) for a, b, c in orjson.loads(idents))
            yield Ingest(ds, ev, loads_exact(record), identities, kind, received)

    def load_failed(self) -> Iterable[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT record FROM failed ORDER BY seq").fetchall()
        return [loads_exact(r[0]) for r in rows]

    def clear(self, objects: bool) -> None:
        with self._lock:
            self._db.execute("DELETE FROM accepted")
            self._db.execute("DELETE FROM failed")
            self._db.execute("DELETE FROM objects WHERE kind = 'batches'")
            if objects:
                self._db.execute("DELETE FROM objects")

    def close(self) -> None:
        with self._lock:
            self._db.close()


class SqliteStore(MemoryStore):
    kind = "sqlite"

    def __init__(self, journal: SqliteJournal) -> None:
        super().__init__(journal)
        self.journal = journal


def make_store(kind: str, data_dir: Path | None) -> MemoryStore:
    """`memory`, `count`, or `sqlite` (a journal file `emulator.sqlite3` in `data_dir`)."""
    if kind == "memory":
        return MemoryStore()
    if kind == "count":
        return CountStore()
    if kind == "sqlite":
        if data_dir is None:
            raise ValueError("the sqlite store needs a data_dir")
        return SqliteStore(SqliteJournal(Path(data_dir) / "emulator.sqlite3"))
    raise ValueError(f"unknown store {kind!r}: expected memory, sqlite or count")
