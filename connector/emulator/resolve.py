"""Schema resolution: a registry document (`allOf`, `$ref`, `definitions`) -> its `xed-full` form.

The resolved form is what `Accept: application/vnd.adobe.xed-full+json;version=1` returns and
what the emulator's streaming validation checks records against: class, behaviours and field
groups merged into one `properties` tree, every data type `$ref` expanded in place (with
`meta:referencedFrom`), `meta:xdmType` on every field, `required` in instance names (`_id`,
not `@id`), `meta:extends` listing every class, behaviour and field group pulled in.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from connector.emulator.xdm import CompiledSchema, IdentityField
from connector.emulator.xdmlib import CLASSES, GLOBAL

Doc = dict[str, Any]
Lookup = Callable[[str], Mapping[str, Any] | None]
_MAX_DEPTH = 32
_TEXT_KEYS = ("title", "description")


def instance_name(name: str) -> str:
    """`@id` -> `_id`, `xdm:timestamp` -> `timestamp`; other names unchanged."""
    if name == "@id":
        return "_id"
    prefix, sep, rest = name.partition(":")
    return rest if sep and prefix in ("xdm", "repo", "schema") else name


def refs_of(doc: Mapping[str, Any]) -> list[str]:
    return [str(part["$ref"]) for part in doc.get("allOf", []) if isinstance(part, dict) and "$ref" in part]


def class_of(doc: Mapping[str, Any], tenant: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The class a schema extends: `meta:class`, an `allOf` class, or a field group's `meta:intendedToExtend`."""
    if isinstance(doc.get("meta:class"), str):
        return str(doc["meta:class"])
    for ref in refs_of(doc):
        if ref in CLASSES:
            return ref
    for ref in refs_of(doc):
        group = tenant.get(ref)
        if group:
            for cls in group.get("meta:intendedToExtend", []):
                if cls in CLASSES:
                    return str(cls)
    return None


def merge_into(target: Doc, extra: Mapping[str, Any]) -> None:
    """Deep-merge the `properties`/`required` of `extra` into `target`."""
    props = target.setdefault("properties", {})
    for key, sub in extra.get("properties", {}).items():
        if key in props and isinstance(sub, dict) and "properties" in sub and "properties" in props[key]:
            merge_into(props[key], sub)
        else:
            props[key] = copy.deepcopy(sub)
    req = target.setdefault("required", [])
    for key in extra.get("required", []):
        name = instance_name(str(key))
        if name not in req:
            req.append(name)


def xdm_type(node: Mapping[str, Any]) -> str | None:
    """The `meta:xdmType` the registry shows for a field of this JSON type."""
    kind = node.get("type")
    if kind == "string":
        fmt = node.get("format")
        return str(fmt) if fmt in ("date", "date-time") else "string"
    if kind == "integer":
        lo, hi = node.get("minimum"), node.get("maximum")
        lo = lo if isinstance(lo, int | float) else None
        hi = hi if isinstance(hi, int | float) else None
        if (lo is not None and lo < -(2**31)) or (hi is not None and hi > 2**31 - 1):
            return "long"
        if lo is not None and hi is not None and lo >= -(2**15) and hi <= 2**15 - 1:
            return "short"
        return "int"
    if kind == "object":
        return "map" if "properties" not in node and isinstance(node.get("additionalProperties"), dict) else "object"
    return str(kind) if isinstance(kind, str) else None


@dataclass(slots=True)
class Resolved:
    doc: Doc
    uses: set[str] = field(default_factory=set)
    """Every resource pulled in: classes, behaviours, field groups and data types."""
    unresolved: list[str] = field(default_factory=list)
    """`$ref`s that named no known resource."""


