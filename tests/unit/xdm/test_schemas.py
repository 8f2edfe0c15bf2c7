"""A live schema: disk cache, refresh interval, version change, AEP down at start with and without a cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from connector.errors import FatalError
from connector.xdm.cache import DiskCache
from connector.xdm.ref import SchemaRef
from connector.xdm.schemas import LiveSchema, SchemaUnavailable, Timing
from tests.fakes import FakeClock
from tests.unit.xdm.helpers import FakeRegistry, acme_event, event_schema

SID = "https://ns.adobe.com/acme/schemas/t"
V1 = event_schema({"n": {"type": "integer"}}, version="1.0")
V2 = event_schema({"n": {"type": "integer"}, "added": {"type": "string"}}, version="1.1")
TIMING = Timing(refresh_interval_s=300.0, recheck_after_s=60.0)


def live(
    registry: FakeRegistry, cache_dir: Path, clock: FakeClock, ref: SchemaRef | None = None, *, org: str = "ORG"
) -> LiveSchema:
    cache = DiskCache(cache_dir, org=org, sandbox="prod")
    return LiveSchema(ref or SchemaRef("id", SID), registry, cache, clock, TIMING)


def test_first_load_fetches_from_aep_and_writes_the_disk_cache(tmp_path: Path) -> None:
    """A fetched schema is compiled and written to the cache directory as AEP sent it."""
    registry = FakeRegistry({SID: V1})
    schema = live(registry, tmp_path, FakeClock())
    loaded = schema.load()
    assert (loaded.origin, loaded.version) == ("aep", "1.0")
    files = list(tmp_path.glob("schema-*.json"))
    assert len(files) == 1
    assert json.loads(files[0].read_text(encoding="utf-8"))["document"] == V1


def test_aep_down_at_start_uses_the_cached_copy(tmp_path: Path) -> None:
    """A restart during an AEP outage validates with the schema cached by an earlier run."""
    clock = FakeClock()
    live(FakeRegistry({SID: V1}), tmp_path, clock).load()
    down = FakeRegistry({SID: V1})
    down.down = True
    clock.sleep(3600)
    with capture_logs() as logs:
        loaded = live(down, tmp_path, clock).load()
    assert (loaded.origin, loaded.version) == ("cache", "1.0")
    assert not loaded.validator.is_valid(acme_event(n="x"))
    warning = next(e for e in logs if e["event"] == "xdm_schema_from_cache")
    assert warning["age_s"] == 3600 and warning["version"] == "1.0"


def test_aep_down_at_start_without_a_cache_is_unavailable(tmp_path: Path) -> None:
    """No cached copy and AEP unreachable: SchemaUnavailable names the schema and the cache directory."""
    down = FakeRegistry({SID: V1})
    down.down = True
    with pytest.raises(SchemaUnavailable, match=f"AEP is unreachable .* no copy is cached in {tmp_path}"):
        live(down, tmp_path, FakeClock()).load()


def test_cache_is_scoped_to_org_and_sandbox(tmp_path: Path) -> None:
    """Another org's cached copy of the same $id is never used."""
    clock = FakeClock()
    live(FakeRegistry({SID: V1}), tmp_path, clock, org="ORG-A").load()
    down = FakeRegistry()
    down.down = True
    with pytest.raises(SchemaUnavailable):
        live(down, tmp_path, clock, org="ORG-B").load()


def test_unwritable_cache_dir_is_logged_once_and_validation_goes_on(tmp_path: Path) -> None:
    """A cache directory that cannot be written costs the fallback only: one warning, schema in memory."""
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    schema = live(FakeRegistry({SID: V1}), blocker / "sub", FakeClock())
    with capture_logs() as logs:
        schema.load()
        schema.refresh()
    assert [e["event"] for e in logs].count("xdm_cache_not_writable") == 1
    assert schema.current is not None and schema.current.origin == "aep"


def test_refresh_is_due_after_the_interval_and_keeps_an_unchanged_schema(tmp_path: Path) -> None:
    """Before the interval nothing is due; an unchanged document is not recompiled."""
    clock = FakeClock()
    registry = FakeRegistry({SID: V1})
    schema = live(registry, tmp_path, clock)
    first = schema.load().validator
    clock.sleep(299)
    assert not schema.due()
    clock.sleep(1)
    assert schema.due()
    assert schema.refresh() is False
    assert schema.current is not None and schema.current.validator is first
    assert registry.schema_calls == 2 and not schema.due()


def test_version_change_swaps_the_validator(tmp_path: Path) -> None:
    """A new schema version (a field added in AEP) is compiled and used from the next record on."""
    clock = FakeClock()
    registry = FakeRegistry({SID: V1})
    schema = live(registry, tmp_path, clock)
    schema.load()
    assert schema.current is not None and not schema.current.validator.is_valid(acme_event(added="x"))
    registry.docs[SID] = V2
    clock.sleep(300)
    with capture_logs() as logs:
        assert schema.refresh() is True
    assert schema.current.version == "1.1"
    assert schema.current.validator.is_valid(acme_event(added="x"))
    assert {
        "event": "xdm_schema_updated",
        "schema": SID,
        "old_version": "1.0",
        "version": "1.1",
        "log_level": "info",
    } in logs


