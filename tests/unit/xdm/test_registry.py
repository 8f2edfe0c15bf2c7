"""The Schema Registry / Catalog client: request shapes and how AEP's answers map to errors."""

from __future__ import annotations

from typing import Any

import pytest

from connector.errors import FatalError, RetriableError
from connector.ops.platform import NotFound
from connector.xdm.registry import XED_FULL, SchemaRegistryClient


class FakeApi:
    """PlatformApi answering from a dict of path -> body (an exception is raised)."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, str | None]] = []

    def get(self, path: str, params: Any = None, accept: str | None = None) -> Any:
        self.calls.append((path, accept))
        answer = self.answers.get(path, NotFound(f"GET {path}: 404"))
        if isinstance(answer, Exception):
            raise answer
        return answer


SID = "https://ns.adobe.com/acme/schemas/abc"
SCHEMA_PATH = "/data/foundation/schemaregistry/tenant/schemas/https%3A%2F%2Fns.adobe.com%2Facme%2Fschemas%2Fabc"


def test_schema_is_fetched_url_encoded_with_the_xed_full_accept() -> None:
    """GET tenant/schemas/{url-encoded $id} with Accept: application/vnd.adobe.xed-full+json;version=1."""
    api = FakeApi({SCHEMA_PATH: {"$id": SID, "properties": {}}})
    assert SchemaRegistryClient(api).schema(SID) == {"$id": SID, "properties": {}}
    assert api.calls == [(SCHEMA_PATH, XED_FULL)]
    assert XED_FULL == "application/vnd.adobe.xed-full+json;version=1"


def test_missing_schema_is_fatal_and_an_outage_retriable() -> None:
    """404 means the mapping names a schema that does not exist; 5xx/transport errors pass through as retriable."""
    with pytest.raises(FatalError, match="does not exist in the Schema Registry"):
        SchemaRegistryClient(FakeApi({})).schema(SID)
    with pytest.raises(RetriableError):
        SchemaRegistryClient(FakeApi({SCHEMA_PATH: RetriableError("HTTP 503")})).schema(SID)
    with pytest.raises(RetriableError, match="answered schema"):
        SchemaRegistryClient(FakeApi({SCHEMA_PATH: ["not", "an", "object"]})).schema(SID)


@pytest.mark.parametrize(
    "body",
    [
        {"ds1": {"name": "d", "schemaRef": {"id": SID, "contentType": XED_FULL}}},  # Catalog: keyed by id
        {"schemaRef": {"id": SID}},  # tolerated: the bare object
        {"other-key": {"schemaRef": {"id": SID}}},  # one entry under an unexpected key
    ],
)
def test_dataset_schema_ref(body: dict[str, Any]) -> None:
    """The dataset's schemaRef.id, from Catalog's {id: dataset} answer (or a bare dataset object)."""
    api = FakeApi({"/data/foundation/catalog/dataSets/ds1": body})
    assert SchemaRegistryClient(api).dataset_schema_id("ds1") == SID


def test_dataset_without_schema_or_missing_is_fatal() -> None:
    """A dataset with no schemaRef, or none at all, is a configuration problem."""
    api = FakeApi({"/data/foundation/catalog/dataSets/ds1": {"ds1": {"name": "raw"}}})
    with pytest.raises(FatalError, match=r"has no schemaRef\.id"):
        SchemaRegistryClient(api).dataset_schema_id("ds1")
    with pytest.raises(FatalError, match="dataset ds2 does not exist"):
        SchemaRegistryClient(api).dataset_schema_id("ds2")
