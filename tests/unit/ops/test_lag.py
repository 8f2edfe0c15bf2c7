"""Lag rows, topic resolution, table output and the gauge refresher, with a fake AdminClient."""

from __future__ import annotations

from concurrent.futures import Future
from types import SimpleNamespace
from typing import Any

from connector.config import KafkaSettings
from connector.observability import metrics as m
from connector.observability.lag import LagMonitor
from connector.ops.lag import LagReader, LagRow, as_json, compute_rows, format_table, resolve_topics, total_lag


def _done(value: Any) -> Future[Any]:
    f: Future[Any] = Future()
    f.set_result(value)
    return f


class FakeAdmin:
    """Topics with (start, end) offsets per partition and one group's commits."""

    def __init__(self, topics: dict[str, dict[int, tuple[int, int]]], commits: dict[tuple[str, int], int]) -> None:
        self.topics = topics
        self.commits = commits

    def list_topics(self, timeout: float) -> Any:
        meta = {n: SimpleNamespace(error=None, partitions=dict.fromkeys(ps)) for n, ps in self.topics.items()}
        meta["__consumer_offsets"] = SimpleNamespace(error=None, partitions={0: None})
        return SimpleNamespace(topics=meta)

    def poll(self, timeout: float) -> int:
        return 0

    def committed(self, group: str, keys: Any) -> dict[tuple[str, int], int]:
        """The CommittedReader the LagReader is given: commits of the asked partitions only."""
        return {k: o for k, o in self.commits.items() if k in set(keys)}

    def list_offsets(self, request: dict[Any, Any], request_timeout: float) -> dict[Any, Future[Any]]:
        out = {}
        for tp, spec in request.items():
            start, end = self.topics[tp.topic][tp.partition]
            latest = "latest" in repr(spec).lower() or getattr(spec, "_value", None) == -1
            out[tp] = _done(SimpleNamespace(offset=end if latest else start))
        return out


def test_resolve_topics_keeps_names_and_expands_regexes() -> None:
    """Plain names stay as given; ^regexes match whole names and never internal topics."""
    available = ["orders", "orders-eu", "orders.dlq", "__consumer_offsets", "users"]
    assert resolve_topics(["users", "^orders(-.*)?$"], available) == ["orders", "orders-eu", "users"]
    assert resolve_topics(["^.*$"], ["__x", "a"]) == ["a"]


def test_compute_rows_counts_from_commit_or_log_start() -> None:
    """Lag is end - committed; without a commit it is end - log start (auto.offset.reset=earliest)."""
    rows = compute_rows({"t": [1, 0]}, {("t", 0): 7}, {("t", 0): 10, ("t", 1): 5}, {("t", 1): 2})
    assert rows == [LagRow("t", 0, 7, 10, 3), LagRow("t", 1, None, 5, 3)]
    assert total_lag(rows) == 6


def test_compute_rows_never_reports_negative_lag() -> None:
    """A commit beyond the end (truncated log) reports lag 0."""
    assert compute_rows({"t": [0]}, {("t", 0): 12}, {("t", 0): 10}, {})[0].lag == 0


def test_reader_covers_every_partition_of_the_configured_topics() -> None:
    """With topics, rows cover every partition of them, committed or not."""
    admin = FakeAdmin({"a": {0: (0, 10), 1: (4, 8)}, "b": {0: (0, 3)}, "c": {0: (0, 1)}}, {("b", 0): 1, ("a", 0): 6})
    rows = LagReader({}, admin=admin, committed=admin.committed).rows("g", ["^a$"])
    assert rows == [LagRow("a", 0, 6, 10, 4), LagRow("a", 1, None, 8, 4)]


def test_reader_of_any_group_covers_its_committed_partitions() -> None:
    """Without topics (another group), rows cover exactly the partitions that group committed."""
    admin = FakeAdmin({"a": {0: (0, 10), 1: (4, 8)}, "b": {0: (0, 3)}, "c": {0: (0, 1)}}, {("b", 0): 1, ("a", 0): 6})
    rows = LagReader({}, admin=admin, committed=admin.committed).rows("g")
    assert rows == [LagRow("a", 0, 6, 10, 4), LagRow("b", 0, 1, 3, 2)]


def test_format_table_and_json_show_totals() -> None:
    """The table has one line per partition and the total; the JSON carries the same numbers."""
    rows = [LagRow("topic-a", 0, 5, 9, 4), LagRow("topic-a", 1, None, 3, 3)]
    text = format_table("g1", rows)
    lines = text.splitlines()
    assert lines[0] == "group g1"
    assert lines[2].split() == ["topic-a", "0", "5", "9", "4"]
    assert lines[3].split() == ["topic-a", "1", "-", "3", "3"]
    assert lines[-1] == "total lag 7 over 2 partition(s)"
    doc = as_json("g1", rows)
    assert doc["total_lag"] == 7 and doc["partitions"][1]["committed"] is None


def test_monitor_publishes_gauges_and_drops_vanished_partitions() -> None:
    """Each refresh sets lag, committed and end gauges; partitions no longer present lose their series."""
    admin = FakeAdmin({"mon-a": {0: (0, 10), 1: (0, 4)}}, {("mon-a", 0): 6})
    kafka = KafkaSettings("unused:9092", "g", ("mon-a",))
    monitor = LagMonitor(kafka, 5.0, LagReader({}, admin=admin, committed=admin.committed))
    monitor.refresh()
    assert m.CONSUMER_LAG.labels("mon-a", "0")._value.get() == 4
    assert m.COMMITTED_OFFSET.labels("mon-a", "0")._value.get() == 6
    assert m.END_OFFSET.labels("mon-a", "1")._value.get() == 4
    admin.topics = {"mon-a": {0: (0, 12)}}
    monitor.refresh()
    samples = {(s.labels["topic"], s.labels["partition"]) for s in next(iter(m.CONSUMER_LAG.collect())).samples}
    assert ("mon-a", "1") not in samples and ("mon-a", "0") in samples
    assert m.CONSUMER_LAG.labels("mon-a", "0")._value.get() == 6


def test_missing_topics_are_names_absent_and_regexes_matching_nothing() -> None:
    """A name not in the cluster and a ^regex that matches no (non-internal) topic are missing."""
    from connector.ops.lag import missing_topics

    available = ["a", "b-1", "__consumer_offsets"]
    assert missing_topics(["a", "c", "^b-.*", "^__.*", "^z.*"], available) == ["c", "^__.*", "^z.*"]
