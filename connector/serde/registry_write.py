"""The registry calls of the operator tools: list subjects, latest version, register (Confluent API).

Subjects follow Confluent's default TopicNameStrategy: `<topic>-value` holds a topic's value schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from connector.errors import DecodeError, RetriableError
from connector.serde.registry import RegistryClient


def value_subject(topic: str) -> str:
    return f"{topic}-value"


@dataclass(frozen=True, slots=True)
class RegisteredSchema:
    subject: str
    schema_id: int
    version: int | None
    text: str


class RegistryWriter(RegistryClient):
    """RegistryClient plus the calls that `check --connect` and `produce` need."""

    def subjects(self) -> list[str]:
        body = self._request("GET", "/subjects", "the list of subjects")
        if not isinstance(body, list):
            raise RetriableError(f"schema registry {self.url} answered /subjects with something other than a list")
        return sorted(str(s) for s in body)

    def latest(self, subject: str) -> RegisteredSchema | None:
        """The latest version of `subject`, or None when the registry has no such subject."""
        try:
            body = self._get(f"/subjects/{quote(subject, safe='')}/versions/latest", f"subject {subject}")
        except DecodeError:  # 404 with a registry error body: no such subject
            return None
        return RegisteredSchema(subject, int(body["id"]), _int(body.get("version")), str(body["schema"]))

    def register(self, subject: str, schema_text: str) -> int:
        """Register `schema_text` under `subject` (the existing id when it is already registered)."""
        body = self._request(
            "POST", f"/subjects/{quote(subject, safe='')}/versions", f"registering under {subject}",
            {"schema": schema_text},
        )  # fmt: skip
        if not isinstance(body, dict) or not isinstance(body.get("id"), int):
            raise RetriableError(f"schema registry {self.url} answered the registration without an id: {body!r}")
        return int(body["id"])


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
