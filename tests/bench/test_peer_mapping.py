"""The bench's peers send exactly what the connector sends for the bench workload."""

from __future__ import annotations

import orjson

from bench import workload
from bench.hotpath import bench_mapping
from bench.peers.xdm_map import to_xdm
from connector.records import SourceRecord


def test_hand_written_peer_mapping_builds_the_connectors_envelope() -> None:
    """For every event template, to_xdm gives the bench mapping's envelope, byte for byte once serialised."""
    mapping = bench_mapping("t")
    for i in range(200):
        raw = workload.json_event(i)
        ts = 1_700_000_000_000 + i
        ours = mapping.map(SourceRecord("t", i % 4, i, str(i).encode(), raw, (), ts), orjson.loads(raw))
        theirs = to_xdm(orjson.loads(raw), ts, f"t/{i % 4}/{i}")
        assert ours == theirs
        assert orjson.dumps(ours) == orjson.dumps(theirs)
