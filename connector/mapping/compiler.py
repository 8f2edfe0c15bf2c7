"""Expressions -> Python expression source, compiled once per mapping (see codegen.py).

The parser's AST (expressions.py) is turned into code made only of identifiers generated here,
literals written with `repr` (or bound as constants when `repr` would not give a literal) and
calls of the function library bound under generated names; user text never becomes code.
Name resolution, arity and literal-argument checks happen here and are reported as problems
(strings), all of them.

Paths never raise: a missing key, an index out of range or a step into a non-container gives None.
A path is not code at its use: each prefix gets a local computed once at the top of the block that
binds its root (the function for `value`, the loop body for an `each` variable), so fields that
share `value.a.b` walk it once per record.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from connector.mapping.expressions import Call, ExpressionSyntaxError, Literal, Node, Path, parse
from connector.mapping.functions import REGISTRY, CompileEnv, FunctionError
from connector.mapping.timestamps import rfc3339
from connector.records import SourceRecord

UNSET: Any = type("Unset", (), {"__repr__": lambda self: "UNSET"})()
SCALAR_ROOTS = {"topic": "record.topic", "partition": "record.partition", "offset": "record.offset",
                "timestamp": "record.timestamp_ms"}  # fmt: skip
ROOTS = frozenset({"value", "key", "headers", "now", *SCALAR_ROOTS})
Segment = str | int


def walk_path(o: Any, segs: Sequence[Segment]) -> Any:
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


def step(o: Any, seg: Segment) -> Any:
    """One path step off the dict fast path (the generated code inlines `o.get(seg)` for dicts)."""
    return walk_path(o, (seg,))


def header(record: SourceRecord, name: str) -> Any:
    for hname, raw in reversed(record.headers):
        if hname == name:
            return None if raw is None else raw.decode("utf-8", "replace")
    return None


def all_headers(record: SourceRecord) -> Any:
    return {k: (None if v is None else v.decode("utf-8", "replace")) for k, v in record.headers}


def key_reader(decode: Callable[[bytes | None], Any]) -> Callable[[SourceRecord], Any]:
    """The record key decoded by `key_format`, on first use in a record (the generated code caches it)."""

    def read_key(record: SourceRecord) -> Any:
        try:
            return decode(record.key)
        except (ValueError, TypeError) as exc:
            raise FunctionError("mapping-failed", f"cannot decode the record key: {exc}") from None

    return read_key


def now_reader(clock: Callable[[], float]) -> Callable[[], str]:
    return lambda: rfc3339(datetime.fromtimestamp(clock(), UTC))


_PLAIN = (str, int, bool, type(None))


def literal_source(v: Any) -> str | None:
    """Python source that evaluates to a fresh copy of `v`, or None when `repr` would not give one."""
    t = v.__class__
    if t in _PLAIN:
        return repr(v)
    if t is float:
        return repr(v) if math.isfinite(v) else None
    if t is list:
        parts = [literal_source(x) for x in v]
        return None if None in parts else "[" + "".join(f"{p}, " for p in parts) + "]"
    if t is dict:
        items = [(literal_source(k), literal_source(x)) for k, x in v.items()]
        if any(k is None or x is None for k, x in items):
            return None
        return "{" + ", ".join(f"{k}: {x}" for k, x in items) + "}"
    return None


class Namespace:
    """The globals of one generated module: runtime objects bound under generated names."""

    def __init__(self) -> None:
        self.globals: dict[str, Any] = {}
        self._ids: dict[int, str] = {}

    def bind(self, obj: Any, prefix: str = "_g") -> str:
        """A global name for `obj` (one name per object); `prefix` is code-chosen, never user text."""
        name = self._ids.get(id(obj))
        if name is None:
            name = f"{prefix}{len(self.globals)}"
            self.globals[name] = obj
            self._ids[id(obj)] = name
        return name

    def literal(self, v: Any) -> str:
        src = literal_source(v)
        return src if src is not None else self.bind(v, "_k")


class Block:
    """A region whose path prefixes are computed once at its top: the function, or one loop body.

    `roots` maps the names an expression may start with (`value`, loop variables) to the local
    holding their value in this region.
    """

    def __init__(self, roots: Mapping[str, str], locals_: Callable[[str], str]) -> None:
        self.roots = dict(roots)
        self._local = locals_
        self.owned = frozenset(roots)  # roots bound here; others belong to an enclosing block
        self.temps: dict[tuple[str, tuple[Segment, ...]], str] = {}

    def path(self, root_local: str, segs: tuple[Segment, ...]) -> str:
        """The local holding `root.segs` (registering every prefix)."""
        name = root_local
        for i in range(1, len(segs) + 1):
            key = (root_local, segs[:i])
            name = self.temps.get(key) or self.temps.setdefault(key, self._local("_p"))
        return name

    def prologue(self) -> list[str]:
        """Statements computing every registered prefix, parents first, one dict check per parent."""
        children: dict[tuple[str, tuple[Segment, ...]], list[tuple[Segment, str]]] = {}
        for (root, segs), name in self.temps.items():
            children.setdefault((root, segs[:-1]), []).append((segs[-1], name))
        lines: list[str] = []
        done: set[tuple[str, tuple[Segment, ...]]] = set()

        def emit(parent: tuple[str, tuple[Segment, ...]]) -> None:
            kids = children.get(parent, [])
            if not kids or parent in done:
                return
            done.add(parent)
            src = parent[0] if not parent[1] else self.temps[parent]
            named = [(s, n) for s, n in kids if s.__class__ is str]
            if named:
                lines.append(f"if {src}.__class__ is dict:")
                lines.extend(f"    {n} = {src}.get({s!r})" for s, n in named)
                lines.append("else:")
                lines.extend(f"    {n} = _step({src}, {s!r})" for s, n in named)
            lines.extend(f"{n} = _step({src}, {s!r})" for s, n in kids if s.__class__ is not str)
            for s, _ in kids:
                emit((parent[0], (*parent[1], s)))

        for root, segs in list(self.temps):
            if len(segs) == 1:
                emit((root, ()))
        return lines


@dataclass(frozen=True, slots=True)
class Expr:
    """Generated source of one expression."""

    code: str
    raises: bool = False  # calls a function or decodes the key: the caller guards it
    constant: bool = False  # a literal, whose `value` is known at compile time
    value: Any = None


class ExpressionCompiler:
    """Compiles expression text to `Expr` source, appending every problem to `problems`."""

    def __init__(self, env: CompileEnv, problems: list[str], ns: Namespace, local: Callable[[str], str]) -> None:
        self.env = env
        self.problems = problems
        self.ns = ns
        self.local = local

    def compile(self, text: str, where: str, scopes: Sequence[Block]) -> Expr | None:
        """`scopes`: the enclosing blocks, innermost last (their roots are visible)."""
        try:
            node = parse(text)
        except ExpressionSyntaxError as exc:
            self.problems.append(f"{where}: malformed expression: {exc}")
            return None
        before = len(self.problems)
        out = self.node(node, where, scopes)
        return out if len(self.problems) == before else None

    def node(self, node: Node, where: str, scopes: Sequence[Block]) -> Expr | None:
        if isinstance(node, Literal):
            return Expr(self.ns.literal(node.value), constant=True, value=node.value)
        if isinstance(node, Path):
            return self.path(node, where, scopes)
        return self.call(node, where, scopes)

    def path(self, node: Path, where: str, scopes: Sequence[Block]) -> Expr | None:
        root, segs = node.root, node.segments
        for block in reversed(scopes):
            if root in block.roots:
                return Expr(block.path(block.roots[root], segs) if segs else block.roots[root])
        if root == "key":
            key = "(key if key is not _UNSET else (key := _read_key(record)))"
            return Expr(f"_walk({key}, {segs!r})" if segs else key, raises=True)
        if root == "headers":
            if not segs:
                return Expr("_all_headers(record)")
            if len(segs) == 1 and isinstance(segs[0], str):
                return Expr(f"_header(record, {segs[0]!r})")
            self.problems.append(f"{where}: malformed path {node}: use headers.NAME or headers['NAME']")
            return None
        if root in SCALAR_ROOTS or root == "now":
            if segs:
                self.problems.append(f"{where}: malformed path {node}: {root} has no fields")
                return None
            return Expr(SCALAR_ROOTS.get(root) or "_now()")
        visible = {name for block in scopes for name in block.roots}
        hint = f"; did you mean value.{node}?" if root not in REGISTRY else f"; did you mean {root}(...)?"
        names = ", ".join(sorted({*ROOTS, *visible}))
        self.problems.append(f"{where}: unknown name {root!r} in path {node} (known: {names}){hint}")
        return None

    def call(self, node: Call, where: str, scopes: Sequence[Block]) -> Expr | None:
        spec = REGISTRY.get(node.name)
        if spec is None:
            self.problems.append(f"{where}: unknown function {node.name}()")
            for arg in node.args:
                self.node(arg, where, scopes)
            return None
        n = len(node.args)
        if n < spec.min_args or (spec.max_args is not None and n > spec.max_args):
            self.problems.append(f"{where}: {node.name}() takes {_arity(spec.min_args, spec.max_args)}, got {n}")
            return None
        split = self.arguments(node, spec.literal, where, scopes)
        if split is None:
            return None
        lits, args = split
        if spec.lazy:
            lazy = _LAZY.get(node.name)
            if lazy is None:  # tests/unit/mapping pins every lazy function of the library to a generator
                self.problems.append(f"{where}: {node.name}() has no code generator (a connector bug)")
                return None
            return Expr(lazy(self, [a.code for a in args]), raises=True)
        impl = spec.impl
        if spec.prepare is not None:
            try:
                impl = spec.prepare(lits, self.env)
            except ValueError as exc:
                self.problems.append(f"{where}: {node.name}(): {exc}")
                return None
        assert impl is not None
        fn = self.ns.bind(impl, "_f")
        inline = _INLINE.get(node.name) if spec.prepare is None and len(args) == 1 else None
        if inline is not None:
            code = args[0].code
            if code.isidentifier():
                return Expr(inline(code, code, fn), raises=True)
            w = self.local("_w")
            return Expr(inline(f"({w} := {code})", w, fn), raises=True)
        return Expr(f"{fn}({', '.join(a.code for a in args)})", raises=True)

    def arguments(
        self, node: Call, literal: tuple[int, ...], where: str, scopes: Sequence[Block]
    ) -> tuple[list[Any], list[Expr]] | None:
        """(literal argument values, code of the other arguments); None after a problem."""
        lits: list[Any] = []
        dynamic: list[Expr] = []
        ok = True
        for i, arg in enumerate(node.args):
            if i in literal:
                if isinstance(arg, Literal):
                    lits.append(arg.value)
                else:
                    self.problems.append(f"{where}: argument {i + 1} of {node.name}() must be a literal")
                    ok = False
                continue
            code = self.node(arg, where, scopes)
            if code is None:
                ok = False
            else:
                dynamic.append(code)
        return (lits, dynamic) if ok else None


def _arity(lo: int, hi: int | None) -> str:
    if hi is None:
        return f"at least {lo} argument{'s' if lo != 1 else ''}"
    if lo == hi:
        return f"{lo} argument{'s' if lo != 1 else ''}"
    return f"{lo} to {hi} arguments"


# The lazy functions of functions.py, written inline so that only the arguments they need are
# evaluated, with functions.py's own truthy / is_empty_value deciding (same semantics as _if,
# _coalesce, _default, _and, _or there).


def _if(c: ExpressionCompiler, a: list[str]) -> str:
    return f"({a[1]} if _truthy({a[0]}) else {a[2] if len(a) > 2 else 'None'})"


def _coalesce(c: ExpressionCompiler, a: list[str]) -> str:
    out = "None"
    for arg in reversed(a):
        w = c.local("_w")
        out = f"({w} if not _is_empty({w} := {arg}) else {out})"
    return out


def _default(c: ExpressionCompiler, a: list[str]) -> str:
    w = c.local("_w")
    return f"({w} if not _is_empty({w} := {a[0]}) else {a[1]})"


def _and(c: ExpressionCompiler, a: list[str]) -> str:
    return "(" + " and ".join(f"_truthy({x})" for x in a) + ")"


def _or(c: ExpressionCompiler, a: list[str]) -> str:
    return "(" + " or ".join(f"_truthy({x})" for x in a) + ")"


# The first lines of some one-argument functions of functions.py, written inline: the common type
# is handled here exactly as the function handles it, anything else calls the function. Each gets
# (the argument's code where it is evaluated first, the name holding it, the bound function).
_INLINE: dict[str, Callable[[str, str, str], str]] = {
    "lower": lambda first, a, f: f"({a}.lower() if {first}.__class__ is str else {f}({a}))",
    "upper": lambda first, a, f: f"({a}.upper() if {first}.__class__ is str else {f}({a}))",
    "trim": lambda first, a, f: f"({a}.strip() if {first}.__class__ is str else {f}({a}))",
    "to_string": lambda first, a, f: (
        f"({a} if {first}.__class__ is str else str({a}) if {a}.__class__ is int else {f}({a}))"
    ),
    "to_int": lambda first, a, f: f"({a} if {first}.__class__ is int else {f}({a}))",
    # a float that is finite (x - x is 0.0 exactly then; nan for inf and nan), as math.isfinite says
    "to_float": lambda first, a, f: f"({a} if {first}.__class__ is float and {a} - {a} == 0.0 else {f}({a}))",
}

_LAZY: dict[str, Callable[[ExpressionCompiler, list[str]], str]] = {
    "if": _if, "coalesce": _coalesce, "default": _default, "and": _and, "or": _or,
}  # fmt: skip
LAZY_FUNCTIONS = frozenset(_LAZY)
