"""A fake Confluent schema registry at the HTTP transport level, and Avro encoding helpers."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fastavro
import orjson
import requests
from requests.adapters import BaseAdapter
from requests.models import PreparedRequest
from requests.structures import CaseInsensitiveDict

from connector.serde.registry import RegistryClient

REGISTRY_URL = "http://registry.test/apis/ccompat/v7"
SAMPLES = Path(__file__).resolve().parents[3] / "connector" / "samples"


def sample_schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SAMPLES / name).read_text())
    return loaded


@dataclass(frozen=True)
class Seen:
    url: str
    headers: Mapping[str, str]
    timeout: Any
    verify: Any


@dataclass
class FakeRegistry(BaseAdapter):
    """Serves GET /schemas/ids/{id} and /subjects/{s}/versions/{v} from dicts; `fault` overrides answers."""

    schemas: dict[int, Any] = field(default_factory=dict)
    subjects: dict[tuple[str, int], Any] = field(default_factory=dict)
    fault: Callable[[PreparedRequest], requests.Response | BaseException | None] | None = None
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()

    def add(self, schema_id: int, schema: Any, **extra: Any) -> None:
        self.schemas[schema_id] = {"schema": json.dumps(schema), **extra}

    def send(self, request: PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        url = str(request.url)
        self.seen.append(Seen(url, dict(request.headers), kwargs.get("timeout"), kwargs.get("verify")))
        if self.fault is not None:
            answer = self.fault(request)
            if isinstance(answer, BaseException):
                raise answer
            if answer is not None:
                return answer
        path = url.removeprefix(REGISTRY_URL)
        parts = path.strip("/").split("/")
        body: Any = None
        if parts[:2] == ["schemas", "ids"]:
            body = self.schemas.get(int(parts[2]))
        elif parts[0] == "subjects" and len(parts) == 4:
            body = self.subjects.get((parts[1], int(parts[3])))
        elif parts == ["schemas", "types"]:
            body = ["AVRO"]
        if body is None:
            return response(404, {"error_code": 40403, "message": "Schema not found"})
        return response(200, body)

    def close(self) -> None:
        pass


def response(status: int, body: Any = None, headers: Mapping[str, str] | None = None) -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r._content = body if isinstance(body, bytes) else (b"" if body is None else orjson.dumps(body))
    r.headers = CaseInsensitiveDict(headers or {})
    return r


def client_for(fake: FakeRegistry, url: str = REGISTRY_URL, **kwargs: Any) -> RegistryClient:
    session = requests.Session()
    session.mount("http://", fake)
    session.mount("https://", fake)
    return RegistryClient(url, session=session, **kwargs)


def avro_bytes(schema: Any, record: Any) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(schema), record)
    return out.getvalue()


def framed(schema_id: int, schema: Any, record: Any) -> bytes:
    return b"\x00" + schema_id.to_bytes(4, "big") + avro_bytes(schema, record)
