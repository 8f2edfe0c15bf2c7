"""The `platform.adobe.io` surface: gateway header checks, then Flow Service, Catalog, Data Access,
Schema Registry, the legacy inlet API and the Profile access API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connector.emulator.catalog import CATALOG_PREFIX, Catalog
from connector.emulator.config import EmulatorOptions
from connector.emulator.dataaccess import EXPORT_PREFIX, DataAccess
from connector.emulator.flowservice import PREFIX as FLOW_PREFIX
from connector.emulator.flowservice import FlowService
from connector.emulator.http import Request, Response, not_found
from connector.emulator.ims import Ims
from connector.emulator.profile_api import ACCESS_PATH, MERGE_POLICIES_PATH, access_entities, merge_policies
from connector.emulator.registry import Registry
from connector.emulator.schemaregistry import SR_PREFIX, SchemaRegistry


class Platform:
    def __init__(self, registry: Registry, ims: Ims, options: EmulatorOptions, base_url: Callable[[], str]) -> None:
        self.registry = registry
        self.ims = ims
        self.options = options
        self.flows = FlowService(registry, base_url)
        self.schemas = SchemaRegistry(registry, options)
        self.catalog = Catalog(registry, base_url)
        self.data_access = DataAccess(registry.store, base_url)

    def handle(self, req: Request) -> Response:
        denied, caller = self.ims.gateway(req)
        if denied is not None:
            return denied
        path = req.path
        if path.startswith(FLOW_PREFIX):
            return self.flows.handle(req, caller)
        if path.startswith(SR_PREFIX):
            return self.schemas.handle(req, caller)
        if path.startswith(CATALOG_PREFIX):
            return self.catalog.handle(req, caller)
        if path.startswith(EXPORT_PREFIX):
            return self.data_access.handle(req)
        if path.rstrip("/") == ACCESS_PATH:
            return access_entities(req, self.registry.store, self.options, caller["org"])
        if path.startswith(MERGE_POLICIES_PATH):
            return merge_policies(req, self.registry.store, caller["org"])
        if path.rstrip("/") == "/data/core/edge/inlet":
            return self.flows.legacy_inlet(req, caller)
        if path.rstrip("/") == "/data/foundation/mappingSets" and req.method == "POST":
            return self.flows.mapping_set(req, caller)
        return not_found(f"no Platform route for {req.method} {path}")

    def create_streaming_connection(self, name: str, authenticated: bool, org: str, data_type: str) -> dict[str, Any]:
        return self.flows.create_streaming_connection(name, authenticated, org, data_type)
