"""The bench mapping as a user would write it in plain Python (no connector code): field for field the
envelope the connector builds from bench.workload.json_mapping (tests/bench pins the equality)."""

from __future__ import annotations

from typing import Any

SCHEMA_ID = "https://ns.adobe.com/exchangeinternal/schemas/loyalty-events"
SCHEMA_REF = {"id": SCHEMA_ID, "contentType": "application/vnd.adobe.xed-full+json;version=1"}
DATASET_ID = "5e30d7986c0cc218a85cee65"
HEADER = {"schemaRef": SCHEMA_REF, "datasetId": DATASET_ID, "source": {"name": "Kafka loyalty events"}}


def to_xdm(v: dict[str, Any], kafka_ts: int, origin: str) -> dict[str, Any]:
    """`origin`: topic/partition/offset of the Kafka record (header.msgId, as the connector sends it)."""
    x = v["_exchangeinternal"]
    ctx = v.get("context") or {}
    dev = ctx.get("device") or {}
    geo = ctx.get("geo") or {}
    email = x["loyaltyID"].strip().lower()
    return {
        "header": {**HEADER, "msgId": origin},
        "body": {
            "xdmMeta": {"schemaRef": SCHEMA_REF},
            "xdmEntity": {
                "_id": str(v["_id"]),
                "timestamp": v["timestamp"],
                "eventType": v["eventType"],
                "_exchangeinternal": {
                    "loyaltyID": x["loyaltyID"],
                    "pointsEarned": int(x["pointsEarned"]),
                    "totalPoints": int(x["totalPoints"]),
                    "loyaltyLevel": x["loyaltyLevel"],
                    "programID": x.get("programID"),
                    "channel": x.get("channel"),
                    "storeID": x.get("storeID"),
                    "transactionID": x.get("transactionID"),
                    "campaignID": (x.get("campaign") or {}).get("id"),
                    "kafkaTs": kafka_ts,
                },
                "device": {"type": dev.get("type"), "model": dev.get("model")},
                "environment": {
                    "operatingSystem": dev.get("os"),
                    "browserDetails": {"userAgent": ctx.get("userAgent")},
                },
                "placeContext": {
                    "geo": {
                        "countryCode": geo.get("country"),
                        "city": geo.get("city"),
                        "postalCode": geo.get("postalCode"),
                    }
                },
                "identityMap": {"Email": [{"id": email, "authenticatedState": "authenticated", "primary": True}]},
            },
        },
    }


def batch_failures(resp_json: Any) -> int:
    """Failed entries of a DCS batch (207) answer: entries carrying a status/statusCode."""
    return sum(1 for r in (resp_json or {}).get("responses", ()) if "status" in r or "statusCode" in r)
