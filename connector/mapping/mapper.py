"""CompiledMapping: one decoded Kafka record -> one DCS envelope, through closures built once.

Per record: build the entity from the field tree (empty values left out), fill `_id` and
`timestamp` for ExperienceEvents, build identityMap, wrap in the envelope. Everything that goes
wrong becomes a MappingError naming the target path and the expression.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import orjson

from connector.errors import MappingError
from connector.mapping.compiler import UNSET, Ctx, ExpressionCompiler, Fn, constant
from connector.mapping.envelope import EdgeEvent, Envelope
from connector.mapping.functions import CompileEnv, FunctionError
from connector.mapping.spec import Each, IdentitySpec, Leaf, MappingSpec, Obj
from connector.mapping.timestamps import BadTimestamp, FutureTimestamp, future_guard, normalise
from connector.mapping.values import clean, to_text
from connector.records import Route, SourceRecord

KeyDecoder = Callable[[bytes | None], Any]
_MISSING = object()
_INF = float("inf")


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


def _leaf(fn: Fn, target: str, expr: str, required: bool, exprs: ExpressionCompiler) -> Fn:
    """The closure of one target field: evaluate, clean, enforce `required`.

    Hot path: a str/int/bool result returns at once; a unary call (`to_int(line.qty)`) is fused
    into this closure to save a call frame per field.
    """

    def slow(v: Any) -> Any:
        v = clean(v)
        if v is None and required:
            raise MappingError(
                f"{target}: required value is missing (expression: {expr})", target=target, expression=expr
            )
        return v

    unary = exprs.unary_calls.get(fn)
    if unary is not None:
        impl, arg = unary

        def leaf1(c: Ctx) -> Any:
            try:
                v = impl(arg(c))
            except Exception as exc:
                raise _fail(target, expr, exc) from exc
            t = v.__class__
            if (t is str and v) or t is int or t is bool or (t is float and -_INF < v < _INF):
                return v
            return slow(v)

        return leaf1

    def leaf(c: Ctx) -> Any:
        try:
            v = fn(c)
        except Exception as exc:
            raise _fail(target, expr, exc) from exc
        t = v.__class__
        if (t is str and v) or t is int or t is bool or (t is float and -_INF < v < _INF):
            return v
        return slow(v)

    return leaf


def _object(items: tuple[tuple[str, Fn], ...]) -> Fn:
    def obj(c: Ctx) -> Any:
        out = {}
        for k, f in items:
            v = f(c)
            if v is not None:
                out[k] = v
        return out or None

    return obj


def _each(source: Fn, var: str, item: Fn, target: str, expr: str) -> Fn:
    def each(c: Ctx) -> Any:
        try:
            src = source(c)
        except Exception as exc:
            raise _fail(target, expr, exc) from exc
        if src is None:
            return None
        if src.__class__ is not list:
            if isinstance(src, dict):
                src = [src]
            elif not isinstance(src, list | tuple):
                raise MappingError(
                    f"{target}: each expects a list, got {type(src).__name__} (expression: {expr})",
                    target=target,
                    expression=expr,
                    reason="type-error",
                )
        scope = c.vars
        saved = scope.get(var, _MISSING)
        out = []
        for x in src:
            scope[var] = x
            v = item(c)
            if v is not None:
                out.append(v)
        if saved is _MISSING:
            scope.pop(var, None)
        else:
            scope[var] = saved
        return out or None

    return each


class _TreeCompiler:
    def __init__(self, exprs: ExpressionCompiler) -> None:
        self.exprs = exprs

    def node(self, node: Obj | Leaf | Each, scope: frozenset[str]) -> Fn | None:
        if isinstance(node, Leaf):
            return self.leaf(node, scope)
        if isinstance(node, Each):
            source = self.exprs.compile(node.source, f"{node.where}.each", scope)
            item = self.node(node.item, scope | {node.var})
            if source is None or item is None:
                return None
            return _each(source, node.var, item, node.target, node.source)
        return self.obj(node, scope)

    def leaf(self, node: Leaf, scope: frozenset[str]) -> Fn | None:
        if node.expr is None:
            return constant(node.literal)
        fn = self.exprs.compile(node.expr, node.where, scope)
        if fn is None:
            return None
        if fn in self.exprs.constants:
            value = clean(self.exprs.constants[fn])
            if value is None and node.required:
                self.exprs.problems.append(f"{node.where}: a required field cannot be a null or empty literal")
            return constant(value)
        return _leaf(fn, node.target, node.expr, node.required, self.exprs)

    def obj(self, node: Obj, scope: frozenset[str], special: Mapping[str, Fn] | None = None) -> Fn | None:
        items: list[tuple[str, Fn]] = []
        ok = True
        for name, child in node.children.items():
            fn = special[name] if special and name in special else self.node(child, scope)
            if fn is None:
                ok = False
            else:
                items.append((name, fn))
        if special:
            items[:0] = [(k, f) for k, f in special.items() if k not in node.children]
        return _object(tuple(items)) if ok else None


def default_event_id(record: SourceRecord) -> str:
    """Deterministic from the record's position, so a replay dedupes in the Profile store."""
    raw = f"{record.topic}/{record.partition}/{record.offset}".encode()
    return hashlib.sha256(raw).hexdigest()[:32]


def _id_leaf(fn: Fn | None, expr: str | None, is_event: bool) -> Fn:
    def id_leaf(c: Ctx) -> Any:
        if fn is not None:
            try:
                v = fn(c)
                s = None if v is None else to_text(clean(v))
            except Exception as exc:
                raise _fail("_id", expr, exc) from exc
            if s:
                return s
        return default_event_id(c.record) if is_event else None

    return id_leaf


