"""AEP's Schema Registry and Catalog, read over the Platform API (streaming-api.md §7).

    GET {platform_url}/data/foundation/schemaregistry/tenant/schemas/{url-encoded $id}
        Accept: application/vnd.adobe.xed-full+json;version=1   -> the resolved schema
    GET {platform_url}/data/foundation/catalog/dataSets/{id}    -> {id: {schemaRef: {id, ...}}}

Headers (IMS bearer token, x-api-key, x-gw-ims-org-id, x-sandbox-name) and the status -> error
mapping come from connector.ops.platform.PlatformClient: 404 is NotFound, other 4xx FatalError,
429/5xx and transport failures RetriableError.
"""

from __future__ import annotations

from typing import Any, Protocol
from urllib.parse import quote

from connector.errors import FatalError, RetriableError

XED_FULL = "application/vnd.adobe.xed-full+json;version=1"
SCHEMAS_PATH = "/data/foundation/schemaregistry/tenant/schemas/"
DATASETS_PATH = "/data/foundation/catalog/dataSets/"


class PlatformApi(Protocol):
    def get(self, path: str, params: Any = None, accept: str | None = None) -> Any: ...


class SchemaSource(Protocol):
    """Where live schemas come from (AEP here; a fake in unit tests)."""

    def schema(self, schema_id: str) -> dict[str, Any]:
        """The resolved schema; FatalError if it does not exist, RetriableError if AEP is unreachable."""
        ...

    def dataset_schema_id(self, dataset_id: str) -> str:
        """The `$id` of the schema a dataset is bound to (its `schemaRef.id`)."""
        ...


class SchemaRegistryClient:
    """SchemaSource over the Platform API."""

    def __init__(self, api: PlatformApi) -> None:
        self._api = api

    def schema(self, schema_id: str) -> dict[str, Any]:
        from connector.ops.platform import NotFound

        try:
            doc = self._api.get(SCHEMAS_PATH + quote(schema_id, safe=""), accept=XED_FULL)
        except NotFound:
            raise FatalError(f"schema {schema_id} does not exist in the Schema Registry of this sandbox") from None
        if not isinstance(doc, dict):
            raise RetriableError(f"the Schema Registry answered schema {schema_id} with {type(doc).__name__}")
        return doc

    def dataset_schema_id(self, dataset_id: str) -> str:
        from connector.ops.platform import NotFound

        try:
            doc = self._api.get(DATASETS_PATH + quote(dataset_id, safe=""))
        except NotFound:
            raise FatalError(f"dataset {dataset_id} does not exist in Catalog (in this sandbox)") from None
        entry = doc.get(dataset_id, doc) if isinstance(doc, dict) else None
        if isinstance(entry, dict) and "schemaRef" not in entry and len(entry) == 1:
            entry = next(iter(entry.values()))
        ref = entry.get("schemaRef") if isinstance(entry, dict) else None
        schema_id = ref.get("id") if isinstance(ref, dict) else None
        if not isinstance(schema_id, str) or not schema_id:
            raise FatalError(f"dataset {dataset_id} has no schemaRef.id in Catalog")
        return schema_id
