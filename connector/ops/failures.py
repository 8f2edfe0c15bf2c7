"""Records AEP accepted and then failed: the failed streaming batches of the configured datasets.

DCS validates XDM asynchronously (streaming-api.md §1.8): a message that breaks its schema gets a
success entry in the 207 (so the connector commits it), and streaming validation later writes it
to a failed batch of its dataset. An Edge Network event that breaks its dataset's schema is
accepted by the Edge and fails the same way. This module brings those records back:
  1. datasets: every DCS mapping's `dataset_id`, plus the target dataset of each dataflow named by
     `aep.flow_id` or a mapping's `flow_id` (Flow Service: flow -> target connection -> dataSetId);
     every edge mapping's event dataset override (`datastream_overrides`), else its `dataset_id`
     (the datastream's event dataset: Adobe documents no API that reads a datastream);
  2. Catalog: `GET /data/foundation/catalog/batches?dataSet=D&createdAfter=T`, paged, keeping the
     batches whose status is `failed` or whose `failedRecordCount` is above 0;
  3. Data Access: `GET /data/foundation/export/batches/{id}/failed` lists the failed files,
     `...?path=F` downloads one (JSON Lines or JSON; each record with `_validationErrors`).
Batches still open (`loading`, `processing`, ...) are counted, not read: their failures are not final.
`connector.ops.event_origins` finds the Kafka origin of Edge events (they carry no `header.msgId`);
`connector.ops.failed_dead_letters` writes what this finds to the dead-letter topic.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from connector.config import Settings
from connector.numbers import json_bytes
from connector.ops.platform import NotFound, PlatformClient
from connector.serde.json import loads_exact

CATALOG_BATCHES = "/data/foundation/catalog/batches"
EXPORT = "/data/foundation/export/batches"
FLOWS = "/data/foundation/flowservice"
PAGE = 100
MAX_PAGES = 100
OPEN_STATUSES = frozenset({"loading", "processing", "queued", "retrying", "staging", "staged", "loaded"})
FAILED_STATUSES = frozenset({"failed", "failure"})
_ERROR_KEYS = ("_validationErrors", "_errors")
Origin = tuple[str, int, int]


@dataclass(frozen=True, slots=True)
class FailedRecord:
    """One record of a failed-batch file: AEP's errors, and the message when the file holds it."""

    batch_id: str
    dataset_id: str
    file: str
    line: int
    errors: tuple[dict[str, Any], ...]
    message: dict[str, Any] | None
    found_origin: Origin | None = None
    """The Kafka record found for an event without `header.msgId` (connector.ops.event_origins)."""

    @property
    def key(self) -> str:
        """Names this failed record for good: `<batch id>/<file>/<line>`."""
        return f"{self.batch_id}/{self.file}/{self.line}"

    @property
    def origin(self) -> Origin | None:
        """The Kafka record it came from: `header.msgId` (`topic/partition/offset`, set by the connector on DCS
        envelopes), else the one found from an Edge event's `_id`."""
        header = (self.message or {}).get("header")
        msg_id = header.get("msgId") if isinstance(header, dict) else None
        if not isinstance(msg_id, str):
            return self.found_origin
        topic, _, rest = msg_id.rpartition("/")
        topic, _, partition = topic.rpartition("/")
        if not topic or not partition.isdigit() or not rest.isdigit():
            return self.found_origin
        return topic, int(partition), int(rest)

    @property
    def event_id(self) -> str | None:
        """The XDM `_id` of the failed entity, when the file holds it."""
        value = (self.entity or {}).get("_id")
        return value if isinstance(value, str) else None

    @property
    def entity(self) -> dict[str, Any] | None:
        body = (self.message or {}).get("body")
        entity = body.get("xdmEntity") if isinstance(body, dict) else None
        return entity if isinstance(entity, dict) else None

    def describe(self) -> str:
        """AEP's validation errors in one line: `#/pointer keyword: message; ...`."""
        parts = []
        for err in self.errors:
            keyword = f"{err['keyword']}:" if err.get("keyword") else ""
            head = " ".join(str(x) for x in (err.get("pointerToViolation"), keyword) if x)
            text = err.get("message") or json_bytes(err).decode()
            parts.append(f"{head} {text}".strip())
        return "; ".join(parts) or "failed streaming validation (no error detail in the file)"


@dataclass(slots=True)
class FailedBatch:
    id: str
    dataset_id: str
    status: str
    created_ms: int | None
    completed_ms: int | None
    record_count: int | None
    failed_count: int | None
    records: list[FailedRecord] = field(default_factory=list)