class _Resolver:
    def __init__(self, lookup: Lookup) -> None:
        self.lookup = lookup
        self.uses: set[str] = set()
        self.unresolved: list[str] = []
        self.extends: list[str] = []
        self._stack: list[str] = []

    def parts(self, doc: Mapping[str, Any]) -> Doc:
        """The merged `properties`/`required` of a document and everything its `allOf` names."""
        root: Doc = {"properties": {}, "required": []}
        found = doc.get("definitions")
        defs: Mapping[str, Any] = found if isinstance(found, dict) else {}
        local = set()
        for ref in refs_of(doc):
            if ref.startswith("#/definitions/"):
                name = ref.removeprefix("#/definitions/")
                local.add(name)
                if isinstance(defs.get(name), dict):
                    merge_into(root, defs[name])
                continue
            target = self._follow(ref)
            if target is not None:
                if ref not in self.extends:
                    self.extends.append(ref)
                merge_into(root, self.parts(target))
                self._stack.pop()
        if defs and not local:  # a field group whose definitions no allOf names: all of them count
            for block in defs.values():
                if isinstance(block, dict):
                    merge_into(root, block)
        merge_into(root, {"properties": doc.get("properties", {}), "required": doc.get("required", [])})
        return root

    def _follow(self, ref: str) -> Mapping[str, Any] | None:
        target = self.lookup(ref)
        if target is None:
            self.unresolved.append(ref)
            return None
        if ref in self._stack or len(self._stack) >= _MAX_DEPTH:
            return None
        self.uses.add(ref)
        self._stack.append(ref)
        return target

    def expand(self, node: Any) -> Any:
        """Replace data type `$ref`s by their fields and annotate `meta:xdmType`, below `node`."""
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and not ref.startswith("#"):
            target = self._follow(ref)
            if target is None:
                return dict(node)
            sub = self.parts(target)
            out = {k: v for k, v in node.items() if k != "$ref"}
            for key in _TEXT_KEYS:
                if key not in out and key in target:
                    out[key] = target[key]
            out.update({"type": "object", "meta:xdmType": "object", "meta:referencedFrom": ref})
            out["properties"] = {k: self.expand(v) for k, v in sub["properties"].items()}
            if sub["required"]:
                out["required"] = sub["required"]
            self._stack.pop()
            return out
        out = dict(node)
        if isinstance(out.get("properties"), dict):
            out["properties"] = {k: self.expand(v) for k, v in out["properties"].items()}
        for key in ("items", "additionalProperties"):
            if isinstance(out.get(key), dict):
                out[key] = self.expand(out[key])
        if isinstance(out.get("required"), list):
            out["required"] = [instance_name(str(r)) for r in out["required"]]
        if "meta:xdmType" not in out and (kind := xdm_type(out)) is not None:
            out["meta:xdmType"] = kind
        return out


def resolve(doc: Mapping[str, Any], lookup: Lookup) -> Resolved:
    """The xed-full form of a schema, field group, data type or class document."""
    r = _Resolver(lookup)
    root = r.parts(doc)
    props = {k: r.expand(v) for k, v in root["properties"].items()}
    full: Doc = {k: copy.deepcopy(v) for k, v in doc.items() if k not in ("allOf", "definitions", "required")}
    full.update({"type": "object", "meta:xdmType": "object", "properties": props})
    if root["required"]:
        full["required"] = root["required"]
    extends = list(doc.get("meta:extends") or [])
    extends += [e for e in r.extends if e not in extends]
    if extends:
        full["meta:extends"] = extends
    return Resolved(full, r.uses, r.unresolved)


def transitive_extends(doc: Mapping[str, Any], lookup: Lookup) -> list[str]:
    """`meta:extends` as the registry reports it: every class, behaviour and field group, in order."""
    r = _Resolver(lookup)
    r.parts(doc)
    return r.extends


def strip_text(node: Any, keys: Iterable[str]) -> Any:
    """A copy without the given keys (titles, descriptions) at any depth: the `-notext` forms.

    Field names are not keys of a schema node: a field called `title` under `properties` stays.
    """
    drop = tuple(keys)
    if isinstance(node, dict):
        out = {k: strip_text(v, drop) for k, v in node.items() if k not in drop and k != "properties"}
        if isinstance(node.get("properties"), dict):
            out["properties"] = {name: strip_text(sub, drop) for name, sub in node["properties"].items()}
        return out
    if isinstance(node, list):
        return [strip_text(v, drop) for v in node]
    return node


def library_lookup(tenant: Mapping[str, Mapping[str, Any]]) -> Lookup:
    """Resolve `$ref`s against tenant resources first, then the global library."""

    def lookup(ref: str) -> Mapping[str, Any] | None:
        return tenant.get(ref) or GLOBAL.get(ref)

    return lookup


def compile_schema(
    schema_id: str,
    doc: Mapping[str, Any],
    tenant: Mapping[str, Mapping[str, Any]],
    descriptors: Iterable[Mapping[str, Any]] = (),
) -> CompiledSchema:
    """The validator's view of a schema: its resolved `properties`/`required`, class and identities."""
    klass = class_of(doc, tenant)
    resolved = resolve(doc, library_lookup(tenant))
    root: Doc = {
        "type": "object",
        "properties": resolved.doc["properties"],
        "required": resolved.doc.get("required", []),
    }
    open_root = klass is None or any(ref in resolved.unresolved for ref in refs_of(doc))
    identities = []
    for desc in descriptors:
        path = tuple(p for p in str(desc.get("xdm:sourceProperty", "")).split("/") if p)
        if path:
            identities.append(IdentityField(path, str(desc.get("xdm:namespace", "")), bool(desc.get("xdm:isPrimary"))))
    return CompiledSchema(schema_id, klass, root, open_root, tuple(identities))