def test_refresh_failures_keep_the_schema_and_log_once_per_streak(tmp_path: Path) -> None:
    """AEP down during refreshes: the current schema stays, one warning, then one line on recovery."""
    clock = FakeClock()
    registry = FakeRegistry({SID: V1})
    schema = live(registry, tmp_path, clock)
    schema.load()
    registry.down = True
    with capture_logs() as logs:
        for _ in range(20):
            clock.sleep(300)
            assert schema.refresh() is False
        registry.down = False
        clock.sleep(300)
        schema.refresh()
    events = [e["event"] for e in logs]
    assert events.count("xdm_schema_refresh_failed") <= 20 * 300 // 600 + 1
    assert events.count("xdm_schema_refresh_failed") >= 1
    assert events.count("xdm_schema_refresh_recovered") == 1
    assert schema.current is not None and schema.current.version == "1.0"


def test_failed_refresh_is_retried_sooner_than_the_interval(tmp_path: Path) -> None:
    """After a failure the next attempt comes after a short backoff, not a whole interval."""
    clock = FakeClock()
    registry = FakeRegistry({SID: V1})
    schema = live(registry, tmp_path, clock)
    schema.load()
    registry.down = True
    clock.sleep(300)
    schema.refresh()
    clock.sleep(10)
    assert schema.due()


def test_recheck_after_a_violation_refreshes_at_most_once_per_recheck_interval(tmp_path: Path) -> None:
    """A failing record may trigger an early refresh, but not more often than recheck_after_s."""
    clock = FakeClock()
    registry = FakeRegistry({SID: V1})
    schema = live(registry, tmp_path, clock)
    schema.load()
    assert schema.recheck() is False  # just fetched
    registry.docs[SID] = V2
    clock.sleep(61)
    assert schema.recheck() is True
    assert schema.current is not None and schema.current.version == "1.1"
    calls = registry.schema_calls
    clock.sleep(1)
    assert schema.recheck() is False and registry.schema_calls == calls


def test_recheck_is_skipped_while_aep_is_unreachable(tmp_path: Path) -> None:
    """With the schema from the cache (AEP down) a failing record never waits on a fetch."""
    clock = FakeClock()
    live(FakeRegistry({SID: V1}), tmp_path, clock).load()
    down = FakeRegistry({SID: V1})
    down.down = True
    schema = live(down, tmp_path, clock)
    schema.load()
    calls = down.schema_calls
    clock.sleep(3600)
    assert schema.recheck() is False and down.schema_calls == calls


def test_from_dataset_resolves_once_and_caches_the_binding(tmp_path: Path) -> None:
    """from-dataset reads the dataset's schemaRef.id; a restart with AEP down finds both in the cache."""
    clock = FakeClock()
    registry = FakeRegistry({SID: V1}, datasets={"ds1": SID})
    schema = live(registry, tmp_path, clock, SchemaRef("dataset", "ds1"))
    assert schema.load().schema_id == SID and schema.schema_id == SID
    clock.sleep(300)
    schema.refresh()
    assert registry.dataset_calls == 1
    down = FakeRegistry()
    down.down = True
    again = live(down, tmp_path, clock, SchemaRef("dataset", "ds1"))
    assert again.load().origin == "cache" and again.schema_id == SID


def test_missing_schema_or_dataset_is_fatal(tmp_path: Path) -> None:
    """AEP answering 404 is not retried into the cache: a person must fix the mapping."""
    clock = FakeClock()
    with pytest.raises(FatalError, match="does not exist in the Schema Registry"):
        live(FakeRegistry(), tmp_path, clock).load()
    with pytest.raises(FatalError, match="dataset nope does not exist"):
        live(FakeRegistry(), tmp_path, clock, SchemaRef("dataset", "nope")).load()


def test_corrupt_cache_entry_is_ignored(tmp_path: Path) -> None:
    """A truncated cache file is logged and skipped, as if nothing was cached."""
    clock = FakeClock()
    live(FakeRegistry({SID: V1}), tmp_path, clock).load()
    for f in tmp_path.glob("schema-*.json"):
        f.write_text("{trunc", encoding="utf-8")
    down = FakeRegistry()
    down.down = True
    with pytest.raises(SchemaUnavailable):
        live(down, tmp_path, clock).load()


def test_file_schema_is_loaded_and_never_refreshed(tmp_path: Path) -> None:
    """An exported schema file is compiled at load and not fetched again."""
    path = tmp_path / "t.xdm.json"
    path.write_text(json.dumps(V1), encoding="utf-8")
    registry = FakeRegistry()
    schema = live(registry, tmp_path, FakeClock(), SchemaRef("file", str(path)))
    assert schema.load().origin == "file"
    assert not schema.due() and schema.recheck() is False and registry.schema_calls == 0