@dataclass(slots=True)
class FailuresReport:
    datasets: dict[str, list[str]]
    """dataset id -> the mappings that write to it."""
    since_ms: int | None
    batches: list[FailedBatch] = field(default_factory=list)
    open_batches: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def records(self) -> list[FailedRecord]:
        return [r for b in self.batches for r in b.records]


def edge_dataset(spec: Mapping[str, Any]) -> str | None:
    """The dataset an edge mapping's events land in: its event dataset override, else its `dataset_id`."""
    overrides = spec.get("datastream_overrides")
    platform = overrides.get("com_adobe_experience_platform") if isinstance(overrides, dict) else None
    datasets = platform.get("datasets") if isinstance(platform, dict) else None
    event = datasets.get("event") if isinstance(datasets, dict) else None
    for ds in (event.get("datasetId") if isinstance(event, dict) else None, spec.get("dataset_id")):
        if isinstance(ds, str) and ds:
            return ds
    return None


def configured_datasets(settings: Settings, client: PlatformClient | None) -> tuple[dict[str, list[str]], list[str]]:
    """dataset id -> mapping names, from `dataset_id` keys, edge mappings' datasets and (through `client`)
    dataflow targets."""
    datasets: dict[str, list[str]] = {}
    flows: dict[str, list[str]] = {}
    notes: list[str] = []
    for source in settings.mappings:
        if source.spec.get("destination") == "edge":
            ds = edge_dataset(source.spec)
            if ds is None:
                notes.append(
                    f"mapping {source.name} sends to datastream {source.spec.get('datastream_id')}: set its "
                    "dataset_id to the datastream's event dataset to find the events AEP failed there"
                )
            else:
                datasets.setdefault(ds, []).append(source.name)
            continue  # no dataflow: the datastream writes the dataset
        ds = source.spec.get("dataset_id")
        if isinstance(ds, str) and ds:
            datasets.setdefault(ds, []).append(source.name)
        flow = source.spec.get("flow_id") or settings.aep.flow_id
        if isinstance(flow, str) and flow:
            flows.setdefault(flow, []).append(source.name)
    for flow, names in flows.items():
        if client is None:
            break
        ds = flow_dataset(client, flow)
        if ds is None:
            notes.append(f"dataflow {flow}: no target dataset found in Flow Service")
            continue
        for name in names:
            if name not in datasets.setdefault(ds, []):
                datasets[ds].append(name)
    return datasets, notes


def flow_dataset(client: PlatformClient, flow_id: str) -> str | None:
    """The data lake dataset a dataflow writes to: its target connection's `params.dataSetId`."""
    try:
        flow = _first_item(client.get(f"{FLOWS}/flows/{flow_id}"))
        for target_id in flow.get("targetConnectionIds") or []:
            target = _first_item(client.get(f"{FLOWS}/targetConnections/{target_id}"))
            params = target.get("params") or {}
            ds = params.get("dataSetId") or params.get("datasetId")
            if isinstance(ds, str) and ds:
                return ds
    except NotFound:
        return None
    return None


def _first_item(doc: Any) -> dict[str, Any]:
    items = doc.get("items") if isinstance(doc, dict) else None
    first = items[0] if isinstance(items, list) and items else None
    return first if isinstance(first, dict) else {}


def list_batches(client: PlatformClient, dataset_id: str, since_ms: int | None) -> Iterator[dict[str, Any]]:
    """The dataset's Catalog batches created after `since_ms`, oldest first, across pages."""
    for page in range(MAX_PAGES):
        params = {"dataSet": dataset_id, "limit": str(PAGE), "start": str(page * PAGE), "orderBy": "asc:created"}
        if since_ms is not None:
            params["createdAfter"] = str(since_ms)
        doc = client.get(CATALOG_BATCHES, params=params)
        batches = [{"id": k, **v} for k, v in doc.items() if isinstance(v, dict)] if isinstance(doc, dict) else []
        yield from batches
        if len(batches) < PAGE:
            return


def _metric(batch: dict[str, Any], metric: str, top_level: str) -> int | None:
    """A count from `metrics` (error-diagnostics guide), else from the batch itself (catalog.yaml)."""
    metrics = batch.get("metrics")
    for value in ((metrics if isinstance(metrics, dict) else {}).get(metric), batch.get(top_level)):
        if isinstance(value, int):
            return value
    return None


def failed_count(batch: dict[str, Any]) -> int | None:
    return _metric(batch, "failedRecordCount", "failedRecordCount")


