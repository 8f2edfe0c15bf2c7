"""Streaming batches: how AEP groups accepted streaming records per dataset (streaming-api.md §1.8).

Every record DCS acknowledged lands in the open batch of its dataset; a batch closes
`window_ms` after it opened (the next record of that dataset opens a new one). A record that
failed streaming validation is counted in its batch and kept as a failed record, so the
Catalog shows the batch as `success` with `failedRecordCount`, or `failed` when no record of
it made it, and the Data Access API serves the failed records with their `_validationErrors`.
Status is computed when read, from the clock, so nothing runs in the background.

The batch documents live in the store's objects (kind `batches`, journalled by the sqlite
store); failed records live in the store's failed list with their `batchId`.
"""

from __future__ import annotations

import uuid
from typing import Any

from connector.emulator import ids

BATCHES = "batches"
FINAL = frozenset({"success", "failed"})
PARTIAL_CODE = "INGEST-1212-400"  # the documented partial-ingestion summary code (error-diagnostics guide)


class BatchLog:
    """Assigns records to per-dataset batches; not thread-safe by itself (the store holds its lock)."""

    def __init__(self) -> None:
        self._open: dict[str, str] = {}

    def clear(self) -> None:
        self._open = {}

    def assign(
        self, current: dict[str, Any] | None, dataset_id: str, now_ms: int, window_ms: int, org: str
    ) -> dict[str, Any]:
        """The batch document `dataset_id`'s records go to at `now_ms` (the open one, or a new one)."""
        if current is not None and now_ms < int(current["closesAt"]):
            return current
        batch: dict[str, Any] = {
            "id": ids.batch_id(now_ms),
            "datasetId": dataset_id,
            "imsOrg": org,
            "created": now_ms,
            "closesAt": now_ms + max(window_ms, 1),
            "updated": now_ms,
            "records": 0,
            "failed": 0,
        }
        self._open[dataset_id] = batch["id"]
        return batch

    def open_id(self, dataset_id: str) -> str | None:
        return self._open.get(dataset_id)


def add_counts(batch: dict[str, Any], records: int, failed: int, now_ms: int) -> dict[str, Any]:
    total, bad = int(batch["records"]) + records, int(batch["failed"]) + failed
    return {**batch, "records": total, "failed": bad, "updated": now_ms}


def status(batch: dict[str, Any], now_ms: int) -> str:
    """`loading` while open; then `failed` when every record failed, else `success`."""
    if now_ms < int(batch["closesAt"]):
        return "loading"
    return "failed" if int(batch["failed"]) >= int(batch["records"]) > 0 else "success"


def failed_line(record: Any, violations: list[dict[str, Any]], content: str) -> dict[str, Any]:
    """A line of a failed-records file: the record as AEP received it plus `_validationErrors`.

    `content="errors-only"` keeps only the errors (the documented example shows no more).
    """
    line: dict[str, Any] = {"_validationErrors": violations}
    if content == "message" and isinstance(record, dict):
        line = {**record, **line}
    return line


def failed_file_name(batch_id: str) -> str:
    """The one failed-records file of a batch, named like a Spark part file (stable per batch)."""
    return f"part-00000-{uuid.uuid5(uuid.NAMESPACE_URL, batch_id)}-c000.json"


def catalog_view(batch: dict[str, Any], now_ms: int, base_url: str) -> dict[str, Any]:
    """The Catalog batch object (catalog.yaml batchResponse; metrics as in the error-diagnostics guide)."""
    state = status(batch, now_ms)
    records, failed = int(batch["records"]), int(batch["failed"])
    view: dict[str, Any] = {
        "id": batch["id"],
        "externalId": batch["id"],
        "imsOrg": batch["imsOrg"],
        "status": state,
        "created": batch["created"],
        "started": batch["created"],
        "updated": batch["updated"],
        "createdClient": "acp_streaming",
        "createdUser": "acp_streaming@AdobeID",
        "updatedUser": "acp_streaming@AdobeID",
        "version": "1.0.0",
        "relatedObjects": [{"type": "dataSet", "id": batch["datasetId"]}],
        "inputFormat": {"format": "json"},
        "tags": {"acp_streaming": ["true"]},
        "recordCount": records,
        "failedRecordCount": failed,
        "metrics": {
            "inputRecordCount": records,
            "outputRecordCount": records - failed,
            "failedRecordCount": failed,
        },
    }
    if state in FINAL:
        view["completed"] = batch["closesAt"]
    if failed and state in FINAL:
        view["errors"] = [
            {
                "code": PARTIAL_CODE,
                "description": f"Encountered {failed} errors in the data. Successfully ingested {records - failed} "
                "rows. Please review the associated diagnostic files for more details.",
                "recordCount": failed,
            }
        ]
        view["failedBatchLocation"] = f"{base_url}/data/foundation/export/batches/{batch['id']}/failed"
    return view
