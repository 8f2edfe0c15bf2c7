"""CompiledMapping: one decoded Kafka record -> one DCS envelope, through code generated once.

`compile_mapping` has codegen.py write one Python function per mapping from the parsed spec,
compiles it with `compile()` and binds it to the runtime helpers below (the only names the
generated code can reach besides builtins). Per record: build the entity (empty values left out),
fill `_id` and `timestamp` for ExperienceEvents, build identityMap, wrap in the envelope.
Everything that goes wrong becomes a MappingError naming the target path and the expression.
"""

from __future__ import annotations

import hashlib
import linecache
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from connector.errors import MappingError
from connector.mapping.codegen import EntityCodegen, envelope_bytes_source, envelope_source
from connector.mapping.compiler import (
    UNSET,
    Namespace,
    all_headers,
    header,
    key_reader,
    now_reader,
    step,
    walk_path,
)
from connector.mapping.envelope import EdgeEvent, Envelope, encode_or_fail
from connector.mapping.functions import CompileEnv, FunctionError, is_empty_value, truthy
from connector.mapping.spec import MappingSpec
from connector.mapping.timestamps import BadTimestamp, FutureTimestamp, future_guard, is_utc_text, normalise
from connector.mapping.values import clean, to_text
from connector.numbers import json_default
from connector.records import Route, SourceRecord

KeyDecoder = Callable[[bytes | None], Any]
Entity = Callable[[SourceRecord, Any, Any], dict[str, Any]]
Payload = Callable[[SourceRecord, Any, Any], bytes]


def _decode_string(b: bytes | None) -> Any:
    return None if b is None else b.decode("utf-8")


def _decode_json(b: bytes | None) -> Any:
    return None if b is None else orjson.loads(b)


def _decode_none(b: bytes | None) -> Any:
    return None


KEY_DECODERS: dict[str, KeyDecoder] = {
    "string": _decode_string,
    "json": _decode_json,
    "none": _decode_none,
    "avro": _decode_none,  # the Avro decoder passes the decoded key to map(key=...)
}


def _fail(target: str, expr: str | None, exc: Exception) -> MappingError:
    if isinstance(exc, MappingError):
        return exc
    if isinstance(exc, FunctionError):
        reason, cause = exc.reason, exc.message
    else:
        reason, cause = "mapping-failed", f"{type(exc).__name__}: {exc}"
    err = MappingError(f"{target}: {cause} (expression: {expr})", target=target, expression=expr, reason=reason)
    err.__cause__ = exc
    return err


def _missing(target: str, expr: str) -> MappingError:
    return MappingError(f"{target}: required value is missing (expression: {expr})", target=target, expression=expr)


def _each_list(src: Any, target: str, expr: str) -> Any:
    """An `each` source that is not a list: one object is a list of one; tuples pass; else an error."""
    if isinstance(src, dict):
        return [src]
    if isinstance(src, list | tuple):
        return src
    raise MappingError(
        f"{target}: each expects a list, got {type(src).__name__} (expression: {expr})",
        target=target,
        expression=expr,
        reason="type-error",
    )


def default_event_id(record: SourceRecord) -> str:
    """Deterministic from the record's position, so a replay dedupes in the Profile store."""
    raw = f"{record.topic}/{record.partition}/{record.offset}".encode()
    return hashlib.sha256(raw).hexdigest()[:32]


def timestamp_check(policy: str, tolerance_s: float, clock: Callable[[], float]) -> Callable[[Any, str], str]:
    """The event timestamp: present, readable (RFC 3339 UTC), and past the mapping's future policy.

    Text already in the form `rfc3339` writes (what most producers send, and what epoch_ms() and
    friends return) is checked inline: parsed once for validity and its epoch, compared with the
    clock, and returned as it is, exactly as `normalise` + `future_guard` would. Everything else,
    and every failure, goes the general way (`checked`), so values and errors are the same.
    """
    guard = future_guard(policy, tolerance_s, clock)
    parse = datetime.fromisoformat

    def checked(v: Any, expr: str) -> str:
        if v is None or v == "":
            raise MappingError(
                f"timestamp: missing timestamp (expression: {expr})",
                target="timestamp",
                expression=expr,
                reason="missing-timestamp",
            )
        try:
            return guard(*normalise(v))
        except BadTimestamp as exc:
            reason = "future-timestamp" if isinstance(exc, FutureTimestamp) else "bad-timestamp"
            raise MappingError(
                f"timestamp: {exc} (expression: {expr})", target="timestamp", expression=expr, reason=reason
            ) from exc

    def timestamp(v: Any, expr: str) -> str:
        if v.__class__ is str and is_utc_text(v):
            try:
                epoch = parse(v).timestamp()
            except ValueError:
                return checked(v, expr)
            if epoch <= clock() + tolerance_s:
                return v
        return checked(v, expr)

    return timestamp


def _identity_values(v: Any) -> tuple[str, ...]:
    """The ids of an identity value that is not a str: each scalar of a list, or the one scalar."""
    items = v if isinstance(v, list | tuple) else (v,)
    out = []
    for x in items:
        if isinstance(x, dict | list | tuple):
            raise FunctionError("type-error", f"an identity must be a scalar, got {type(x).__name__}")
        s = to_text(clean(x))
        if s:
            out.append(s)
    return tuple(out)


def _identity_items(ids: tuple[str, ...], state: str, primary: bool) -> list[dict[str, Any]]:
    return [{"id": s, "authenticatedState": state, "primary": primary and i == 0} for i, s in enumerate(ids)]


def _no_identity(namespace: str, expr: str) -> MappingError:
    return MappingError(
        f"identityMap.{namespace}: missing primary identity (expression: {expr})",
        target=f"identityMap.{namespace}",
        expression=expr,
        reason="missing-identity",
    )


