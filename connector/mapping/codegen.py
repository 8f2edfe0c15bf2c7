"""The field tree of a parsed spec -> the source of one Python function, `entity(record, value, key)`.

Generated once per mapping from the MappingSpec and the expression AST (compiler.py): every name
in it is generated here, user text appears only inside `repr` literals (field names, target paths
and expression texts for error messages). Per record it runs straight-line code: one dict per
target object, one local per distinct path prefix, and per field the checks of `values.clean`
inlined for the common scalar types. Everything that goes wrong raises MappingError naming the
target path and the expression, as `_fail` words it.

Evaluation order is the spec's: fields in order (`_id` and `timestamp` of an event first when the
spec does not place them), then identities.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import orjson

from connector.mapping.compiler import Block, Expr, ExpressionCompiler, Namespace, literal_source
from connector.mapping.functions import CompileEnv
from connector.mapping.spec import Each, IdentitySpec, Leaf, MappingSpec, Obj
from connector.mapping.values import clean

Store = Callable[[str], str]  # value code -> the statement storing it


@dataclass(frozen=True, slots=True)
class _At:
    """Where code goes: a list of lines, an indentation and the blocks whose roots are visible."""

    scopes: tuple[Block, ...]
    indent: int = 0
    lines: list[str] = field(default_factory=list)

    def add(self, line: str, deeper: int = 0) -> None:
        self.lines.append("    " * (self.indent + deeper) + line)

    def inner(self, levels: int = 1) -> _At:
        return _At(self.scopes, self.indent + levels, self.lines)


Special = Callable[[str, _At], None]


class EntityCodegen:
    """Emits `entity(record, value, key)` for one spec; problems go to `problems`."""

    def __init__(self, spec: MappingSpec, env: CompileEnv, problems: list[str], ns: Namespace) -> None:
        self.spec = spec
        self.problems = problems
        self.ns = ns
        self._n = 0
        self.exprs = ExpressionCompiler(env, problems, ns, self.local)

    def local(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}{self._n}"

    # ------------------------------------------------------------------ the function

    def body(self) -> str:
        """The statements building the entity in `_o0` (one function's body, indented once)."""
        spec = self.spec
        top = Block({"value": "value"}, self.local)
        at = _At((top,), 1)
        at.add("_o0 = {}")
        self.obj_fields(spec.fields, "_o0", at, self.specials(spec))
        self.identities(spec.identities, at)
        prologue = ["    " + line for line in top.prologue()]
        return "\n".join([*prologue, *at.lines]) + "\n"

    def specials(self, spec: MappingSpec) -> dict[str, Special]:
        """`_id` and `timestamp` of events (see compile_mapping for the rules)."""
        out: dict[str, Special] = {}
        id_node = spec.fields.children.get("_id")
        id_expr = spec.event_id if spec.event_id is not None else (id_node.expr if isinstance(id_node, Leaf) else None)
        id_where = "event_id" if spec.event_id is not None else "fields._id"
        id_literal = id_node.literal if isinstance(id_node, Leaf) and id_node.expr is None else None
        if id_expr is not None or id_literal is not None or spec.is_event:
            out["_id"] = lambda dest, at: self.event_id(dest, at, _IdSpec(id_expr, id_where, id_literal))
        ts_node = spec.fields.children.get("timestamp")
        if spec.is_event and isinstance(ts_node, Leaf):
            out["timestamp"] = lambda dest, at: self.timestamp(dest, at, ts_node)
        return out

    # ------------------------------------------------------------------ tree

    def obj_fields(self, node: Obj, dest: str, at: _At, special: dict[str, Special] | None = None) -> None:
        special = special or {}
        order = [k for k in special if k not in node.children] + list(node.children)
        for name in order:
            if name in special:
                special[name](dest, at)
                continue
            child = node.children[name]
            store = _into(dest, name)
            if isinstance(child, Leaf):
                self.leaf(child, store, at)
            elif isinstance(child, Each):
                self.each(child, store, at)
            else:
                self.sub_object(child, store, at)

    def sub_object(self, node: Obj, store: Store, at: _At) -> None:
        o = self.local("_o")
        at.add(f"{o} = {{}}")
        self.obj_fields(node, o, at)
        at.add(f"if {o}:")
        at.add(store(o), 1)

    def each(self, node: Each, store: Store, at: _At) -> None:
        source = self.exprs.compile(node.source, f"{node.where}.each", at.scopes)
        src = self.local("_s")
        self.guarded(source, src, (node.target, node.source), at)
        var, items = self.local("_e"), self.local("_l")
        loop = Block({node.var: var}, self.local)
        body = _At((*at.scopes, loop))
        if isinstance(node.item, Leaf):
            self.leaf(node.item, _append(items), body)
        else:
            self.sub_object(node.item, _append(items), body)
        at.add(f"if {src} is not None:")
        at.add(f"if {src}.__class__ is not list:", 1)
        at.add(f"{src} = _each_list({src}, {node.target!r}, {node.source!r})", 2)
        at.add(f"{items} = []", 1)
        at.add(f"for {var} in {src}:", 1)
        for line in loop.prologue() + body.lines:
            at.add(line, 2)
        at.add(f"if {items}:", 1)
        at.add(store(items), 2)

    def leaf(self, node: Leaf, store: Store, at: _At) -> None:
        if node.expr is None:  # a YAML literal: already cleaned by the spec parser
            if node.literal is not None:
                at.add(store(self.ns.literal(node.literal)))
            return
        expr = self.exprs.compile(node.expr, node.where, at.scopes)
        if expr is None:
            return
        if expr.constant:
            value = clean(expr.value)
            if value is None and node.required:
                self.problems.append(f"{node.where}: a required field cannot be a null or empty literal")
            if value is not None:
                at.add(store(self.ns.literal(value)))
            return
        v = self.value_of(expr, (node.target, node.expr), at)
        missing = f"raise _missing({node.target!r}, {node.expr!r})" if node.required else None
        c, cleaned = self.local("_c"), self.local("_v")
        # values.clean, inlined for non-empty str, int, bool and finite float (the common cases)
        at.add(f"{c} = {v}.__class__")
        at.add(f"if {c} is str:")
        at.add(f"if {v}:", 1)
        at.add(store(v), 2)
        if missing:
            at.add("else:", 1)
            at.add(missing, 2)
        at.add(f"elif {c} is int or {c} is bool or ({c} is float and {v} - {v} == 0.0):")  # x - x: nan if not finite
        at.add(store(v), 1)
        at.add(f"elif {v} is not None:")
        at.add(f"{cleaned} = _clean({v})", 1)
        at.add(f"if {cleaned} is not None:", 1)
        at.add(store(cleaned), 2)
        if missing:
            at.add("else:", 1)
            at.add(missing, 2)
            at.add("else:")
            at.add(missing, 1)

    def value_of(self, expr: Expr, what: tuple[str, str], at: _At) -> str:
        """A local (or an attribute read) holding the value of `expr`; `what` = (target, expression text)."""
        if not expr.raises and (expr.code.isidentifier() or expr.code.startswith("record.")):
            return expr.code
        v = self.local("_v")
        self.guarded(expr, v, what, at)
        return v

    def guarded(self, expr: Expr | None, var: str, what: tuple[str, str | None], at: _At) -> None:
        """`var = <expr>`, turning any exception into MappingError(target, expression text)."""
        if expr is None:
            at.add(f"{var} = None")
            return
        if not expr.raises:
            if var != expr.code:
                at.add(f"{var} = {expr.code}")
            return
        self.tried([f"{var} = {expr.code}"], what, at)

    def tried(self, lines: list[str], what: tuple[str, str | None], at: _At) -> None:
        """`lines` in a try block turning any exception into MappingError(target, expression text)."""
        at.add("try:")
        for line in lines:
            at.add(line, 1)
        at.add("except Exception as _x:")
        at.add(f"raise _fail({what[0]!r}, {what[1]!r}, _x) from _x", 1)

    # ------------------------------------------------------------------ specials and identities

    def event_id(self, dest: str, at: _At, id_spec: _IdSpec) -> None:
        text = id_spec.expr
        expr = self.exprs.compile(text, id_spec.where, at.scopes) if text is not None else None
        if id_spec.literal is not None:
            expr = Expr(self.ns.literal(id_spec.literal))
        default = "_event_id(record)" if self.spec.is_event else None
        if expr is None:
            if default:
                at.add(f"{dest}['_id'] = {default}")
            return
        v, s = self.local("_v"), self.local("_v")
        text_of = f"{v} if {v}.__class__ is str else (None if {v} is None else _to_text(_clean({v})))"
        self.tried([f"{v} = {expr.code}", f"{s} = {text_of}"], ("_id", text), at)
        at.add(f"if {s}:")
        at.add(f"{dest}['_id'] = {s}", 1)
        if default:
            at.add("else:")
            at.add(f"{dest}['_id'] = {default}", 1)

    def timestamp(self, dest: str, at: _At, node: Leaf) -> None:
        if node.expr is None:
            self.problems.append(f"{node.where}: timestamp must be an expression, not a literal")
            return
        expr = self.exprs.compile(node.expr, node.where, at.scopes)
        if expr is None:
            return
        v = self.value_of(expr, ("timestamp", node.expr), at)
        at.add(f"{dest}['timestamp'] = _timestamp({v}, {node.expr!r})")

    def identities(self, identities: Sequence[IdentitySpec], at: _At) -> None:
        if not identities:
            return
        lists: dict[str, str] = {}
        for ident in identities:
            expr = self.exprs.compile(ident.value, f"{ident.where}.value", at.scopes)
            target = f"identityMap.{ident.namespace}"
            first = ident.namespace not in lists
            lst = lists.setdefault(ident.namespace, self.local("_i"))
            v, ids = self.local("_v"), self.local("_v")
            self.tried([f"{v} = {expr.code if expr else 'None'}"], (target, ident.value), at)
            state, primary = ident.authenticated_state, ident.primary
            missing = f"raise _no_identity({ident.namespace!r}, {ident.value!r})"
            # a non-empty str (the common case) is the one id; anything else goes through _identity_values
            one = f"{{'id': {v}, 'authenticatedState': {state!r}, 'primary': {primary!r}}}"
            at.add(f"if {v}.__class__ is str and {v}:")
            at.add(f"{lst} = [{one}]" if first else f"{lst}.append({one})", 1)
            at.add("else:")
            values = f"{ids} = () if {v}.__class__ is str else _identity_values({v})"
            self.tried([values], (target, ident.value), at.inner())
            if ident.primary:
                at.add(f"if not {ids}:", 1)
                at.add(missing, 2)
            items = f"_identity_items({ids}, {state!r}, {primary!r})"
            at.add(f"{lst} = {items}" if first else f"{lst}.extend({items})", 1)
        at.add("_m = {}")
        for ns, lst in lists.items():
            at.add(f"if {lst}:")
            at.add(f"_m[{ns!r}] = {lst}", 1)
        at.add("_o0['identityMap'] = _m")


@dataclass(frozen=True, slots=True)
class _IdSpec:
    expr: str | None
    where: str
    literal: object


ORIGIN = 'f"{record.topic}/{record.partition}/{record.offset}"'  # the record's origin, as map() passes it


def envelope_source(wrap: Callable[[dict[str, object], str], dict[str, object]], entity_code: str) -> str:
    """The envelope around the entity `entity_code` evaluates to: one dict display, or a call of `_wrap`.

    The display is what `wrap(entity, origin)` builds for two different entities and origins, so it
    must be a pure function of them made of literal values (Envelope and EdgeEvent are): fresh
    objects per record, no per-record header copying. Anything else keeps `wrap`.
    """
    sources = []
    for n in (1, 2):
        entity: dict[str, object] = {"entity": n}
        origin = f"\x00origin-{n}"
        sources.append(_template(wrap(entity, origin), {id(entity): entity_code, id(origin): ORIGIN}))
    if sources[0] is None or sources[0] != sources[1]:
        return f"_wrap({entity_code}, {ORIGIN})"
    return sources[0]


def envelope_bytes_source(wrap: Callable[[dict[str, object], str], dict[str, object]], entity_code: str) -> str | None:
    """The envelope's JSON bytes as one `_join` of constant bytes and `_dumps` of origin and entity, or None.

    Byte for byte what `encode(wrap(entity, origin))` writes: orjson's compact output of a value does
    not depend on where the value sits, so the constant parts are written once, here, and per record
    only the origin and the entity are. None when `wrap` is no template (see `envelope_source`) or
    does not place the entity exactly once and the origin at most once.
    """
    if envelope_source(wrap, entity_code).startswith("_wrap("):
        return None
    entity: dict[str, object] = {"\x00entity": 0}
    origin = "\x00origin"
    dumped = orjson.dumps(wrap(entity, origin))
    marks = {
        orjson.dumps(entity): f"_dumps({entity_code}, default=_json_default)",
        orjson.dumps(origin): f"_dumps({ORIGIN})",
    }
    if [dumped.count(m) for m in marks] not in ([1, 1], [1, 0]):
        return None
    pieces, rest = [], dumped
    while found := [(rest.find(m), m) for m in marks if m in rest]:
        at, mark = min(found)
        pieces += [repr(rest[:at]), marks[mark]]
        rest = rest[at + len(mark) :]
    pieces.append(repr(rest))
    return "_join((" + ", ".join(p for p in pieces if p != "b''") + "))"


def _template(v: object, markers: dict[int, str]) -> str | None:
    if id(v) in markers:
        return markers[id(v)]
    if v.__class__ is dict:
        assert isinstance(v, dict)
        items = [(literal_source(k), _template(x, markers)) for k, x in v.items()]
        if any(k is None or x is None for k, x in items):
            return None
        return "{" + ", ".join(f"{k}: {x}" for k, x in items) + "}"
    return literal_source(v)


def _into(dest: str, name: str) -> Store:
    return lambda v: f"{dest}[{name!r}] = {v}"


def _append(items: str) -> Store:
    return lambda v: f"{items}.append({v})"
