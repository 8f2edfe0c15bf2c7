"""The global XDM resources the emulator knows: two classes, their behaviours, a few standard field
groups and data types, as Schema Registry documents (`$id`, `meta:altId`, `allOf`, `$ref`).

Properties are keyed by their instance names (`_id`, `personalEmail`) and carry
`meta:xdmField` (`@id`, `xdm:personalEmail`), as the registry's resolved (xed-full) form shows
them. Field groups refer to data types with `$ref`, so a schema's `xed+json` form has `allOf`
and `$ref` while its `xed-full+json` form has everything expanded (`connector.emulator.resolve`).
Only the fields the emulator needs are here; an unknown global `$ref` leaves a schema open.
"""

from __future__ import annotations

from typing import Any

PROFILE_CLASS = "https://ns.adobe.com/xdm/context/profile"
EVENT_CLASS = "https://ns.adobe.com/xdm/context/experienceevent"
RECORD = "https://ns.adobe.com/xdm/data/record"
TIME_SERIES = "https://ns.adobe.com/xdm/data/time-series"
AUDITABLE = "https://ns.adobe.com/xdm/common/auditable"
EXTENSIBLE = "https://ns.adobe.com/xdm/common/extensible"
IDENTITY_MAP = "https://ns.adobe.com/xdm/context/identitymap"
IDENTITY_ITEM = "https://ns.adobe.com/xdm/context/identityitem"
EMAIL = "https://ns.adobe.com/xdm/context/emailaddress"
PHONE = "https://ns.adobe.com/xdm/context/phonenumber"
ADDRESS = "https://ns.adobe.com/xdm/common/address"
PERSON = "https://ns.adobe.com/xdm/context/person"
PERSON_NAME = "https://ns.adobe.com/xdm/context/person-name"

Doc = dict[str, Any]


def _s(title: str, **extra: Any) -> Doc:
    return {"title": title, "type": "string", **extra}


def _b(title: str) -> Doc:
    return {"title": title, "type": "boolean"}


def _obj(title: str, **extra: Any) -> Doc:
    return {"title": title, "type": "object", **extra}


def _ref(ref: str, title: str) -> Doc:
    return {"title": title, "$ref": ref}


def _fields(props: dict[str, Doc], prefix: str = "xdm") -> dict[str, Doc]:
    """Give each standard field its `meta:xdmField` (`xdm:name`, `repo:name` under `_repo`, `@id` for `_id`)."""
    out: dict[str, Doc] = {}
    for name, given in props.items():
        node = dict(given)
        if name == "_id":
            node.setdefault("meta:xdmField", "@id")
        elif not name.startswith("_"):
            node.setdefault("meta:xdmField", f"{prefix}:{name}")
        if isinstance(node.get("properties"), dict):
            node["properties"] = _fields(node["properties"], "repo" if name == "_repo" else prefix)
        out[name] = node
    return out


def _resource(
    rid: str, kind: str, title: str, props: dict[str, Doc], *, refs: tuple[str, ...] = (), extra: Doc | None = None
) -> Doc:
    """A global resource: its own fields in `definitions`, pulled in (with `refs`) through `allOf`."""
    name = rid.rsplit("/", 1)[-1]
    alt = "_" + rid.removeprefix("https://ns.adobe.com/").replace("/", ".")
    all_of = [{"$ref": r} for r in refs]
    doc: Doc = {
        "$id": rid,
        "meta:altId": alt,
        "meta:resourceType": kind,
        "version": "1.0",
        "title": title,
        "type": "object",
        "meta:containerId": "global",
        "meta:xdmType": "object",
        **(extra or {}),
    }
    if props:
        doc["definitions"] = {name: {"properties": _fields(props)}}
        all_of.append({"$ref": f"#/definitions/{name}"})
    doc["allOf"] = all_of
    return doc


