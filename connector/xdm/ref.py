"""The mapping keys `schema` and `validate`: which XDM schema a mapping's entities are checked against."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

FROM_DATASET = "from-dataset"
MODES = ("strict", "warn", "off")
Kind = Literal["id", "dataset", "file"]


@dataclass(frozen=True, slots=True)
class SchemaRef:
    """`kind` id: `value` is a schema `$id`; dataset: a Catalog dataset id; file: a local exported schema."""

    kind: Kind
    value: str

    def describe(self) -> str:
        if self.kind == "dataset":
            return f"the schema of dataset {self.value}"
        if self.kind == "file":
            return f"schema file {self.value}"
        return f"schema {self.value}"


def parse_schema_keys(
    raw: Mapping[str, Any], base_dir: Path, schema_id: str, dataset_id: str, problems: list[str]
) -> tuple[SchemaRef | None, str]:
    """(schema reference or None, validate mode) from a mapping spec; appends every problem.

    `schema:` is an `$id` (must be the envelope's `schema_id`), `from-dataset` (the Catalog
    dataset's `schemaRef.id`) or a path to a schema exported earlier (relative to the mapping
    file). `validate:` defaults to strict when a schema is named, off otherwise.
    """
    if "xdm_schema" in raw:
        problems.append("xdm_schema: renamed to schema (a schema $id, from-dataset, or an exported schema file)")
    ref = _schema_ref(raw.get("schema"), base_dir, schema_id, dataset_id, problems)
    mode = raw.get("validate")
    if mode is False:  # YAML reads a bare `off` as false
        mode = "off"
    if mode is None:
        mode = "strict" if ref is not None else "off"
    elif mode not in MODES:
        problems.append(f"validate: must be one of {', '.join(MODES)}, got {mode!r}")
        mode = "off"
    elif mode != "off" and ref is None and "schema" not in raw:
        problems.append(f"validate: {mode} needs schema: (a schema $id, from-dataset, or an exported schema file)")
    return ref, str(mode)


def _schema_ref(value: Any, base_dir: Path, schema_id: str, dataset_id: str, problems: list[str]) -> SchemaRef | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        problems.append(f"schema: expected a schema $id, from-dataset or a file path, got {value!r}")
        return None
    value = value.strip()
    if value == FROM_DATASET:
        if not dataset_id:
            problems.append("schema: from-dataset needs dataset_id (without a dataset, give the schema's $id)")
            return None
        return SchemaRef("dataset", dataset_id)
    if value.startswith(("http://", "https://")):
        if schema_id and value != schema_id:
            problems.append(
                f"schema: {value} is not the envelope's schema_id {schema_id}: DCS checks records against "
                "the dataset's schema, so validate against that one"
            )
        return SchemaRef("id", value)
    path = (base_dir / value).resolve()
    if not path.is_file():  # still returned: `schema pull` writes it
        problems.append(
            f"schema: file not found: {path} (write it with `aep-connector schema pull`, or give a schema $id "
            "or from-dataset)"
        )
    return SchemaRef("file", str(path))