def _timestamp_leaf(fn: Fn, expr: str, guard: Callable[[str, float], str]) -> Fn:
    def ts_leaf(c: Ctx) -> Any:
        try:
            v = fn(c)
        except Exception as exc:
            raise _fail("timestamp", expr, exc) from exc
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

    return ts_leaf


class _Identity:
    __slots__ = ("expr", "fn", "namespace", "primary", "state")

    def __init__(self, spec: IdentitySpec, fn: Fn) -> None:
        self.namespace = spec.namespace
        self.fn = fn
        self.expr = spec.value
        self.primary = spec.primary
        self.state = spec.authenticated_state


def _identity_values(ident: _Identity, c: Ctx) -> list[str]:
    target = f"identityMap.{ident.namespace}"
    try:
        v = ident.fn(c)
        if v.__class__ is str:
            return [v] if v else []
        items = v if isinstance(v, list | tuple) else (v,)
        out = []
        for x in items:
            if isinstance(x, dict | list | tuple):
                raise FunctionError("type-error", f"an identity must be a scalar, got {type(x).__name__}")
            s = to_text(clean(x))
            if s:
                out.append(s)
    except Exception as exc:
        raise _fail(target, ident.expr, exc) from exc
    return out


class CompiledMapping:
    """A compiled mapping; implements connector.interfaces.Mapper."""

    def __init__(
        self,
        *,
        spec: MappingSpec,
        raw_spec: Mapping[str, Any],
        route: Route,
        entity: Fn,
        identities: tuple[_Identity, ...],
        envelope: Envelope | EdgeEvent,
        xdm_schema: Mapping[str, Any] | None = None,
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
        self.xdm_schema = xdm_schema
        self._entity = entity
        self._identities = identities
        self._decode_key = KEY_DECODERS[spec.key_format]

    def __repr__(self) -> str:
        return f"CompiledMapping(name={self.name!r}, xdm_class={self.xdm_class!r}, topics={self.topics!r})"

    def map(self, record: SourceRecord, value: Any, key: Any = UNSET) -> dict[str, Any]:
        """The DCS envelope (or Edge event) for one decoded record; raises only MappingError."""
        try:
            origin = f"{record.topic}/{record.partition}/{record.offset}"
            return self.envelope.wrap(self.entity(record, value, key), origin)
        except MappingError:
            raise
        except Exception as exc:  # a bug or an exotic input: still only a MappingError escapes
            raise _fail("", None, exc) from exc

    def entity(self, record: SourceRecord, value: Any, key: Any = UNSET) -> dict[str, Any]:
        """The xdmEntity alone (what `map` wraps)."""
        c = Ctx(record, value, key, self._decode_key)
        entity: dict[str, Any] = self._entity(c) or {}
        if self._identities:
            idmap: dict[str, list[dict[str, Any]]] = {}
            for ident in self._identities:
                values = _identity_values(ident, c)
                if not values and ident.primary:
                    raise MappingError(
                        f"identityMap.{ident.namespace}: missing primary identity (expression: {ident.expr})",
                        target=f"identityMap.{ident.namespace}",
                        expression=ident.expr,
                        reason="missing-identity",
                    )
                items = idmap.setdefault(ident.namespace, [])
                for i, s in enumerate(values):
                    items.append({"id": s, "authenticatedState": ident.state, "primary": ident.primary and i == 0})
            entity["identityMap"] = {k: v for k, v in idmap.items() if v}
        return entity


def compile_mapping(
    *,
    spec: MappingSpec,
    raw_spec: Mapping[str, Any],
    route: Route,
    envelope: Envelope | EdgeEvent,
    env: CompileEnv,
    problems: list[str],
    xdm_schema: Mapping[str, Any] | None = None,
) -> CompiledMapping | None:
    """Compile a parsed spec; append every expression problem to `problems`."""
    before = len(problems)
    exprs = ExpressionCompiler(env, problems)
    tree = _TreeCompiler(exprs)
    scope: frozenset[str] = frozenset()
    special: dict[str, Fn] = {}
    id_node = spec.fields.children.get("_id")
    id_expr = spec.event_id if spec.event_id is not None else (id_node.expr if isinstance(id_node, Leaf) else None)
    id_where = "event_id" if spec.event_id is not None else "fields._id"
    id_literal = id_node.literal if isinstance(id_node, Leaf) and id_node.expr is None else None
    if id_expr is not None or id_literal is not None or spec.is_event:
        id_fn = exprs.compile(id_expr, id_where, scope) if id_expr is not None else None
        if id_literal is not None:
            id_fn = constant(id_literal)
        special["_id"] = _id_leaf(id_fn, id_expr, spec.is_event)
    ts_node = spec.fields.children.get("timestamp")
    if spec.is_event and isinstance(ts_node, Leaf):
        special["timestamp"] = constant(None)  # stands in when the expression has problems
        if ts_node.expr is None:
            problems.append(f"{ts_node.where}: timestamp must be an expression, not a literal")
        else:
            ts_fn = exprs.compile(ts_node.expr, ts_node.where, scope)
            if ts_fn is not None:
                guard = future_guard(spec.future_timestamps, spec.future_tolerance_s, env.clock)
                special["timestamp"] = _timestamp_leaf(ts_fn, ts_node.expr, guard)
    entity = tree.obj(spec.fields, scope, special)
    identities: list[_Identity] = []
    for ident in spec.identities:
        fn = exprs.compile(ident.value, f"{ident.where}.value", scope)
        if fn is not None:
            identities.append(_Identity(ident, fn))
    if len(problems) > before or entity is None:
        return None
    return CompiledMapping(
        spec=spec,
        raw_spec=raw_spec,
        route=route,
        entity=entity,
        identities=tuple(identities),
        envelope=envelope,
        xdm_schema=xdm_schema,
    )
