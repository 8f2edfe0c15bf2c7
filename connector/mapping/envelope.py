"""The DCS envelope around one XDM entity: `{header, body: {xdmMeta, xdmEntity}}` (API §1.3)."""

from __future__ import annotations

from typing import Any

import orjson

from connector.errors import MappingError
from connector.numbers import json_bytes, json_default


def encode(envelope: dict[str, Any], *, indent: bool = False) -> bytes:
    """The one place an envelope becomes bytes: JSON, with every Decimal's exact digits as a number."""
    if indent:
        return json_bytes(envelope, indent=True)
    try:
        return orjson.dumps(envelope, default=json_default)  # the hot path: orjson.dumps, the hook only for Decimals
    except TypeError:  # an integer past 64 bits: the general writer handles it (rare, so trying twice is fine)
        return json_bytes(envelope)


def encode_or_fail(envelope: dict[str, Any]) -> bytes:
    """`encode(envelope)`; a value with no JSON form is the record's MappingError (mapping-failed)."""
    try:
        return encode(envelope)
    except Exception as exc:
        raise MappingError(f"{type(exc).__name__}: {exc}", reason="mapping-failed") from exc


def content_type(schema_version: str) -> str:
    return f"application/vnd.adobe.xed-full+json;version={schema_version}"


class Envelope:
    """Builds envelopes for one mapping; header parts are fixed at compile time."""

    __slots__ = ("_rest", "schema_ref")

    def __init__(
        self,
        *,
        schema_id: str,
        schema_version: str,
        dataset_id: str,
        ims_org: str | None = None,
        flow_id: str | None = None,
        source_name: str | None = None,
    ) -> None:
        self.schema_ref = {"id": schema_id, "contentType": content_type(schema_version)}
        rest: dict[str, Any] = {}
        if ims_org:
            rest["imsOrgId"] = ims_org
        rest["datasetId"] = dataset_id
        if flow_id:
            rest["flowId"] = flow_id
        if source_name:
            rest["source"] = {"name": source_name}
        self._rest = tuple(rest.items())

    def header(self) -> dict[str, Any]:
        out: dict[str, Any] = {"schemaRef": dict(self.schema_ref)}
        for k, v in self._rest:
            out[k] = dict(v) if isinstance(v, dict) else v
        return out

    def wrap(self, entity: dict[str, Any], origin: str | None = None) -> dict[str, Any]:
        """A fresh envelope (no part shared with other envelopes) around `entity`.

        `origin` (`topic/partition/offset` of the Kafka record) goes into `header.msgId`, a key DCS
        accepts (Adobe's own Kafka quick-start sends it), so a record AEP fails asynchronously can
        be traced back to its Kafka record (`aep-connector failures`).
        """
        header = self.header()
        if origin is not None:
            header["msgId"] = origin
        return {"header": header, "body": {"xdmMeta": {"schemaRef": dict(self.schema_ref)}, "xdmEntity": entity}}


class EdgeEvent:
    """Builds Edge Network events (`events[]` items of `/ee/v2/collect`): `{"xdm": entity}`.

    The datastream decides schema and dataset, so there is no header; `wrap` has Envelope's signature.
    """

    __slots__ = ()

    def wrap(self, entity: dict[str, Any], origin: str | None = None) -> dict[str, Any]:
        """`origin` is not sent: an Edge event has no DCS header (failed batches are a DCS matter)."""
        return {"xdm": entity}