_STATUS = _s("Status")
_REPO = _obj(
    "Repository",
    properties={
        "createDate": _s("Create date", format="date-time"),
        "modifyDate": _s("Modify date", format="date-time"),
    },
)

DATATYPES: dict[str, Doc] = {
    d["$id"]: d
    for d in (
        _resource(
            IDENTITY_ITEM,
            "datatypes",
            "Identity",
            {
                "id": _s("Identifier"),
                "authenticatedState": _s("Authenticated state", enum=["ambiguous", "authenticated", "loggedOut"]),
                "primary": _b("Primary"),
            },
            extra={"required": ["id"]},
        ),
        _resource(
            EMAIL,
            "datatypes",
            "Email address",
            {
                "primary": _b("Primary"),
                "address": _s("Address", format="email"),
                "label": _s("Label"),
                "type": _s("Type"),
                "status": _STATUS,
                "statusReason": _s("Status Reason"),
            },
        ),
        _resource(
            PHONE,
            "datatypes",
            "Phone number",
            {
                "primary": _b("Primary"),
                "number": _s("Number"),
                "extension": _s("Extension"),
                "type": _s("Type"),
                "countryCode": _s("Country code"),
                "status": _STATUS,
                "statusReason": _s("Status Reason"),
                "validity": _s("Validity"),
            },
        ),
        _resource(
            ADDRESS,
            "datatypes",
            "Postal address",
            {
                **{k: _s(k) for k in ("street1", "street2", "street3", "street4", "city", "postalCode", "country")},
                **{k: _s(k) for k in ("stateProvince", "region", "postOfficeBox", "label", "type", "statusReason")},
                "countryCode": _s("Country code", pattern="^[A-Z]{2}$"),
                "primary": _b("Primary"),
                "status": _STATUS,
                "lastVerifiedDate": _s("Last Verified Date", format="date"),
            },
        ),
        _resource(
            PERSON_NAME,
            "datatypes",
            "Person name",
            {k: _s(k) for k in ("firstName", "middleName", "lastName", "fullName", "courtesyTitle", "suffix")},
        ),
        _resource(
            PERSON,
            "datatypes",
            "Person",
            {
                "name": _ref(PERSON_NAME, "Full name"),
                "birthDate": _s("Birth Date", format="date"),
                "birthDayAndMonth": _s("Birth day and month", pattern="[0-1][0-9]-[0-9][0-9]"),
                "birthYear": {"title": "Birth year", "type": "integer", "minimum": 1, "maximum": 32767},
                "gender": _s("Gender", enum=["male", "female", "not_specified", "non_specific"]),
                "maritalStatus": _s("Marital status"),
                "nationality": _s("Nationality"),
            },
        ),
    )
}

_IDENTITY_MAP_FIELD: Doc = {
    "title": "Identity map",
    "type": "object",
    "meta:xdmType": "map",
    "additionalProperties": {"type": "array", "items": {"$ref": IDENTITY_ITEM}},
}

BEHAVIOURS: dict[str, Doc] = {
    RECORD: _resource(RECORD, "behaviors", "Record", {"_id": _s("Identifier", format="uri-reference")}),
    TIME_SERIES: _resource(
        TIME_SERIES,
        "behaviors",
        "Time-series",
        {
            "_id": _s("Identifier", format="uri-reference"),
            "timestamp": _s("Timestamp", format="date-time"),
            "eventType": _s("Event Type"),
            "producedBy": _s("Produced By"),
        },
        extra={"required": ["_id", "timestamp"]},
    ),
}

