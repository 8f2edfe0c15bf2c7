"""AEP side of `check --connect`: IMS, the DCS inlets, the schema registry. Nothing is ingested.

The DCS probe posts `{"messages": []}` to each route's batch endpoint
(`/collection/batch/{inlet}`) with the headers the worker sends (flow id, sandbox, IMS org and,
with auth on, a fresh IMS token). A batch with no messages carries nothing DCS could ingest,
whatever it answers, and the answer still says what the worker will meet:
    2xx, or 400 for the empty batch    the inlet exists and accepted the request's headers/token: ok
    401 / 403                          the inlet wants a token, or this token may not write here: config
    3xx, 404, 405                      no such inlet at that URL: config
    408, 429, 5xx, no connection       unreachable (or throttled) right now
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import requests

from connector.aep.dcs import DcsSink
from connector.aep.ims import TokenProvider
from connector.aep.responses import problem_message
from connector.aep.transport import make_session, timeouts, verify
from connector.config import Settings
from connector.errors import ConfigError, DecodeError, FatalError, RetriableError
from connector.ops.checks import Finding
from connector.ops.lag import resolve_topics
from connector.records import Route
from connector.serde.registry_write import RegistryWriter, value_subject

EMPTY_BATCH = b'{"messages":[]}'


def check_ims(settings: Settings, session: requests.Session) -> tuple[Finding | None, TokenProvider | None]:
    """(finding, token provider) when auth is on; (None, None) when it is off."""
    auth = settings.aep.auth
    if not auth.enabled:
        return None, None
    transport = settings.aep.transport
    tokens = TokenProvider(auth, session, timeout=timeouts(transport), verify=verify(transport))
    try:
        tokens.check()
    except FatalError as exc:
        return Finding("ims", "config", str(exc)), None
    except RetriableError as exc:
        return Finding("ims", "unreachable", str(exc)), None
    return Finding("ims", "ok", f"token obtained from {auth.token_url} for client_id {auth.client_id}"), tokens


def check_inlets(
    settings: Settings, routes: Sequence[Route], session: requests.Session, tokens: TokenProvider | None
) -> list[Finding]:
    sink = DcsSink(settings.aep, settings.delivery, session=session, tokens=tokens)
    out: list[Finding] = []
    for route in sorted(set(routes), key=lambda r: r.inlet_url):
        if route.authenticated and tokens is None:
            out.append(Finding("dcs", "skipped", f"{route.inlet_url}: needs an IMS token (see ims)"))
            continue
        out.append(_probe_inlet(sink, route, session, tokens, settings))
    return out


def _probe_inlet(
    sink: DcsSink, route: Route, session: requests.Session, tokens: TokenProvider | None, settings: Settings
) -> Finding:
    url = route.batch_url
    headers = sink.headers(route, tokens.token() if route.authenticated and tokens is not None else None)
    transport = settings.aep.transport
    try:
        answer = session.post(url, data=EMPTY_BATCH, headers=headers, timeout=timeouts(transport),
                              verify=verify(transport), allow_redirects=False)  # fmt: skip
    except requests.RequestException as exc:
        return Finding("dcs", "unreachable", f"{url}: {_reason(exc, sink)}")
    status = answer.status_code
    message = sink.scrub(problem_message(answer.content, status))[:300]
    if 200 <= status < 300:
        return Finding("dcs", "ok", f"{url}: reachable, accepted an empty batch (HTTP {status}; nothing to ingest)")
    if status == 400:
        return Finding("dcs", "ok", f"{url}: reachable, refused the empty batch before ingestion (HTTP 400: {message})")
    if status in (401, 403):
        hint = "enable aep.auth" if status == 401 and not route.authenticated else "check the credentials and org"
        return Finding("dcs", "config", f"{url}: HTTP {status} ({message}): {hint}")
    if 300 <= status < 400 or status in (404, 405):
        return Finding("dcs", "config", f"{url}: HTTP {status}: no such inlet here; check aep.inlet_url")
    return Finding("dcs", "unreachable", f"{url}: HTTP {status}: {message}")


def _reason(exc: requests.RequestException, sink: DcsSink) -> str:
    """`ConnectionError ([Errno 111] Connection refused)` rather than urllib3's paragraph."""
    text = sink.scrub(str(exc))
    found = re.search(r"\[Errno -?\d+\] [^'\")]+|timed out|Name or service not known", text)
    return f"{type(exc).__name__} ({found.group(0).strip() if found else text[:200]})"


def check_registry(settings: Settings, mappings: Sequence[Any], cluster_topics: Sequence[str] = ()) -> list[Finding]:
    """Reachable and authorised; whether `<topic>-value` exists for each Avro topic (or topic a ^regex matches)."""
    uses = [m for m in mappings if m.format == "avro" or getattr(m, "key_format", "") == "avro"]
    if not settings.schema_registry.url:
        return []
    try:
        registry = RegistryWriter.from_settings(settings.schema_registry)
        registry.check()
        subjects = set(registry.subjects())
    except (FatalError, ConfigError, DecodeError) as exc:
        return [Finding("registry", "config", str(exc))]
    except RetriableError as exc:
        return [Finding("registry", "unreachable", str(exc))]
    out = [Finding("registry", "ok", f"{registry.url}: reachable, {len(subjects)} subject(s)")]
    for m in uses:
        for topic in resolve_topics(m.topics, cluster_topics):
            subject = value_subject(topic)
            if subject in subjects:
                out.append(Finding("registry", "ok", f"{subject} found (mapping {m.name})"))
            else:
                out.append(Finding("registry", "warn", f"{subject} not found (mapping {m.name}): fine until the "
                                   "first record; other subject name strategies are not checked"))  # fmt: skip
    return out


def check_aep(settings: Settings, mappings: Sequence[Any], cluster_topics: Sequence[str] = ()) -> list[Finding]:
    session = make_session(settings.aep.transport)
    try:
        ims, tokens = check_ims(settings, session)
        findings = [ims] if ims is not None else []
        findings += check_inlets(settings, [m.route for m in mappings], session, tokens)
    finally:
        session.close()
    return findings + check_registry(settings, mappings, cluster_topics)
