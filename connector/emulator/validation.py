"""DCCS envelope checks and streaming validation of one message.

Stage 1 (DCCS, at the edge) checks the envelope, the org and the schema reference and answers
with Adobe's short texts. Stage 2 (streaming validation) checks the entity: no null or empty
values, ExperienceEvent `_id`/`timestamp`, and the dataset's schema when it is known.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from connector.emulator.xdm import (
    CompiledSchema,
    Violation,
    format_error,
    parse_date_time_ms,
    type_name,
    validate_entity,
    violation,
)

UNKNOWN_FORMAT = "Message has unknown xdm format"
WRONG_ORG = "Message has an absent or wrong ims org in the header"
INVALID = "Message is invalid"


@dataclass(frozen=True, slots=True)
class InletInfo:
    inlet_id: str
    org: str
    authenticated: bool = False
    data_type: str = "xdm"
    name: str = ""


@dataclass(frozen=True, slots=True)
class DatasetInfo:
    id: str
    schema_id: str | None
    schema: CompiledSchema | None = None


@dataclass(frozen=True, slots=True)
class Checked:
    """A message that passed the envelope checks."""

    header: dict[str, Any]
    entity: dict[str, Any]
    schema_id: str
    dataset_id: str | None
    flow_id: str | None
    schema: CompiledSchema | None
    is_event: bool


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why one message was refused: Adobe's text, plus schema violations for stage 2."""

    text: str
    violations: list[Violation] = field(default_factory=list)

    def message(self, inlet: InletInfo, org: str | None = None) -> str:
        base = f"inletId: [{inlet.inlet_id}] imsOrgId: [{org or inlet.org}] {self.text}"
        if self.violations:
            causes = "; ".join(f"{v['pointerToViolation']}: {v['message']}" for v in self.violations)
            return f"{base}: {causes}"
        return base


def _schema_id(ref: Any) -> str | None:
    if isinstance(ref, dict):
        value = ref.get("id")
        if isinstance(value, str) and value:
            return value
    return None


def check_envelope(
    msg: Any,
    inlet: InletInfo,
    dataset_of: Callable[[str], DatasetInfo | None],
    flow_dataset: Callable[[str], str | None],
    flow_header: str | None = None,
) -> Checked | Rejection:
    """DCCS: envelope shape, org, schemaRef in header == xdmMeta == dataset's schema."""
    if not isinstance(msg, dict):
        return Rejection(UNKNOWN_FORMAT)
    header, body = msg.get("header"), msg.get("body")
    if not isinstance(header, dict) or not isinstance(body, dict):
        return Rejection(UNKNOWN_FORMAT)
    schema_id = _schema_id(header.get("schemaRef"))
    meta = body.get("xdmMeta")
    meta_id = _schema_id(meta.get("schemaRef")) if isinstance(meta, dict) else None
    entity = body.get("xdmEntity")
    if schema_id is None or meta_id is None or meta_id != schema_id or not isinstance(entity, dict):
        return Rejection(UNKNOWN_FORMAT)
    org = header.get("imsOrgId")
    if org is not None and org != inlet.org:
        return Rejection(WRONG_ORG)
    flow_id = header.get("flowId") or flow_header
    dataset_id = header.get("datasetId")
    if not dataset_id and isinstance(flow_id, str):
        dataset_id = flow_dataset(flow_id)
    dataset = dataset_of(dataset_id) if isinstance(dataset_id, str) else None
    if dataset is not None and dataset.schema_id and dataset.schema_id != schema_id:
        return Rejection(UNKNOWN_FORMAT)
    schema = dataset.schema if dataset else None
    is_event = schema.is_event if schema and schema.klass else "timestamp" in entity
    return Checked(
        header,
        entity,
        schema_id,
        dataset_id if isinstance(dataset_id, str) else None,
        flow_id if isinstance(flow_id, str) else None,
        schema,
        is_event,
    )


def empty_values(value: Any, ptr: str, out: list[Violation], limit: int) -> None:
    """Null, empty string, empty object and empty array anywhere below `value`."""
    if len(out) >= limit:
        return
    if isinstance(value, dict):
        for key, sub in value.items():
            path = f"{ptr}/{key}"
            if sub is None:
                out.append(violation("#", path, "type", "null value is not permitted; exclude the key instead"))
            elif sub in ("", {}, []):
                kind = "string" if isinstance(sub, str) else "object" if isinstance(sub, dict) else "array"
                out.append(violation("#", path, "minLength", f"empty {kind} is not permitted; exclude the key instead"))
            else:
                empty_values(sub, path, out, limit)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            path = f"{ptr}/{i}"
            if item is None or item in ("", {}, []):
                out.append(violation("#", path, "type", "null or empty array item is not permitted"))
            else:
                empty_values(item, path, out, limit)


def event_violations(entity: Mapping[str, Any], now_ms: int, future_skew_s: float) -> list[Violation]:
    """ExperienceEvent rules: `_id` a string, `timestamp` RFC 3339 and not in the future."""
    out: list[Violation] = []
    _id = entity.get("_id")
    if _id is None:
        out.append(violation("#", "#", "required", "required key [_id] not found"))
    elif not isinstance(_id, str):
        out.append(violation("#/properties/_id", "#/_id", "type", f"expected type: String, found: {type_name(_id)}"))
    ts = entity.get("timestamp")
    if ts is None:
        out.append(violation("#", "#", "required", "required key [timestamp] not found"))
    elif not isinstance(ts, str):
        out.append(
            violation("#/properties/timestamp", "#/timestamp", "type", f"expected type: String, found: {type_name(ts)}")
        )
    else:
        ms = parse_date_time_ms(ts)
        if ms is None:
            out.append(
                violation("#/properties/timestamp", "#/timestamp", "format", format_error("date-time", ts) or "")
            )
        elif ms > now_ms + future_skew_s * 1000:
            out.append(
                violation(
                    "#/properties/timestamp",
                    "#/timestamp",
                    "format",
                    f"[{ts}] is in the future; an ExperienceEvent timestamp must occur in the past",
                )
            )
    return out


def cheap_violations(checked: Checked) -> list[Violation]:
    """The per-message checks count mode can afford: an event's `_id` must be a string."""
    if checked.is_event:
        _id = checked.entity.get("_id")
        if not isinstance(_id, str):
            return [violation("#/properties/_id", "#/_id", "type", f"expected type: String, found: {type_name(_id)}")]
    return []


def streaming_violations(checked: Checked, now_ms: int, future_skew_s: float, limit: int = 5) -> list[Violation]:
    """Stage 2: every rule, at most `limit` violations, duplicates dropped."""
    found: list[Violation] = []
    empty_values(checked.entity, "#", found, limit)
    if checked.is_event:
        found.extend(event_violations(checked.entity, now_ms, future_skew_s))
    if checked.schema is not None:
        found.extend(validate_entity(checked.schema, checked.entity, limit))
    seen: set[tuple[str, str, str]] = set()
    unique = []
    for v in found:
        key = (v["pointerToViolation"], v["keyword"], v["message"])
        if key not in seen:
            seen.add(key)
            unique.append(v)
    return unique[:limit]


def streaming_cause(violations: list[Violation]) -> dict[str, Any]:
    """`report.cause` of a sync-validation 400."""
    if len(violations) == 1:
        return {"_streamingValidation": violations}
    return {
        "_streamingValidation": [
            {
                "schemaLocation": "#",
                "pointerToViolation": "#",
                "causingExceptions": violations,
                "message": f"{len(violations)} schema violations found",
            }
        ]
    }