FIELD_GROUPS: dict[str, Doc] = {
    d["$id"]: d
    for d in (
        _resource(
            AUDITABLE,
            "mixins",
            "Auditable",
            {
                "_repo": _REPO,
                "createdByBatchID": _s("Created by Batch Identifier", format="uri-reference"),
                "modifiedByBatchID": _s("Modified by Batch Identifier", format="uri-reference"),
                "repositoryCreatedBy": _s("Created by User Identifier"),
                "repositoryLastModifiedBy": _s("Modified by User Identifier"),
            },
        ),
        _resource(EXTENSIBLE, "mixins", "Extensible", {}),
        _resource(IDENTITY_MAP, "mixins", "IdentityMap", {"identityMap": _IDENTITY_MAP_FIELD}),
        _resource(
            "https://ns.adobe.com/xdm/context/profile-person-details",
            "mixins",
            "Demographic Details",
            {"person": _ref(PERSON, "Person")},
            extra={"meta:intendedToExtend": [PROFILE_CLASS]},
        ),
        _resource(
            "https://ns.adobe.com/xdm/context/profile-personal-details",
            "mixins",
            "Personal Contact Details",
            {
                "personalEmail": _ref(EMAIL, "Personal Email"),
                "homeAddress": _ref(ADDRESS, "Home Address"),
                "mobilePhone": _ref(PHONE, "Mobile Phone"),
                "homePhone": _ref(PHONE, "Home Phone"),
                "faxPhone": _ref(PHONE, "Fax Phone"),
            },
            extra={"meta:intendedToExtend": [PROFILE_CLASS]},
        ),
        _resource(
            "https://ns.adobe.com/xdm/context/profile-work-details",
            "mixins",
            "Work Contact Details",
            {
                "workEmail": _ref(EMAIL, "Work Email"),
                "workAddress": _ref(ADDRESS, "Work Address"),
                "workPhone": _ref(PHONE, "Work Phone"),
                "organizations": {"title": "Organizations", "type": "array"},
            },
            extra={"meta:intendedToExtend": [PROFILE_CLASS]},
        ),
        _resource(
            "https://ns.adobe.com/xdm/context/experienceevent-environment-details",
            "mixins",
            "Environment Details",
            {"environment": _obj("Environment")},
            extra={"meta:intendedToExtend": [EVENT_CLASS]},
        ),
        _resource(
            "https://ns.adobe.com/xdm/context/experienceevent-commerce",
            "mixins",
            "Commerce Details",
            {"commerce": _obj("Commerce"), "productListItems": {"title": "Product list items", "type": "array"}},
            extra={"meta:intendedToExtend": [EVENT_CLASS]},
        ),
        _resource(
            "https://ns.adobe.com/xdm/context/experienceevent-web",
            "mixins",
            "Web Details",
            {"web": _obj("Web")},
            extra={"meta:intendedToExtend": [EVENT_CLASS]},
        ),
    )
}

CLASSES: dict[str, Doc] = {
    PROFILE_CLASS: _resource(
        PROFILE_CLASS,
        "classes",
        "XDM Individual Profile",
        {"personID": _s("Person ID")},
        refs=(RECORD, IDENTITY_MAP, EXTENSIBLE, AUDITABLE),
        extra={"meta:abstract": False, "meta:extensible": True},
    ),
    EVENT_CLASS: _resource(
        EVENT_CLASS,
        "classes",
        "XDM ExperienceEvent",
        {"eventMergeId": _s("ExperienceEvent merge ID"), "_experience": _obj("Experience")},
        refs=(TIME_SERIES, IDENTITY_MAP, EXTENSIBLE, AUDITABLE),
        extra={"meta:abstract": False, "meta:extensible": True},
    ),
}
CLASS_ALT_IDS = {rid: doc["meta:altId"] for rid, doc in CLASSES.items()}

GLOBAL: dict[str, Doc] = {**CLASSES, **BEHAVIOURS, **FIELD_GROUPS, **DATATYPES}
"""Every global resource by `$id`."""


def global_by_alt_id(item_id: str) -> Doc | None:
    """A global resource by `$id` or `meta:altId`."""
    if item_id in GLOBAL:
        return GLOBAL[item_id]
    return next((d for d in GLOBAL.values() if d["meta:altId"] == item_id), None)
