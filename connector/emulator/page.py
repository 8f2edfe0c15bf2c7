"""The server-rendered page at `/`: datasets, inlets, a profile search, recent and failed records."""

from __future__ import annotations

import time
from html import escape
from typing import TYPE_CHECKING, Any

from connector.emulator.edge import DATASTREAMS, STATS_PREFIX
from connector.emulator.http import Request
from connector.emulator.registry import DATASETS, INLETS
from connector.emulator.stats import NO_DATASET
from connector.numbers import json_bytes

if TYPE_CHECKING:
    from connector.emulator.app import EmulatorApp

RECENT = 15

CSS = """
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f4f5f7;color:#1d2433}
header{background:#1d2433;color:#fff;padding:14px 28px;display:flex;align-items:baseline;gap:18px}
header h1{font-size:18px;margin:0;font-weight:600}
header .meta{color:#aab3c5;font-size:12.5px}
main{max-width:1220px;margin:0 auto;padding:20px 28px 40px}
.cards{display:grid;grid-template-columns:repeat(5,1fr);gap:12px;margin-bottom:18px}
.card{background:#fff;border-radius:8px;padding:12px 16px;box-shadow:0 1px 2px rgba(20,30,50,.08)}
.card .n{font-size:24px;font-weight:600}
.card .l{color:#5b6578;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
section{overflow-x:auto;background:#fff;border-radius:8px;padding:16px 18px;margin-bottom:18px;
box-shadow:0 1px 2px rgba(20,30,50,.08)}
section h2{font-size:15px;margin:0 0 10px}
.grid2{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:18px;margin-bottom:18px}
.grid2 section{margin-bottom:0}
table{width:100%;border-collapse:collapse;font-size:13px}
th{text-align:left;color:#5b6578;font-weight:600;border-bottom:1px solid #e3e6ec;padding:6px 8px}
td{border-bottom:1px solid #f0f1f4;padding:6px 8px;vertical-align:top}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;white-space:nowrap}
td.wrap .mono{white-space:normal;word-break:break-all}
td.nw{white-space:nowrap}
.muted{color:#8a93a5}
.bad{color:#b42318}
.ok{color:#067647}
form{display:flex;gap:8px;margin-bottom:12px}
input{padding:7px 10px;border:1px solid #cfd4dc;border-radius:6px;font:inherit}
input[name=ns]{width:140px}
input[name=id]{flex:1}
button{padding:7px 16px;border:0;border-radius:6px;background:#2f5bea;color:#fff;font:inherit;cursor:pointer}
pre{background:#f7f8fa;border:1px solid #e3e6ec;border-radius:6px;padding:10px 12px;overflow:auto;max-height:340px;
margin:0;font-size:12px}
.chip{display:inline-block;background:#eef2ff;color:#3446a8;border-radius:10px;padding:1px 9px;margin:0 4px 4px 0;
font-size:12px}
.profile{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:16px}
.empty{color:#8a93a5;font-style:italic}
"""


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _time(ms: Any) -> str:
    return time.strftime("%H:%M:%S", time.localtime(int(ms) / 1000)) if isinstance(ms, int) else ""


def _short(value: Any, n: int = 12) -> str:
    text = str(value or "")
    return f'<span class="mono" title="{_e(text)}">{_e(text[:n])}{"…" if len(text) > n else ""}</span>'