def _count(batch: dict[str, Any]) -> int | None:
    return _metric(batch, "inputRecordCount", "recordCount")


def parse_failed_file(content: bytes) -> list[Any]:
    """A failed file's records: a JSON array, one JSON object, or JSON Lines (a bad line is kept as text)."""
    text = content.strip()
    if not text:
        return []
    try:
        whole = loads_exact(text)
    except ValueError:  # orjson.JSONDecodeError is a ValueError
        whole = None
    if isinstance(whole, list):
        return whole
    if isinstance(whole, dict):
        return [whole]
    out: list[Any] = []
    for raw in text.splitlines():
        if raw.strip():
            try:
                out.append(loads_exact(raw))
            except ValueError:
                out.append(raw.decode("utf-8", "replace"))
    return out


def record_of(batch_id: str, dataset_id: str, file: str, line: int, item: Any) -> FailedRecord:
    if not isinstance(item, dict):
        error = {"message": f"unreadable line in the failed file: {str(item)[:200]}"}
        return FailedRecord(batch_id, dataset_id, file, line, (error,), None)
    errors: list[dict[str, Any]] = []
    for key in _ERROR_KEYS:
        found = item.get(key)
        if isinstance(found, dict):  # `_errors: {_streamingValidation: [...]}` (the legacy form)
            found = [e for v in found.values() if isinstance(v, list) for e in v]
        if isinstance(found, list):
            errors.extend(e if isinstance(e, dict) else {"message": str(e)} for e in found)
    rest = {k: v for k, v in item.items() if k not in _ERROR_KEYS}
    if rest and not ("header" in rest or "body" in rest):
        rest = {"body": {"xdmEntity": rest}}  # a file holding bare entities
    return FailedRecord(batch_id, dataset_id, file, line, tuple(errors), rest or None)


def failed_records(client: PlatformClient, batch_id: str, dataset_id: str) -> list[FailedRecord]:
    """Every failed record of a batch, file by file, line by line."""
    names: list[str] = []
    for page in range(MAX_PAGES):
        doc = client.get(f"{EXPORT}/{batch_id}/failed", params={"start": str(page * PAGE), "limit": str(PAGE)})
        data = doc.get("data") if isinstance(doc, dict) else None
        entries = [d for d in data if isinstance(d, dict)] if isinstance(data, list) else []
        names += [str(d["name"]) for d in entries if d.get("name") and not str(d["name"]).startswith("_")]
        if len(entries) < PAGE:
            break
    out: list[FailedRecord] = []
    for name in names:
        content = client.download(f"{EXPORT}/{batch_id}/failed", params={"path": name})
        out += [record_of(batch_id, dataset_id, name, i, item) for i, item in enumerate(parse_failed_file(content))]
    return out


def collect(
    client: PlatformClient, datasets: dict[str, list[str]], since_ms: int | None, notes: Iterable[str] = ()
) -> FailuresReport:
    """The failed batches of `datasets` since `since_ms`, each with its failed records."""
    report = FailuresReport(datasets, since_ms, notes=list(notes))
    for dataset_id in datasets:
        for batch in list_batches(client, dataset_id, since_ms):
            status = str(batch.get("status", "")).lower()
            failed = failed_count(batch)
            if status in OPEN_STATUSES:
                report.open_batches += 1
                continue
            if status not in FAILED_STATUSES and not failed:
                continue
            created, completed = batch.get("created"), batch.get("completed")
            found = FailedBatch(str(batch["id"]), dataset_id, status, created, completed, _count(batch), failed)
            found.records = failed_records(client, found.id, dataset_id)
            report.batches.append(found)
    return report


def topics_match(patterns: Any, topic: str) -> bool:
    """Whether a mapping's `topics` (names and `^regex` patterns) take `topic`."""
    items = patterns if isinstance(patterns, list) else [patterns]
    return any(
        isinstance(p, str) and (p == topic or (p.startswith("^") and re.fullmatch(p, topic) is not None)) for p in items
    )


def mapping_finder(settings: Settings, report: FailuresReport) -> Callable[[FailedRecord], str | None]:
    """The mapping a failed record came through: the one of its dataset that reads its source topic."""
    specs = {m.name: m.spec for m in settings.mappings}

    def mapping_of(rec: FailedRecord) -> str | None:
        names = report.datasets.get(rec.dataset_id, [])
        origin = rec.origin
        if origin is not None:
            matching = [n for n in names if topics_match(specs.get(n, {}).get("topics"), origin[0])]
            if len(matching) == 1:
                return matching[0]
        return names[0] if len(names) == 1 else None

    return mapping_of
