"""Streaming batches: per-dataset windows, Catalog status and counts, stable failed-file names."""

from __future__ import annotations

from connector.emulator.batches import BatchLog, add_counts, catalog_view, failed_file_name, status


def test_records_join_the_open_batch_until_the_window_closes() -> None:
    """Within the window a dataset keeps its batch; after it, the next record opens a new one."""
    log = BatchLog()
    first = log.assign(None, "ds", now_ms=1_000, window_ms=500, org="o")
    assert log.assign(first, "ds", now_ms=1_499, window_ms=500, org="o") is first
    second = log.assign(first, "ds", now_ms=1_500, window_ms=500, org="o")
    assert second["id"] != first["id"] and second["created"] == 1_500
    assert log.open_id("ds") == second["id"] and log.open_id("other") is None


def test_status_is_loading_then_success_or_failed() -> None:
    """Open: loading; closed: failed when every record failed, else success (even with some failed)."""
    batch = BatchLog().assign(None, "ds", now_ms=0, window_ms=100, org="o")
    partial = add_counts(batch, records=3, failed=1, now_ms=10)
    assert status(partial, 99) == "loading"
    assert status(partial, 100) == "success"
    assert status(add_counts(batch, records=2, failed=2, now_ms=10), 100) == "failed"


def test_catalog_view_carries_counts_and_the_partial_error_only_when_final() -> None:
    """metrics and the INGEST-1212-400 summary appear as documented; completed and errors only once closed."""
    batch = add_counts(BatchLog().assign(None, "ds", now_ms=0, window_ms=100, org="o"), 4, 1, 5)
    open_view = catalog_view(batch, 50, "http://e")
    assert "completed" not in open_view and "errors" not in open_view
    view = catalog_view(batch, 100, "http://e")
    assert view["metrics"] == {"inputRecordCount": 4, "outputRecordCount": 3, "failedRecordCount": 1}
    assert view["completed"] == 100 and view["errors"][0]["recordCount"] == 1
    assert view["failedBatchLocation"] == f"http://e/data/foundation/export/batches/{batch['id']}/failed"
    assert view["relatedObjects"] == [{"type": "dataSet", "id": "ds"}]


def test_failed_file_name_is_a_stable_part_file_name() -> None:
    """The same batch always lists the same part file."""
    assert failed_file_name("01ABC") == failed_file_name("01ABC") != failed_file_name("01ABD")
    assert failed_file_name("01ABC").startswith("part-00000-") and failed_file_name("01ABC").endswith("-c000.json")
