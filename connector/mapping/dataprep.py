"""Import an AEP Data Prep mapping set (API §4.6) as this project's mapping YAML.

Each mapping of the set (`sourceAttribute`/`source` -> `destinationXdmPath`/`destination`)
becomes a `fields:` entry: source attributes become `value...` paths, STATIC sources literals,
calculated fields (`sourceType: EXPRESSION`) are converted by `dataprep_expr` (operators,
iif, date, decode, ...). Destinations under `identityMap` become `identities:` (`identityMap.Email`
or `identityMap.Email[0].id`, with `[0].primary` / `[0].authenticatedState` as its flags), and
so do mappings flagged `identity: true` with a namespace. Arrays iterated with `[*]`
(`items[*].sku` -> `productListItems[*].SKU`) become `each:` blocks. Whatever cannot be
converted is written as a `# TODO` comment and listed in the returned notes.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from connector.mapping.dataprep_expr import (
    STAR,
    Binder,
    Segment,
    Unsupported,
    Wildcard,
    parse_dataprep,
    parse_source_path,
    value_binder,
)
from connector.mapping.expressions import Literal, Node, Path, format_node
from connector.mapping.spec import AUTH_STATES, SYSTEM_FIELDS

ITEM = "item"
_PLAIN_KEY = re.compile(r"^[A-Za-z_@][A-Za-z0-9_@.-]*$")
_PLAIN_VALUE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*(\[\d+\])*[A-Za-z0-9_.]*$")
DestIndex = int | Wildcard | None
_DEST_PART = re.compile(r"^([A-Za-z_@][A-Za-z0-9_@-]*)(?:\[(\d+|\*)\])?$")


@dataclass
class _Each:
    dest: str
    source: tuple[Segment, ...] = ()
    fields: list[tuple[str, str]] = field(default_factory=list)
    value: str | None = None


@dataclass
class _Identity:
    namespace: str
    value: str | None = None
    primary: bool = False
    state: str | None = None


@dataclass
class _Result:
    entries: list[tuple[str, str] | _Each] = field(default_factory=list)
    identities: dict[tuple[str, int], _Identity] = field(default_factory=dict)
    todos: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Item:
    """One mapping of the set, read: source text, destination, source type and flags."""

    source: str
    dest: str
    kind: str  # ATTRIBUTE | STATIC | EXPRESSION
    raw: Mapping[str, Any]

    def node(self, bind: Binder = value_binder) -> Node:
        if self.kind == "EXPRESSION":
            return parse_dataprep(self.source, bind)
        if self.kind in ("STATIC", "CONSTANT"):
            return Literal(self.source)
        return bind(parse_source_path(self.source))

    def expression(self, bind: Binder = value_binder) -> str:
        return format_node(self.node(bind))


def source_path(attribute: str) -> str:
    """A Data Prep source attribute (`a.b[0].c`, `'odd key'.x`) as a `value...` path expression."""
    return format_node(value_binder(parse_source_path(attribute)))


def convert_expression(text: str) -> str:
    """A Data Prep calculated field as an expression of this project; raise ValueError if not possible."""
    return format_node(parse_dataprep(text))


def _dest_parts(dest: str) -> list[tuple[str, DestIndex]]:
    parts: list[tuple[str, DestIndex]] = []
    for part in dest.removeprefix("xdm:").split("."):
        m = _DEST_PART.match(part)
        if m is None:
            raise Unsupported(f"destination {dest!r}: {part!r} is not a field name (with an optional [n] or [*])")
        index = m.group(2)
        parts.append((m.group(1), None if index is None else STAR if index == "*" else int(index)))
    return parts


def _identity_namespace(item: Mapping[str, Any]) -> str | None:
    for key in ("namespaceCode", "namespace", "identityNamespace"):
        if isinstance(item.get(key), str) and item[key]:
            return str(item[key])
    return None


def _flag(item: Mapping[str, Any]) -> bool:
    return bool(item.get("primaryIdentity", item.get("primary", False)))


def _read(i: int, raw: Any, todos: list[str]) -> _Item | None:
    if not isinstance(raw, Mapping):
        todos.append(f"mappings[{i}]: not an object, skipped")
        return None
    source = raw.get("sourceAttribute", raw.get("source"))
    dest = raw.get("destinationXdmPath", raw.get("destination"))
    if not isinstance(source, str) or not isinstance(dest, str) or not source or not dest:
        todos.append(f"mappings[{i}]: needs sourceAttribute and destinationXdmPath, skipped")
        return None
    return _Item(source, dest.removeprefix("xdm:"), str(raw.get("sourceType", "ATTRIBUTE")).upper(), raw)


class _Collector:
    def __init__(self) -> None:
        self.out = _Result()
        self.groups: dict[str, list[tuple[str, _Item]]] = {}

    def add(self, item: _Item) -> None:
        parts = _dest_parts(item.dest)
        if parts[0][0] == "identityMap":
            self.identity_map(item, parts)
            return
        stars = [i for i, (_, index) in enumerate(parts) if index is STAR]
        fixed = [f"{name}[{index}]" for name, index in parts if isinstance(index, int)]
        if len(stars) > 1:
            raise Unsupported("nested arrays ([*] twice in the destination) need nested each: blocks")
        if fixed:
            raise Unsupported(f"a destination at a fixed array index ({fixed[0]}) has no counterpart here")
        if stars:
            cut = stars[0]
            prefix = ".".join(name for name, _ in parts[: cut + 1])
            if prefix not in self.groups:
                self.groups[prefix] = []
                self.out.entries.append(_Each(prefix))
            self.groups[prefix].append((".".join(name for name, _ in parts[cut + 1 :]), item))
            return
        expr = item.expression()
        namespace = _identity_namespace(item.raw)
        if item.raw.get("identity") is True:
            if namespace is None:
                raise Unsupported("identity mapping without a namespace")
            ident = self.identity(namespace, -1 - len(self.out.identities))
            ident.value, ident.primary = expr, _flag(item.raw)
        self.out.entries.append((item.dest, expr))

    def identity(self, namespace: str, index: int) -> _Identity:
        return self.out.identities.setdefault((namespace, index), _Identity(namespace))

    def identity_map(self, item: _Item, parts: list[tuple[str, DestIndex]]) -> None:
        """identityMap.NS, identityMap.NS[i].id / .primary / .authenticatedState, identityMap.NS[*].id."""
        if len(parts) < 2 or parts[0][1] is not None:
            raise Unsupported("map identityMap.<namespace>[n].id (identityMap itself is built from identities:)")
        (namespace, index), rest = parts[1], [name for name, _ in parts[2:]]
        if index is None and not rest:
            ident = self.identity(namespace, -1 - len(self.out.identities))
            ident.value, ident.primary = item.expression(), _flag(item.raw)
            return
        if rest not in (["id"], ["primary"], ["authenticatedState"]):
            raise Unsupported(f"identityMap.{namespace} takes id, primary and authenticatedState")
        if index is STAR:
            ident = self.identity(namespace, -1 - len(self.out.identities))
            ident.value = self.identity_list(item) if rest == ["id"] else None
            if ident.value is None:
                raise Unsupported("only identityMap.<NS>[*].id from a list of values (source a[*]) converts")
            return
        assert isinstance(index, int)
        ident = self.identity(namespace, index)
        if rest == ["id"]:
            ident.value = item.expression()
            ident.primary |= _flag(item.raw)
            return
        constant = item.node()
        if not isinstance(constant, Literal):
            raise Unsupported(f"identityMap.{namespace}[{index}].{rest[0]} must be a constant here")
        if rest == ["primary"]:
            ident.primary = str(constant.value).lower() in ("true", "1", "yes")
        elif str(constant.value) in AUTH_STATES:
            ident.state = str(constant.value)
        else:
            raise Unsupported(f"authenticatedState must be one of {', '.join(AUTH_STATES)}, got {constant.value!r}")

    @staticmethod
    def identity_list(item: _Item) -> str | None:
        if item.kind != "ATTRIBUTE":
            return None
        segs = parse_source_path(item.source)
        if segs.count(STAR) != 1 or segs[-1] is not STAR:
            return None
        return format_node(value_binder(segs[:-1]))

    def finish_arrays(self) -> None:
        """Each [*] destination group becomes one each: block over the one source list its mappings read."""
        for block in (e for e in self.out.entries if isinstance(e, _Each)):
            members = self.groups[block.dest]
            lists = {p for _, item in members for p in _star_prefixes(item)}
            if len(lists) != 1:
                why = "no source list with [*]" if not lists else f"several source lists ({len(lists)})"
                for _, item in members:
                    self.out.todos.append(f"{item.dest}: {why} to iterate; source: {item.source}")
                block.dest = ""
                continue
            block.source = lists.pop()
            bind = _item_binder(block.source)
            for rest, item in members:
                try:
                    expr = item.expression(bind)
                except Unsupported as exc:
                    self.out.todos.append(f"{item.dest}: {exc}; source: {item.source}")
                    continue
                if rest:
                    block.fields.append((rest, expr))
                elif len(members) == 1:
                    block.value = expr
                else:
                    self.out.todos.append(f"{item.dest}: the list items and their fields are both mapped")
            if not block.fields and block.value is None:
                block.dest = ""


def _star_prefixes(item: _Item) -> set[tuple[Segment, ...]]:
    found: set[tuple[Segment, ...]] = set()

    def record(segs: tuple[Segment, ...]) -> Node:
        if STAR in segs:
            found.add(segs[: segs.index(STAR)])
        return Literal(None)

    with contextlib.suppress(Unsupported):  # reported when the block is converted
        item.node(record)
    return found


def _item_binder(source: tuple[Segment, ...]) -> Binder:
    def bind(segs: tuple[Segment, ...]) -> Node:
        if STAR not in segs:
            return value_binder(segs)
        cut = segs.index(STAR)
        rest = segs[cut + 1 :]
        if segs[:cut] != source or STAR in rest:
            raise Unsupported("only one list can be iterated per destination array ([*] once)")
        return Path(ITEM, tuple(s for s in rest if isinstance(s, str | int)))

    return bind


def _collect(mappings: Sequence[Any]) -> _Result:
    collector = _Collector()
    for i, raw in enumerate(mappings):
        item = _read(i, raw, collector.out.todos)
        if item is None:
            continue
        try:
            collector.add(item)
        except Unsupported as exc:
            collector.out.todos.append(f"{item.dest}: {exc}; source: {item.source}")
    collector.finish_arrays()
    return collector.out


def _scalar(s: str, pattern: re.Pattern[str]) -> str:
    return s if pattern.match(s) else json.dumps(s)


def _tenant(dests: list[str], todos: list[str]) -> str | None:
    tenants = sorted({d.split(".")[0] for d in dests if d.startswith("_") and d.split(".")[0] not in SYSTEM_FIELDS})
    if len(tenants) > 1:
        todos.append(f"several custom namespaces in destinations ({', '.join(tenants)}); only one tenant is allowed")
    return tenants[0][1:] if tenants else None


def _identity_lines(result: _Result) -> list[str]:
    idents = list(result.identities.values())
    for ident in idents:
        if ident.value is None:
            result.todos.append(f"identityMap.{ident.namespace}: primary/authenticatedState mapped without an id")
    idents = [x for x in idents if x.value is not None]
    primaries = [x for x in idents if x.primary]
    if idents and not primaries:
        idents[0].primary = True
        result.todos.append(f"no identity was marked primary; made {idents[0].namespace} primary")
    for extra in primaries[1:]:
        extra.primary = False
        result.todos.append(f"several primary identities; kept {primaries[0].namespace}, not {extra.namespace}")
    if not idents:
        result.todos.append("no identity mapping: add identities: (a primary identity is required)")
        return ["identities: []  # TODO: add a primary identity"]
    lines = ["identities:"]
    for ident in idents:
        assert ident.value is not None
        lines.append(f"  - namespace: {_scalar(ident.namespace, _PLAIN_KEY)}")
        lines.append(f"    value: {_scalar(ident.value, _PLAIN_VALUE)}")
        if ident.primary:
            lines.append("    primary: true")
        if ident.state is not None:
            lines.append(f"    authenticated_state: {ident.state}")
    return lines


def _field_lines(result: _Result) -> list[str]:
    lines = ["fields:"]
    for entry in result.entries:
        if isinstance(entry, tuple):
            lines.append(f"  {_scalar(entry[0], _PLAIN_KEY)}: {_scalar(entry[1], _PLAIN_VALUE)}")
            continue
        if not entry.dest:
            continue
        source = format_node(value_binder(entry.source))
        lines.append(f"  {_scalar(entry.dest, _PLAIN_KEY)}:")
        lines += [f"    each: {_scalar(source, _PLAIN_VALUE)}", f"    as: {ITEM}"]
        if entry.value is not None:
            lines.append(f"    value: {_scalar(entry.value, _PLAIN_VALUE)}")
            continue
        lines.append("    fields:")
        lines += [f"      {_scalar(d, _PLAIN_KEY)}: {_scalar(e, _PLAIN_VALUE)}" for d, e in entry.fields]
    return lines if len(lines) > 1 else ["fields: {}"]


def convert_mapping_set(
    mapping_set: Mapping[str, Any],
    *,
    name: str,
    schema_id: str,
    dataset_id: str,
    xdm_class: str = "experienceevent",
    topics: Sequence[str] = (),
    origin: str = "mapping set",
) -> tuple[str, list[str]]:
    """(mapping YAML text ending in a newline, notes on everything that needs a person's attention)."""
    raw = mapping_set.get("mappings")
    result = _collect(raw if isinstance(raw, list) else [])
    if not isinstance(raw, list):
        result.todos.append("the mapping set has no mappings list")
    identity_lines = _identity_lines(result)
    dests = [e[0] if isinstance(e, tuple) else e.dest for e in result.entries]
    if xdm_class == "experienceevent" and "timestamp" not in dests:
        result.todos.append("no timestamp mapping: an experienceevent needs fields.timestamp")
    tenant = _tenant(dests, result.todos)
    lines = [
        f"# Imported from the AEP Data Prep {origin} by `aep-connector import-dataprep`.",
        "# Check every TODO, then validate with `aep-connector check`.",
        f"name: {_scalar(name, _PLAIN_KEY)}",
        f"topics: [{', '.join(_scalar(t, _PLAIN_KEY) for t in (topics or [name]))}]"
        + ("" if topics else "  # TODO: the Kafka topic(s) to read"),
        "format: json",
        f"xdm_class: {xdm_class}",
        f"schema_id: {_scalar(schema_id, re.compile(r'^[A-Za-z0-9:/._-]+$'))}",
        'schema_version: "1"',
        f"dataset_id: {json.dumps(dataset_id)}",
    ]
    if tenant:
        lines.append(f"tenant: {tenant}")
    lines += identity_lines
    lines += _field_lines(result)
    lines += [f"  # TODO: {todo}" for todo in result.todos]
    return "\n".join(lines) + "\n", result.todos