_RUNTIME: dict[str, Any] = {
    "_UNSET": UNSET,
    "_step": step,
    "_walk": walk_path,
    "_header": header,
    "_all_headers": all_headers,
    "_clean": clean,
    "_to_text": to_text,
    "_truthy": truthy,
    "_is_empty": is_empty_value,
    "_fail": _fail,
    "_missing": _missing,
    "_each_list": _each_list,
    "_event_id": default_event_id,
    "_identity_values": _identity_values,
    "_identity_items": _identity_items,
    "_no_identity": _no_identity,
    "_join": b"".join,
    "_dumps": orjson.dumps,
    "_json_default": json_default,
    "_encode": encode_or_fail,
}


def generate(
    spec: MappingSpec, env: CompileEnv, problems: list[str], envelope: Envelope | EdgeEvent
) -> tuple[str, dict[str, Any]]:
    """(source of `entity`, `wrapper` and `payload`, their globals) for `spec`; problems go to `problems`.

    `wrapper` builds the whole envelope around `entity` when the envelope is a constant template
    (a dict display: fresh objects per record, no per-record header copying); else `envelope.wrap`.
    `payload` returns what `encode(wrapper(...))` would, writing only the entity and the origin per
    record (the worker's path); an integer past 64 bits or a Decimal with no JSON form takes `_encode`.
    """
    ns = Namespace()
    body = EntityCodegen(spec, env, problems, ns).body()
    wrapped = envelope_source(envelope.wrap, "_o0")
    written = envelope_bytes_source(envelope.wrap, "_o0")
    encoded = f"    return _encode({wrapped})\n"
    if written is not None:
        encoded = f"    try:\n        return {written}\n    except TypeError:\n    {encoded}"
    # the body thrice: `wrapper` and `payload` build the entity themselves (a frame less per record)
    source = (
        f"def entity(record, value, key):\n{body}    return _o0\n\n\n"
        f"def wrapper(record, value, key):\n{body}    return {wrapped}\n\n\n"
        f"def payload(record, value, key):\n{body}{encoded}"
    )
    names = {
        **_RUNTIME,
        "_read_key": key_reader(KEY_DECODERS[spec.key_format]),
        "_now": now_reader(env.clock),
        "_timestamp": timestamp_check(spec.future_timestamps, spec.future_tolerance_s, env.clock),
        "_wrap": envelope.wrap,
        **ns.globals,
    }
    return source, names


def _load(name: str, source: str, names: dict[str, Any]) -> tuple[Entity, Entity, Payload]:
    filename = f"<mapping {name}>"
    code = compile(source, filename, "exec")
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)  # readable tracebacks
    module: dict[str, Any] = {"__builtins__": __builtins__, **names}
    exec(code, module)  # noqa: S102 - generated from the parsed spec by codegen.py: no user text as code
    return module["entity"], module["wrapper"], module["payload"]


class CompiledMapping:
    """A compiled mapping; implements connector.interfaces.Mapper."""

    def __init__(
        self,
        *,
        spec: MappingSpec,
        raw_spec: Mapping[str, Any],
        route: Route,
        entity: Entity,
        wrapper: Entity,
        payload: Payload,
        source: str,
        envelope: Envelope | EdgeEvent,
    ) -> None:
        self.name = spec.name
        self.route = route
        self.topics = spec.topics
        self.format = spec.format
        self.key_format = spec.key_format
        self.avro_schema_path: Path | None = spec.avro_schema
        self.xdm_class = spec.xdm_class
        self.spec = raw_spec
        self.parsed = spec
        self.envelope = envelope
        self.source = source  # the generated Python, for debugging
        self._entity = entity
        self._wrapper = wrapper
        self._payload = payload

    def __repr__(self) -> str:
        return f"CompiledMapping(name={self.name!r}, xdm_class={self.xdm_class!r}, topics={self.topics!r})"

    def map(self, record: SourceRecord, value: Any, key: Any = UNSET) -> dict[str, Any]:
        """The DCS envelope (or Edge event) for one decoded record; raises only MappingError."""
        try:
            return self._wrapper(record, value, key)
        except MappingError:
            raise
        except Exception as exc:  # a bug or an exotic input: still only a MappingError escapes
            raise _fail("", None, exc) from exc

    def map_bytes(self, record: SourceRecord, value: Any, key: Any = UNSET) -> bytes:
        """`encode(self.map(record, value, key))`, byte for byte, without building the envelope dict."""
        try:
            return self._payload(record, value, key)
        except MappingError:
            raise
        except Exception as exc:
            raise _fail("", None, exc) from exc

    def entity(self, record: SourceRecord, value: Any, key: Any = UNSET) -> dict[str, Any]:
        """The xdmEntity alone (what `map` wraps)."""
        return self._entity(record, value, key)


def compile_mapping(
    *,
    spec: MappingSpec,
    raw_spec: Mapping[str, Any],
    route: Route,
    envelope: Envelope | EdgeEvent,
    env: CompileEnv,
    problems: list[str],
) -> CompiledMapping | None:
    """Compile a parsed spec; append every expression problem to `problems`.

    `_id`: `event_id`, else the `fields._id` expression (a literal `_id` wins over both), else for
    events sha256(topic/partition/offset). `timestamp` of an event is normalised to RFC 3339 UTC
    and checked against `future_timestamps`.
    """
    before = len(problems)
    source, names = generate(spec, env, problems, envelope)
    if len(problems) > before:
        return None
    entity, wrapper, payload = _load(spec.name, source, names)
    return CompiledMapping(
        spec=spec,
        raw_spec=raw_spec,
        route=route,
        entity=entity,
        wrapper=wrapper,
        payload=payload,
        source=source,
        envelope=envelope,
    )
