"""Import an AEP Data Prep mapping set (API §4.6) as this project's mapping YAML.

Each mapping of the set (`sourceAttribute`/`source` -> `destinationXdmPath`/`destination`)
becomes a `fields:` entry; source attribute paths become `value...` paths (dots and brackets
kept, odd keys quoted); calculated fields (`sourceType: EXPRESSION`) are parsed with this
project's parser and converted when every function has a counterpart here. Whatever cannot be
converted is written as a `# TODO` comment and listed in the returned notes. Identity mappings
(`identity: true` with a namespace, or destinations under `identityMap.<NS>`) become
`identities:`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from connector.mapping.expressions import Call, ExpressionSyntaxError, Literal, Node, Path, format_node, parse
from connector.mapping.spec import SYSTEM_FIELDS

# Data Prep function name -> this project's function, where the meaning is the same.
FUNCTIONS = {
    "lower": "lower",
    "lcase": "lower",
    "upper": "upper",
    "ucase": "upper",
    "trim": "trim",
    "concat": "concat",
    "coalesce": "coalesce",
    "iif": "if",
    "sha256": "sha256",
    "sha1": "sha1",
    "md5": "md5",
    "now": "now",
    "uuid": "uuid4",
    "guid": "uuid4",
    "split": "split",
    "join": "join",
    "replacestr": "replace",
    "length": "len",
    "size_of": "len",
    "is_empty": "is_empty",
    "abs": "abs",
    "to_integer": "to_int",
    "to_bigint": "to_int",
    "to_float": "to_float",
    "to_decimal": "to_float",
    "to_bool": "to_bool",
    "to_string": "to_string",
}
_PLAIN_KEY = re.compile(r"^[A-Za-z_@][A-Za-z0-9_@.-]*$")
_PLAIN_VALUE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*(\[\d+\])*[A-Za-z0-9_.]*$")


class _Unsupported(ValueError):
    pass


@dataclass
class _Result:
    fields: list[tuple[str, str]] = field(default_factory=list)
    identities: list[tuple[str, str, bool]] = field(default_factory=list)
    todos: list[str] = field(default_factory=list)


def source_path(attribute: str) -> str:
    """A Data Prep source attribute (`a.b[0].c`, `'odd key'.x`) as a `value...` path expression."""
    segs: list[str | int] = []
    for part in re.findall(r"\[(\d+)\]|\[['\"]([^'\"]*)['\"]\]|([^.\[\]]+)", attribute):
        index, quoted, plain = part
        if index:
            segs.append(int(index))
        else:
            segs.append(quoted or plain)
    if not segs or "*" in attribute:
        raise _Unsupported(f"source attribute {attribute!r} cannot be converted (arrays with [*] need each:)")
    return format_node(Path("value", tuple(segs)))


def _convert(node: Node) -> Node:
    if isinstance(node, Literal):
        return node
    if isinstance(node, Path):
        return Path("value", (node.root, *node.segments))
    name = FUNCTIONS.get(node.name.lower())
    if name is None:
        raise _Unsupported(f"Data Prep function {node.name}() has no counterpart here")
    return Call(name, tuple(_convert(a) for a in node.args))


def convert_expression(text: str) -> str:
    """A Data Prep calculated field as an expression of this project; raise ValueError if not possible."""
    try:
        node = parse(text.strip().removeprefix("="))
    except ExpressionSyntaxError as exc:
        raise _Unsupported(f"cannot parse calculated field {text!r}: {exc}") from None
    return format_node(_convert(node))


def _identity_namespace(item: Mapping[str, Any], destination: str) -> str | None:
    for key in ("namespaceCode", "namespace", "identityNamespace"):
        if isinstance(item.get(key), str) and item[key]:
            return str(item[key])
    m = re.match(r"^identityMap\.([^.\[]+)", destination)
    return m.group(1) if m else None


def _collect(mappings: Sequence[Any]) -> _Result:
    out = _Result()
    for i, item in enumerate(mappings):
        if not isinstance(item, Mapping):
            out.todos.append(f"mappings[{i}]: not an object, skipped")
            continue
        source = item.get("sourceAttribute", item.get("source"))
        dest = item.get("destinationXdmPath", item.get("destination"))
        if not isinstance(source, str) or not isinstance(dest, str) or not source or not dest:
            out.todos.append(f"mappings[{i}]: needs sourceAttribute and destinationXdmPath, skipped")
            continue
        if "[" in dest:
            out.todos.append(f"{dest}: array destinations need an each: block; source: {source}")
            continue
        kind = str(item.get("sourceType", "ATTRIBUTE")).upper()
        try:
            if kind == "EXPRESSION":
                expr = convert_expression(source)
            elif kind == "CONSTANT":
                expr = format_node(Literal(source))
            else:
                expr = source_path(source)
        except ValueError as exc:
            out.todos.append(f"{dest}: {exc}; source: {source}")
            continue
        namespace = _identity_namespace(item, dest)
        if item.get("identity") is True or dest.startswith("identityMap."):
            if namespace is None:
                out.todos.append(f"{dest}: identity mapping without a namespace; source: {source}")
                continue
            primary = bool(item.get("primaryIdentity", item.get("primary", False)))
            out.identities.append((namespace, expr, primary))
            if not dest.startswith("identityMap."):
                out.fields.append((dest, expr))
            continue
        out.fields.append((dest, expr))
    return out


def _scalar(s: str, pattern: re.Pattern[str]) -> str:
    return s if pattern.match(s) else json.dumps(s)


def _tenant(fields: list[tuple[str, str]], todos: list[str]) -> str | None:
    tenants = sorted({d.split(".")[0] for d, _ in fields if d.startswith("_") and d.split(".")[0] not in SYSTEM_FIELDS})
    if len(tenants) > 1:
        todos.append(f"several custom namespaces in destinations ({', '.join(tenants)}); only one tenant is allowed")
    return tenants[0][1:] if tenants else None


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
    """(mapping YAML text, notes on everything that needs a person's attention)."""
    raw = mapping_set.get("mappings")
    result = _collect(raw if isinstance(raw, list) else [])
    if not isinstance(raw, list):
        result.todos.append("the mapping set has no mappings list")
    identities = result.identities
    if identities and not any(p for _, _, p in identities):
        ns, expr, _ = identities[0]
        identities[0] = (ns, expr, True)
        result.todos.append(f"no identity was marked primary; made {ns} primary")
    if not identities:
        result.todos.append("no identity mapping: add identities: (a primary identity is required)")
    dests = {d for d, _ in result.fields}
    if xdm_class == "experienceevent" and "timestamp" not in dests:
        result.todos.append("no timestamp mapping: an experienceevent needs fields.timestamp")
    tenant = _tenant(result.fields, result.todos)
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
    lines.append("identities:" if identities else "identities: []  # TODO: add a primary identity")
    for ns, expr, primary in identities:
        lines += [f"  - namespace: {_scalar(ns, _PLAIN_KEY)}", f"    value: {_scalar(expr, _PLAIN_VALUE)}"]
        if primary:
            lines.append("    primary: true")
    lines.append("fields:")
    for dest, expr in result.fields:
        lines.append(f"  {_scalar(dest, _PLAIN_KEY)}: {_scalar(expr, _PLAIN_VALUE)}")
    lines += [f"  # TODO: {todo}" for todo in result.todos]
    return "\n".join(lines) + "\n", result.todos