def _table(headers: list[str], rows: list[list[str]], empty: str) -> str:
    """Headers starting with '#' are numeric columns, with '~' wrapping text columns."""
    if not rows:
        return f'<p class="empty">{_e(empty)}</p>'
    classes = [' class="num"' if h[0] == "#" else ' class="wrap"' if h[0] == "~" else "" for h in headers]
    names = [h.lstrip("#~") for h in headers]
    head = "".join(f"<th{c}>{n}</th>" for c, n in zip(classes, names, strict=True))
    body = "".join(
        "<tr>" + "".join(f"<td{c}>{cell}</td>" for c, cell in zip(classes, row, strict=True)) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cards(totals: dict[str, Any], faults: int) -> str:
    items = [
        ("Accepted", totals["accepted"]),
        ("Rejected", totals["rejected"]),
        ("Failed (async)", totals["failed"]),
        ("Duplicates", totals["duplicates"]),
        ("Requests", totals["requests"]),
        ("Faults injected", faults),
    ]
    return (
        '<div class="cards">'
        + "".join(
            f'<div class="card"><div class="n">{n:,}</div><div class="l">{_e(label)}</div></div>' for label, n in items
        )
        + "</div>"
    )


def _datasets(app: EmulatorApp, stats: dict[str, Any]) -> str:
    per = stats["datasets"]
    rows = []
    known = dict(app.store.items(DATASETS))
    for ds_id in list(known) + [d for d in per if d not in known]:
        doc = known.get(ds_id, {})
        counts = per.get(ds_id, {"accepted": 0, "rejected": 0, "duplicates": 0, "failed": 0})
        schema = (doc.get("schemaRef") or {}).get("id", "")
        name = doc.get("name") or ("no dataset in header" if ds_id == NO_DATASET else "unregistered")
        rows.append(
            [
                _e(name),
                _short(ds_id, 14),
                _short(schema.rsplit("/", 1)[-1], 12),
                f"{counts['accepted']:,}",
                f"{counts['rejected']:,}",
                f"{counts['failed']:,}",
                f"{counts['duplicates']:,}",
            ]
        )
    headers = ["Name", "Dataset", "Schema", "#Accepted", "#Rejected", "#Failed", "#Dupes"]
    return _table(headers, rows, "No datasets yet.")


def _inlets(app: EmulatorApp, stats: dict[str, Any]) -> str:
    per = stats["inlets"]
    rows = []
    known = dict(app.store.items(INLETS))
    for inlet_id in list(known) + [i for i in per if i not in known and not i.startswith(STATS_PREFIX)]:
        doc = known.get(inlet_id, {})
        counts = per.get(inlet_id, {"accepted": 0, "rejected": 0})
        auth = "token" if doc.get("authenticationRequired") else "open"
        rows.append(
            [
                _e(doc.get("name", "ad-hoc")),
                _short(inlet_id, 16),
                _e(auth),
                _e(doc.get("dataType", "xdm")),
                f"{counts['accepted']:,}",
                f"{counts['rejected']:,}",
            ]
        )
    return _table(["Name", "Inlet", "Auth", "Data", "#Accepted", "#Rejected"], rows, "No inlets yet.")


def _datastreams(app: EmulatorApp, stats: dict[str, Any]) -> str:
    """Edge Network datastreams: where their events go and how many were accepted."""
    rows = []
    for ds_id, doc in app.store.items(DATASTREAMS):
        counts = stats["inlets"].get(STATS_PREFIX + ds_id, {"accepted": 0, "rejected": 0, "requests": 0})
        rows.append(
            [
                _e(doc.get("name", "")),
                _short(ds_id, 14),
                _short(doc.get("datasetId"), 14),
                _e("token" if doc.get("authenticatedOnly") else "any"),
                f"{counts.get('requests', 0):,}",
                f"{counts['accepted']:,}",
            ]
        )
    return _table(["Name", "Datastream", "Dataset", "Auth", "#Requests", "#Accepted"], rows, "No datastreams.")


def _profile(app: EmulatorApp, ns: str, identity: str) -> str:
    form = (
        '<form method="get" action="/"><input name="ns" placeholder="namespace" value="'
        f'{_e(ns or "email")}"><input name="id" placeholder="identity, e.g. jdoe@example.com" value="{_e(identity)}">'
        "<button>Find profile</button></form>"
    )
    if not identity:
        return form + '<p class="empty">Search by identity namespace and value to see the merged profile.</p>'
    with app.store.lock:
        found = app.store.profiles.profile(ns, identity)
        _, events = app.store.profiles.events(ns, identity)
    if found is None and not events:
        return form + f'<p class="bad">No profile found for {_e(ns)}: {_e(identity)}.</p>'
    parts = [form]
    if found is not None:
        chips = "".join(
            f'<span class="chip">{_e(i["namespace"]["code"])}: {_e(i["id"])}</span>' for i in found["identities"]
        )
        entity = json_bytes(found["entity"], indent=True, sort_keys=True).decode()
        parts.append(
            f'<p id="profile-found" class="ok">Profile <code>{_e(found["entityId"])}</code> from '
            f"{len(found['sources'])} dataset(s), last modified {_e(found['lastModifiedAt'])}</p>"
            f"<div>{chips}</div>"
        )
        entity_html = f'<pre id="profile-entity">{_e(entity)}</pre>'
    else:
        entity_html = '<p class="empty">No record fragments, events only.</p>'
    rows = [
        [
            _short(time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(e.timestamp_ms / 1000)), 19),
            _short(e.event_id, 20),
            _e(e.entity.get("eventType", "")),
            _short(e.dataset_id, 14),
        ]
        for e in events[-50:]
    ]
    parts.append(
        f'<div class="profile"><div><h2>Merged profile</h2>{entity_html}</div>'
        f"<div><h2>Experience events ({len(events)})</h2>"
        f"{_table(['Timestamp', 'Event _id', 'Type', 'Dataset'], rows, 'No events.')}</div></div>"
    )
    return "".join(parts)


