"""Expressions -> closures, compiled once per mapping.

A compiled expression is `fn(ctx) -> value`; `Ctx` carries the record, the decoded value, the
lazily decoded key and the loop variables of `each` blocks. Paths never raise: a missing key,
an index out of range or a step into a non-container gives None. Name resolution, arity and
literal-argument checks happen here and are reported as problems (strings), all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from connector.mapping.expressions import Call, ExpressionSyntaxError, Literal, Node, Path, parse
from connector.mapping.functions import REGISTRY, CompileEnv, FunctionError, Thunk
from connector.mapping.timestamps import rfc3339
from connector.records import SourceRecord

Fn = Callable[["Ctx"], Any]
UNSET: Any = type("Unset", (), {"__repr__": lambda self: "UNSET"})()
SCALAR_ROOTS = ("topic", "partition", "offset", "timestamp", "now")
ROOTS = frozenset({"value", "key", "headers", *SCALAR_ROOTS})


class Ctx:
    """Per-record evaluation state."""

    __slots__ = ("decode_key", "key", "record", "value", "vars")

    def __init__(self, record: SourceRecord, value: Any, key: Any, decode_key: Callable[[bytes | None], Any]) -> None:
        self.record = record
        self.value = value
        self.key = key
        self.decode_key = decode_key
        self.vars: dict[str, Any] = {}


def constant(v: Any) -> Fn:
    return lambda c: v


def walk_path(o: Any, segs: Sequence[str | int]) -> Any:
    for s in segs:
        if o is None:
            return None
        if s.__class__ is str:
            if o.__class__ is dict:  # the common case, before the slower ABC check
                o = o.get(s)
                continue
            if not isinstance(o, Mapping):
                return None
            o = o.get(s)
        elif isinstance(o, list | tuple) and -len(o) <= s < len(o):  # type: ignore[operator]
            o = o[s]  # type: ignore[index]
        else:
            return None
    return o


def _value_path(segs: tuple[str | int, ...]) -> Fn:
    """Paths under `value`, with a dict-only fast path for up to three named steps."""
    if not segs:
        return lambda c: c.value
    if all(s.__class__ is str for s in segs) and len(segs) <= 3:
        if len(segs) == 1:
            (a,) = segs

            def p1(c: Ctx) -> Any:
                o = c.value
                return o.get(a) if o.__class__ is dict else walk_path(o, segs)

            return p1
        if len(segs) == 2:
            a, b = segs

            def p2(c: Ctx) -> Any:
                o = c.value
                if o.__class__ is dict:
                    o = o.get(a)
                    if o.__class__ is dict:
                        return o.get(b)
                    return walk_path(o, segs[1:])
                return walk_path(o, segs)

            return p2
        a, b, d = segs

        def p3(c: Ctx) -> Any:
            o = c.value
            if o.__class__ is dict:
                o = o.get(a)
                if o.__class__ is dict:
                    o = o.get(b)
                    if o.__class__ is dict:
                        return o.get(d)
            return walk_path(c.value, segs)

        return p3
    return lambda c: walk_path(c.value, segs)


def _var_path(name: str, segs: tuple[str | int, ...]) -> Fn:
    if len(segs) == 1 and segs[0].__class__ is str:
        (a,) = segs

        def v1(c: Ctx) -> Any:
            o = c.vars[name]
            return o.get(a) if o.__class__ is dict else walk_path(o, segs)

        return v1
    return lambda c: walk_path(c.vars[name], segs)


def _key(c: Ctx) -> Any:
    k = c.key
    if k is UNSET:
        try:
            k = c.decode_key(c.record.key)
        except (ValueError, TypeError) as exc:
            raise FunctionError("mapping-failed", f"cannot decode the record key: {exc}") from None
        c.key = k
    return k


def _header(name: str) -> Fn:
    def get(c: Ctx) -> Any:
        for hname, raw in reversed(c.record.headers):
            if hname == name:
                return None if raw is None else raw.decode("utf-8", "replace")
        return None

    return get


def _all_headers(c: Ctx) -> Any:
    return {k: (None if v is None else v.decode("utf-8", "replace")) for k, v in c.record.headers}


def _scalar_root(name: str, env: CompileEnv) -> Fn:
    if name == "topic":
        return lambda c: c.record.topic
    if name == "partition":
        return lambda c: c.record.partition
    if name == "offset":
        return lambda c: c.record.offset
    if name == "timestamp":
        return lambda c: c.record.timestamp_ms
    clock = env.clock
    return lambda c: rfc3339(datetime.fromtimestamp(clock(), UTC))


class ExpressionCompiler:
    """Compiles expression text to closures, appending every problem to `problems`."""

    def __init__(self, env: CompileEnv, problems: list[str]) -> None:
        self.env = env
        self.problems = problems
        # what some closures are, so callers can fuse them into their own closures
        self.constants: dict[Fn, Any] = {}
        self.unary_calls: dict[Fn, tuple[Callable[[Any], Any], Fn]] = {}

    def compile(self, text: str, where: str, scope: frozenset[str]) -> Fn | None:
        try:
            node = parse(text)
        except ExpressionSyntaxError as exc:
            self.problems.append(f"{where}: malformed expression: {exc}")
            return None
        before = len(self.problems)
        fn = self.node(node, where, scope)
        return fn if len(self.problems) == before else None

    def node(self, node: Node, where: str, scope: frozenset[str]) -> Fn | None:
        if isinstance(node, Literal):
            v = node.value
            const = constant(v)
            self.constants[const] = v
            return const
        if isinstance(node, Path):
            return self.path(node, where, scope)
        return self.call(node, where, scope)

    def path(self, node: Path, where: str, scope: frozenset[str]) -> Fn | None:
        root, segs = node.root, node.segments
        if root in scope:
            return _var_path(root, segs)
        if root == "value":
            return _value_path(segs)
        if root == "key":
            return _key if not segs else lambda c: walk_path(_key(c), segs)
        if root == "headers":
            if not segs:
                return _all_headers
            if len(segs) == 1 and isinstance(segs[0], str):
                return _header(segs[0])
            self.problems.append(f"{where}: malformed path {node}: use headers.NAME or headers['NAME']")
            return None
        if root in SCALAR_ROOTS:
            if segs:
                self.problems.append(f"{where}: malformed path {node}: {root} has no fields")
                return None
            return _scalar_root(root, self.env)
        hint = f"; did you mean value.{node}?" if root not in REGISTRY else f"; did you mean {root}(...)?"
        names = ", ".join(sorted({*ROOTS, *scope}))
        self.problems.append(f"{where}: unknown name {root!r} in path {node} (known: {names}){hint}")
        return None

    def call(self, node: Call, where: str, scope: frozenset[str]) -> Fn | None:
        spec = REGISTRY.get(node.name)
        if spec is None:
            self.problems.append(f"{where}: unknown function {node.name}()")
            for arg in node.args:
                self.node(arg, where, scope)
            return None
        n = len(node.args)
        if n < spec.min_args or (spec.max_args is not None and n > spec.max_args):
            self.problems.append(f"{where}: {node.name}() takes {_arity(spec.min_args, spec.max_args)}, got {n}")
            return None
        split = self.arguments(node, spec.literal, where, scope)
        if split is None:
            return None
        lits, dynamic = split
        impl = spec.impl
        if spec.prepare is not None:
            try:
                impl = spec.prepare(lits, self.env)
            except ValueError as exc:
                self.problems.append(f"{where}: {node.name}(): {exc}")
                return None
        assert impl is not None
        if spec.lazy:
            thunks: Sequence[Thunk] = tuple(dynamic)
            lazy = impl
            return lambda c: lazy(c, thunks)
        fn = _apply(impl, dynamic)
        if len(dynamic) == 1:
            self.unary_calls[fn] = (impl, dynamic[0])
        return fn

    def arguments(
        self, node: Call, literal: tuple[int, ...], where: str, scope: frozenset[str]
    ) -> tuple[list[Any], list[Fn]] | None:
        """(literal argument values, closures of the other arguments); None after a problem."""
        lits: list[Any] = []
        dynamic: list[Fn] = []
        ok = True
        for i, arg in enumerate(node.args):
            if i in literal:
                if isinstance(arg, Literal):
                    lits.append(arg.value)
                else:
                    self.problems.append(f"{where}: argument {i + 1} of {node.name}() must be a literal")
                    ok = False
                continue
            fn = self.node(arg, where, scope)
            if fn is None:
                ok = False
            else:
                dynamic.append(fn)
        return (lits, dynamic) if ok else None


def _arity(lo: int, hi: int | None) -> str:
    if hi is None:
        return f"at least {lo} argument{'s' if lo != 1 else ''}"
    if lo == hi:
        return f"{lo} argument{'s' if lo != 1 else ''}"
    return f"{lo} to {hi} arguments"


def _apply(f: Callable[..., Any], args: list[Fn]) -> Fn:
    """A closure calling `f` on the evaluated args, unrolled for the common small arities."""
    if not args:
        return lambda c: f()
    if len(args) == 1:
        (a,) = args
        return lambda c: f(a(c))
    if len(args) == 2:
        a, b = args
        return lambda c: f(a(c), b(c))
    if len(args) == 3:
        a, b, d = args
        return lambda c: f(a(c), b(c), d(c))
    fs = tuple(args)
    return lambda c: f(*[g(c) for g in fs])
