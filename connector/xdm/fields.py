"""Static checks of a mapping against its XDM schema: mapped fields the schema lacks, class and tenant."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connector.mapping.spec import Each, Leaf, MappingSpec, Obj
from connector.xdm.prepare import EVENT_CLASS, PROFILE_CLASS, Prepared

_CLASSES = {"experienceevent": EVENT_CLASS, "profile": PROFILE_CLASS}


def mapping_problems(spec: MappingSpec, prepared: Prepared) -> list[str]:
    """What makes every (or every such) record of this mapping break its schema, found before any record."""
    out: list[str] = []
    where = f"schema {prepared.schema_id} version {prepared.version}"
    want = _CLASSES.get(spec.xdm_class)
    if prepared.xdm_class and want and prepared.xdm_class != want:
        out.append(f"xdm_class: {spec.xdm_class}, but {where} is of class {prepared.xdm_class}")
    tenant = prepared.tenant_namespace
    if spec.tenant and tenant and f"_{spec.tenant}" != tenant:
        out.append(f"tenant: {spec.tenant}, but the tenant namespace of {where} is {tenant}")
    for target in _unknown_targets(spec.fields, prepared.strict):
        out.append(f"fields.{target}: not in {where} (AEP drops records that carry it)")
    if spec.identities and "identityMap" not in prepared.strict.get("properties", {}):
        out.append(f"identities: {where} has no identityMap (add the Identity Map field group to the schema)")
    return out


def _unknown_targets(node: Obj, schema: Mapping[str, Any]) -> list[str]:
    props = schema.get("properties")
    props = props if isinstance(props, Mapping) else {}
    extra = schema.get("additionalProperties")
    out: list[str] = []
    for name, child in node.children.items():
        sub = props.get(name)
        if sub is None:
            if extra is False:
                out.append(child.target or name)
                continue
            sub = extra if isinstance(extra, Mapping) else None
        if not isinstance(sub, Mapping):
            continue
        if isinstance(child, Obj):
            out += _unknown_targets(child, sub)
        elif isinstance(child, Each) and isinstance(child.item, Obj):
            items = sub.get("items")
            if isinstance(items, Mapping):
                out += _unknown_targets(child.item, items)
        elif isinstance(child, Leaf | Each):
            continue
    return out
