"""Schema Registry fidelity over HTTP (Accept forms, xed-full, errors, versions, sandbox ids); merge policies."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

import pytest
import requests

from connector.emulator import EmulatorOptions, EmulatorServer
from tests.integration.emulator.tutorial import Provisioned, platform_session, profile_message, provision

pytestmark = pytest.mark.integration
SR = "/data/foundation/schemaregistry"
FULL = "application/vnd.adobe.xed-full+json;version=1"
XED = "application/vnd.adobe.xed+json;version=1"


def _get(session: requests.Session, url: str, accept: str | None) -> requests.Response:
    headers = {"Accept": accept} if accept else {"Accept": ""}
    return session.get(url, headers=headers, timeout=5)


def _schema_url(server: EmulatorServer, schema_id: str) -> str:
    return f"{server.url}{SR}/tenant/schemas/{quote(schema_id, safe='')}"


def test_xed_full_is_resolved_and_xed_is_not(
    emulator: EmulatorServer, platform: requests.Session, provisioned: Provisioned
) -> None:
    """xed-full: field groups and data types expanded into properties with meta annotations; xed: allOf and $ref."""
    p = provisioned
    full = _get(platform, _schema_url(emulator, p.profile_schema), FULL).json()
    assert "allOf" not in full and "definitions" not in full
    assert full["$id"] == p.profile_schema and full["meta:altId"].startswith(f"_{p.tenant}.schemas.")
    assert full["version"] == "1.0" and full["meta:class"] == "https://ns.adobe.com/xdm/context/profile"
    props = full["properties"]
    assert props["_id"]["meta:xdmField"] == "@id"
    email = props["personalEmail"]
    assert email["meta:referencedFrom"] == "https://ns.adobe.com/xdm/context/emailaddress"
    assert email["properties"]["address"] == {
        "title": "Address",
        "type": "string",
        "format": "email",
        "meta:xdmField": "xdm:address",
        "meta:xdmType": "string",
    }
    name = props["person"]["properties"]["name"]
    assert name["meta:referencedFrom"] == "https://ns.adobe.com/xdm/context/person-name"
    assert props["person"]["properties"]["birthYear"]["meta:xdmType"] == "short"
    tenant = props[f"_{p.tenant}"]
    assert tenant["required"] == ["loyaltyID"]
    assert tenant["properties"]["loyaltyLevel"]["enum"] == ["Silver", "Gold", "Platinum", "Diamond"]
    assert tenant["properties"]["totalLoyaltyPoints"]["meta:xdmType"] == "int"
    assert props["identityMap"]["meta:xdmType"] == "map"
    assert "https://ns.adobe.com/xdm/context/profile-personal-details" in full["meta:extends"]
    uuid.UUID(full["meta:sandboxId"])

    stored = _get(platform, _schema_url(emulator, p.profile_schema), XED).json()
    assert stored["allOf"][0] == {"$ref": "https://ns.adobe.com/xdm/context/profile"}
    assert "properties" not in stored
    by_alt = _get(platform, f"{emulator.url}{SR}/tenant/schemas/{full['meta:altId']}", FULL).json()
    assert by_alt == full

    event = _get(platform, _schema_url(emulator, p.event_schema), FULL).json()
    assert event["required"] == ["_id", "timestamp"]
    assert event["properties"]["timestamp"]["meta:xdmType"] == "date-time"


def test_notext_forms_drop_titles_and_descriptions(
    emulator: EmulatorServer, platform: requests.Session, provisioned: Provisioned
) -> None:
    """xed-full-notext and xed-full-desc have no title anywhere; xed-notext is the stored form without them."""
    url = _schema_url(emulator, provisioned.profile_schema)
    for form in ("xed-full-notext", "xed-full-desc"):
        text = _get(platform, url, f"application/vnd.adobe.{form}+json; version=1").text
        assert '"title"' not in text and '"properties"' in text, form
    stored = _get(platform, url, "application/vnd.adobe.xed-notext+json; version=1").json()
    assert "title" not in stored and "allOf" in stored


def test_lookup_errors_have_the_documented_shapes(
    emulator: EmulatorServer, platform: requests.Session, provisioned: Provisioned
) -> None:
    """404 XDM-1012, 400 XDM-1007 without Accept or version, 406 for another major version or an unknown form."""
    missing = _get(platform, f"{emulator.url}{SR}/tenant/schemas/_acme.schemas.nope", FULL)
    body = missing.json()
    assert missing.status_code == 404 and body["type"] == "http://ns.adobe.com/aep/errors/XDM-1012-404"
    assert set(body) == {"type", "title", "status", "report", "detail"}
    assert set(body["report"]) == {"registryRequestId", "timestamp", "detailed-message", "sub-errors"}
    url = _schema_url(emulator, provisioned.profile_schema)
    for accept in (None, "application/json", "application/vnd.adobe.xed-full+json"):
        bad = _get(platform, url, accept)
        assert (bad.status_code, bad.json()["type"]) == (400, "http://ns.adobe.com/aep/errors/XDM-1007-400"), accept
    for accept in ("application/vnd.adobe.xed-full+json;version=2", "application/vnd.adobe.xed-id+json;version=1"):
        assert _get(platform, url, accept).status_code == 406, accept
    listing = _get(platform, f"{emulator.url}{SR}/tenant/schemas", XED)
    assert (listing.status_code, listing.json()["type"]) == (400, "http://ns.adobe.com/aep/errors/XDM-1006-400")
    ids = _get(platform, f"{emulator.url}{SR}/tenant/schemas", "application/vnd.adobe.xed-id+json").json()
    assert {r["$id"] for r in ids["results"]} == {provisioned.profile_schema, provisioned.event_schema}


def test_patch_bumps_versions_and_validation_follows_the_new_schema(
    emulator: EmulatorServer, platform: requests.Session, provisioned: Provisioned
) -> None:
    """PATCH (JSON Patch) bumps version 1.0 -> 1.1; a field group change bumps the schemas using it; records follow."""
    p = provisioned
    url = _schema_url(emulator, p.profile_schema)
    msg = profile_message(p, "w@example.com")
    msg["body"]["xdmEntity"]["workEmail"] = {"address": "w@work.example.com"}
    sync = f"{p.inlet_url}?syncValidation=true"
    assert requests.post(sync, json=msg, timeout=5).status_code == 400, "workEmail is not in the schema yet"

    work = {"op": "add", "path": "/allOf/-", "value": {"$ref": "https://ns.adobe.com/xdm/context/profile-work-details"}}
    patched = platform.patch(url, json=[work], timeout=5)
    assert patched.status_code == 200 and patched.json()["version"] == "1.1"
    full = _get(platform, url, FULL).json()
    assert full["version"] == "1.1" and "workEmail" in full["properties"]
    assert requests.post(sync, json=msg, timeout=5).status_code == 200, "validation uses the new version"

    group_id = next(e for e in full["meta:extends"] if f"/{p.tenant}/mixins/" in e)
    group_url = f"{emulator.url}{SR}/tenant/fieldgroups/{quote(group_id, safe='')}"
    add = {
        "op": "add",
        "path": f"/definitions/customFields/properties/_{p.tenant}/properties/tier",
        "value": {"type": "string"},
    }
    assert platform.patch(group_url, json=[add], timeout=5).json()["version"] == "1.1"
    full = _get(platform, url, FULL).json()
    assert full["version"] == "1.2" and "tier" in full["properties"][f"_{p.tenant}"]["properties"]
    bad = platform.patch(url, json=[{"op": "remove", "path": "/nope"}], timeout=5)
    assert bad.status_code == 400


def test_datatypes_are_expanded_where_referenced(emulator: EmulatorServer, platform: requests.Session) -> None:
    """A tenant data type referenced by a field group appears expanded, with meta:referencedFrom, in xed-full."""
    base = f"{emulator.url}{SR}/tenant"
    dt = platform.post(
        f"{base}/datatypes",
        json={"title": "Loyalty", "type": "object", "properties": {"points": {"type": "integer", "maximum": 2**40}}},
        timeout=5,
    ).json()
    group = platform.post(
        f"{base}/fieldgroups",
        json={
            "title": "With loyalty",
            "meta:intendedToExtend": ["https://ns.adobe.com/xdm/context/profile"],
            "properties": {"_acme": {"type": "object", "properties": {"loyalty": {"$ref": dt["$id"]}}}},
        },
        timeout=5,
    ).json()
    schema = platform.post(
        f"{base}/schemas",
        json={"title": "S", "allOf": [{"$ref": "https://ns.adobe.com/xdm/context/profile"}, {"$ref": group["$id"]}]},
        timeout=5,
    ).json()
    full = _get(platform, _schema_url(emulator, schema["$id"]), FULL).json()
    loyalty = full["properties"]["_acme"]["properties"]["loyalty"]
    assert loyalty["meta:referencedFrom"] == dt["$id"] and loyalty["properties"]["points"]["meta:xdmType"] == "long"
    global_dt = _get(platform, f"{base.replace('tenant', 'global')}/datatypes/_xdm.context.person-name", FULL)
    assert global_dt.status_code == 200 and "firstName" in global_dt.json()["properties"]


def test_sandbox_id_is_a_uuid_and_the_name_stays_prod(emulator: EmulatorServer, platform: requests.Session) -> None:
    """Flow Service items carry a UUID sandboxId and sandboxName prod."""
    params = _connection(emulator, platform)
    uuid.UUID(params["sandboxId"])
    assert params["sandboxName"] == "prod"


def _connection(emulator: EmulatorServer, platform: requests.Session) -> dict[str, Any]:
    base = f"{emulator.url}/data/foundation/flowservice/connections"
    created = platform.post(
        base,
        json={
            "name": "c",
            "connectionSpec": {"id": "bc7b00d6-623a-4dfc-9fdb-f1240aeadaeb", "version": "1.0"},
            "auth": {"specName": "Streaming Connection", "params": {"dataType": "xdm"}},
        },
        timeout=5,
    ).json()
    item: dict[str, Any] = platform.get(f"{base}/{created['id']}", timeout=5).json()["items"][0]
    return item


def _profile_lookup(emulator: EmulatorServer, platform: requests.Session, **params: str) -> requests.Response:
    query = {"schema.name": "_xdm.context.profile", "entityId": "m@example.com", "entityIdNS": "Email", **params}
    return platform.get(f"{emulator.url}/data/core/ups/access/entities", params=query, timeout=5)


def test_merge_policies_apply_and_an_unknown_one_is_422(
    emulator: EmulatorServer, platform: requests.Session, provisioned: Provisioned
) -> None:
    """No mergePolicyId: the default policy; a created one applies; an unknown one is a 422 ResponseErrorContext."""
    requests.post(provisioned.inlet_url, json=profile_message(provisioned, "m@example.com"), timeout=5)
    default = _profile_lookup(emulator, platform).json()
    policies = platform.get(f"{emulator.url}/data/core/ups/config/mergePolicies", timeout=5).json()["children"]
    (policy,) = policies
    assert next(iter(default.values()))["mergePolicy"] == {"id": policy["id"]} and policy["default"] is True
    created = platform.post(
        f"{emulator.url}/data/core/ups/config/mergePolicies",
        json={"name": "no stitching", "identityGraph": {"type": "none"}},
        timeout=5,
    ).json()
    chosen = _profile_lookup(emulator, platform, mergePolicyId=created["id"])
    assert chosen.status_code == 200 and next(iter(chosen.json().values()))["mergePolicy"] == {"id": created["id"]}
    unknown = _profile_lookup(emulator, platform, mergePolicyId="00000000-0000-0000-0000-000000000000")
    assert unknown.status_code == 422
    assert set(unknown.json()) == {"message", "cause", "statusCode"} and unknown.json()["statusCode"] == "422"


def test_unknown_merge_policy_can_be_ignored() -> None:
    """unknown_merge_policy=default answers with the default merge policy instead of a 422."""
    with EmulatorServer(options=EmulatorOptions(unknown_merge_policy="default")) as server:
        session = platform_session(server)
        p = provision(server, session)
        requests.post(p.inlet_url, json=profile_message(p, "m@example.com"), timeout=5).raise_for_status()
        found = _profile_lookup(server, session, mergePolicyId="unknown")
    assert found.status_code == 200
