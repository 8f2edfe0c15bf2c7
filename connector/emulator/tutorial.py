"""The seed tutorial (ISV Postman / streaming docs) against an emulator, as reusable steps (demo, tests)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests

from connector.emulator import DEFAULT_ORG, EmulatorServer

CLIENT_ID = "tutorial-client"
CLIENT_SECRET = "tutorial-secret"  # noqa: S105 - the emulator's own test client
CONTENT_TYPE = "application/vnd.adobe.xed-full+json;version=1"
FLOW = "/data/foundation/flowservice"
SR = "/data/foundation/schemaregistry"


@dataclass(frozen=True)
class Provisioned:
    tenant: str
    profile_schema: str
    event_schema: str
    profile_dataset: str
    event_dataset: str
    inlet_url: str
    inlet_id: str
    profile_flow: str
    event_flow: str


def platform_session(server: EmulatorServer) -> requests.Session:
    """A session holding an IMS token and the Platform headers."""
    server.add_client(CLIENT_ID, CLIENT_SECRET)
    token = requests.post(
        f"{server.url}/ims/token/v3",
        data={
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "scope": "openid,AdobeID,read_organizations",
        },
        timeout=5,
    ).json()["access_token"]
    session = requests.Session()
    session.headers.update(
        {
            "Authorization": f"Bearer {token}",
            "x-api-key": CLIENT_ID,
            "x-gw-ims-org-id": DEFAULT_ORG,
            "x-sandbox-name": "prod",
        }
    )
    return session


def _post(session: requests.Session, url: str, body: Any) -> Any:
    response = session.post(url, json=body, timeout=5)
    assert response.status_code == 201, response.text
    return response.json()


def _mixin(tenant: str, klass: str, props: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "title": f"Loyalty {klass.rsplit('/', 1)[-1]}",
        "meta:intendedToExtend": [klass],
        "definitions": {
            "customFields": {
                "properties": {
                    f"_{tenant}": {"type": "object", "properties": props, "required": ["loyaltyID"]},
                }
            }
        },
        "allOf": [{"$ref": "#/definitions/customFields"}],
    }


def _schema_and_identity(
    session: requests.Session, base: str, tenant: str, klass: str, *, extra: list[str], props: dict[str, Any]
) -> str:
    mixin = _post(session, f"{base}{SR}/tenant/fieldgroups", _mixin(tenant, klass, props))
    refs = [{"$ref": klass}] + [{"$ref": r} for r in extra] + [{"$ref": mixin["$id"]}]
    body = {"type": "object", "title": "Loyalty", "allOf": refs, "meta:immutableTags": ["union"]}
    schema_id = str(_post(session, f"{base}{SR}/tenant/schemas", body)["$id"])
    descriptor = {
        "@type": "xdm:descriptorIdentity",
        "xdm:sourceSchema": schema_id,
        "xdm:sourceVersion": 1,
        "xdm:sourceProperty": f"/_{tenant}/loyaltyID",
        "xdm:namespace": "Email",
        "xdm:property": "xdm:code",
        "xdm:isPrimary": True,
    }
    _post(session, f"{base}{SR}/tenant/descriptors", descriptor)
    return schema_id


def _dataset(session: requests.Session, base: str, name: str, schema_id: str) -> str:
    body = {
        "name": name,
        "schemaRef": {"id": schema_id, "contentType": CONTENT_TYPE},
        "tags": {"unifiedIdentity": ["enabled:true"], "unifiedProfile": ["enabled:true"]},
    }
    created = _post(session, f"{base}/data/foundation/catalog/dataSets", body)
    return str(created[0]).removeprefix("@/dataSets/")


def _flow(session: requests.Session, base: str, conn_id: str, target: dict[str, Any]) -> str:
    source = _post(
        session,
        f"{base}{FLOW}/sourceConnections",
        {
            "name": f"source {target['name']}",
            "baseConnectionId": conn_id,
            "connectionSpec": {"id": "bc7b00d6-623a-4dfc-9fdb-f1240aeadaeb", "version": "1.0"},
        },
    )["id"]
    target_id = _post(session, f"{base}{FLOW}/targetConnections", target)["id"]
    flow = {
        "name": f"flow {target['name']}",
        "flowSpec": {"id": "d8a6f005-7eaf-4153-983e-e8574508b877", "version": "1.0"},
        "sourceConnectionIds": [source],
        "targetConnectionIds": [target_id],
    }
    return str(_post(session, f"{base}{FLOW}/flows", flow)["id"])


def provision(server: EmulatorServer, session: requests.Session, authenticated: bool = False) -> Provisioned:
    """Schemas + identity descriptors, datasets, a streaming connection, source/target connections, flows."""
    base = server.url
    tenant = session.get(f"{base}{SR}/stats", timeout=5).json()["tenantId"]
    profile_schema = _schema_and_identity(
        session,
        base,
        tenant,
        "https://ns.adobe.com/xdm/context/profile",
        extra=[
            "https://ns.adobe.com/xdm/context/profile-person-details",
            "https://ns.adobe.com/xdm/context/profile-personal-details",
        ],
        props={
            "loyaltyID": {"type": "string", "format": "email"},
            "loyaltyLevel": {"type": "string", "enum": ["Silver", "Gold", "Platinum", "Diamond"]},
            "totalLoyaltyPoints": {"type": "integer"},
        },
    )
    event_schema = _schema_and_identity(
        session,
        base,
        tenant,
        "https://ns.adobe.com/xdm/context/experienceevent",
        extra=[],
        props={
            "loyaltyID": {"type": "string", "format": "email"},
            "loyaltyLevel": {"type": "string"},
            "pointsEarned": {"type": "integer"},
            "totalPoints": {"type": "integer"},
            "transactionID": {"type": "string"},
        },
    )
    profile_ds = _dataset(session, base, "Loyalty profiles", profile_schema)
    event_ds = _dataset(session, base, "Loyalty events", event_schema)
    conn = {
        "name": "ACME Streaming Connection XDM Data",
        "connectionSpec": {"id": "bc7b00d6-623a-4dfc-9fdb-f1240aeadaeb", "version": "1.0"},
        "auth": {
            "specName": "Streaming Connection",
            "params": {"dataType": "xdm", "name": "ACME", "authenticationRequired": authenticated},
        },
    }
    conn_id = _post(session, f"{base}{FLOW}/connections", conn)["id"]
    params = session.get(f"{base}{FLOW}/connections/{conn_id}", timeout=5).json()["items"][0]["auth"]["params"]
    lake = {"id": "c604ff05-7f1a-43c0-8e18-33bf874cb11c", "version": "1.0"}
    profile_flow = _flow(
        session,
        base,
        conn_id,
        {
            "name": "profile target",
            "data": {"schema": {"id": profile_schema, "version": CONTENT_TYPE}},
            "params": {"dataSetId": profile_ds},
            "connectionSpec": lake,
        },
    )
    event_flow = _flow(
        session,
        base,
        conn_id,
        {
            "name": "event target",
            "connectionSpec": lake,
            "data": {"format": "parquet_xdm", "schema": {"id": event_schema, "version": CONTENT_TYPE}},
            "params": {"dataSetId": event_ds},
        },
    )
    return Provisioned(
        tenant,
        profile_schema,
        event_schema,
        profile_ds,
        event_ds,
        params["inletUrl"],
        params["inletId"],
        profile_flow,
        event_flow,
    )


def envelope(schema_id: str, dataset_id: str, entity: dict[str, Any], flow_id: str | None = None) -> dict[str, Any]:
    ref = {"id": schema_id, "contentType": CONTENT_TYPE}
    header: dict[str, Any] = {
        "schemaRef": ref,
        "imsOrgId": DEFAULT_ORG,
        "datasetId": dataset_id,
        "source": {"name": "tutorial"},
    }
    if flow_id:
        header["flowId"] = flow_id
    return {"header": header, "body": {"xdmMeta": {"schemaRef": ref}, "xdmEntity": entity}}


def profile_message(p: Provisioned, email: str, first: str = "Jane", points: int = 12000) -> dict[str, Any]:
    entity = {
        f"_{p.tenant}": {"loyaltyID": email, "loyaltyLevel": "Silver", "totalLoyaltyPoints": points},
        "person": {"name": {"firstName": first, "lastName": "Doe"}, "birthDate": "1980-05-10", "gender": "female"},
        "personalEmail": {"primary": False, "address": email, "type": "personal", "status": "active"},
    }
    return envelope(p.profile_schema, p.profile_dataset, entity, p.profile_flow)


def event_message(p: Provisioned, email: str, event_id: str, points: int = 2000) -> dict[str, Any]:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    entity = {
        f"_{p.tenant}": {"loyaltyID": email, "pointsEarned": points, "totalPoints": 16500, "transactionID": "t-1"},
        "_id": event_id,
        "eventType": "loyaltyBalanceUpdate",
        "timestamp": now,
    }
    return envelope(p.event_schema, p.event_dataset, entity, p.event_flow)