def _recent(app: EmulatorApp, total: int) -> str:
    rows = []
    for r in reversed(app.store.records(offset=max(0, total - RECENT))):
        entity = r.get("xdmEntity", r.get("raw", {}))
        text = json_bytes(entity).decode()
        rows.append(
            [
                _e(_time(r.get("receivedTimeMs"))),
                _short(r.get("datasetId"), 14),
                _e(r.get("xactionId", "")) + (' <span class="muted">dup</span>' if r.get("duplicate") else ""),
                f'<span class="mono">{_e(text[:110])}{"…" if len(text) > 110 else ""}</span>',
            ]
        )
    empty = "Nothing accepted yet." if app.store.kind != "count" else "The count store keeps no records."
    return _table(["Time", "Dataset", "xactionId", "~Entity"], rows, empty)


def _failed(app: EmulatorApp) -> str:
    failed = app.store.failed()
    rows = []
    for f in reversed(failed[-RECENT:]):
        reason = str(f.get("message", "")).split("] ", 2)[-1]
        where = f"batch {f['batchId']}" if f.get("batchId") else "rejected (400)"
        rows.append(
            [
                _e(_time(f.get("receivedTimeMs"))),
                _short(f.get("datasetId"), 14),
                _e(where),
                f'<span class="bad">{_e(reason[:220])}</span>',
            ]
        )
    return _table(["Time", "Dataset", "Where", "~Reason"], rows, "No failed records.")


def render_page(app: EmulatorApp, req: Request) -> str:
    stats = app.store.stats()
    totals = stats["totals"]
    ns, identity = (req.q("ns") or "email").strip(), (req.q("id") or "").strip()
    opts = app.options
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1"><title>AEP emulator</title>'
        f"<style>{CSS}</style></head><body>"
        f'<header><h1>AEP emulator</h1><span class="meta">{_e(app.base_url())} · store {_e(app.store.kind)} · '
        f"tenant _{_e(opts.tenant_id)} · org {_e(opts.default_org)}</span></header><main>"
        f"{_cards(totals, totals['faults'])}"
        f"<section><h2>Profile search</h2>{_profile(app, ns, identity)}</section>"
        f'<div class="grid2"><section><h2>Datasets</h2>{_datasets(app, stats)}</section>'
        f"<section><h2>Inlets</h2>{_inlets(app, stats)}</section></div>"
        f"<section><h2>Edge Network datastreams</h2>{_datastreams(app, stats)}</section>"
        f"<section><h2>Recent records</h2>{_recent(app, totals['lake'])}</section>"
        f"<section><h2>Failed records</h2>{_failed(app)}</section>"
        "</main></body></html>"
    )
