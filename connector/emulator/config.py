"""Emulator constants and options (frozen), plus the optional YAML seed file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

DEFAULT_ORG = "0123456789ABCDEF01234567@AdobeOrg"
TENANT_ID = "acme"
DEFAULT_SANDBOX = "prod"
STREAMING_CONNECTION_SPEC = "bc7b00d6-623a-4dfc-9fdb-f1240aeadaeb"
STREAMING_PROVIDER_ID = "521eee4d-8cbe-4906-bb48-fb6bd4450033"
DATA_LAKE_CONNECTION_SPEC = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
FLOW_SPEC_XDM = "d8a6f005-7eaf-4153-983e-e8574508b877"
FLOW_SPEC_MAPPING = "c1a19761-d2c7-4702-b9fa-fe91f0613e81"
DEFAULT_SCOPES = "openid,AdobeID,read_organizations,additional_info.projectedProductContext,session"

FailureShape = Literal["statusCode", "status", "both"]
StoreKind = Literal["memory", "sqlite", "count"]
AsyncFailures = Literal["failed-batch", "reject"]
FailedContent = Literal["message", "errors-only"]
UnknownMergePolicy = Literal["reject", "default"]
FAILURE_SHAPES: tuple[str, ...] = ("statusCode", "status", "both")
STORE_KINDS: tuple[str, ...] = ("memory", "sqlite", "count")
ASYNC_FAILURES: tuple[str, ...] = ("failed-batch", "reject")


@dataclass(frozen=True, slots=True)
class EmulatorOptions:
    """How strict the emulator is where the AEP documentation leaves room.

    Defaults behave like production. `async_validation_failures="reject"` is the old strict mode:
    a schema-invalid message gets a per-message 400 instead of a success entry and a failed
    batch. `sync_validation_supported=False` answers `syncValidation=true` with 501, as an edge
    without synchronous validation does. `batch_window_s` is how long a streaming batch stays
    open per dataset before it closes and its status (and failed records) become final.
    `failed_record_content="errors-only"` writes only `_validationErrors` into failed files (the
    documented example shows no more; whether AEP keeps the message there is unconfirmed).
    `unknown_merge_policy="default"` ignores an unknown Profile `mergePolicyId` instead of 422.
    """

    failure_shape: FailureShape = "statusCode"
    strict_inlets: bool = False
    require_sandbox_header: bool = False
    token_ttl_s: int = 86399
    max_request_bytes: int = 1_000_000
    seed_file: Path | None = None
    fault_seed: int | None = None
    fault_rules: tuple[dict[str, Any], ...] = ()
    tenant_id: str = TENANT_ID
    default_org: str = DEFAULT_ORG
    sync_validation_per_minute: int = 60
    future_skew_s: float = 300.0
    async_validation_failures: AsyncFailures = "failed-batch"
    sync_validation_supported: bool = True
    batch_window_s: float = 1.0
    failed_record_content: FailedContent = "message"
    unknown_merge_policy: UnknownMergePolicy = "reject"
    platform_auth: bool = True
    max_errors_per_message: int = 5
    extra_clients: tuple[tuple[str, str], ...] = field(default=())


def load_seed(path: Path) -> dict[str, Any]:
    """Read the seed YAML: {clients: [...], inlets: [...], schemas: [...], fieldgroups: [...], datasets: [...]}."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"seed file {path} must hold a mapping")
    return data
