"""The local AEP emulator: DCS inlets, IMS, Flow Service, Catalog, Schema Registry and Profile access."""

from connector.emulator.config import DEFAULT_ORG, TENANT_ID, EmulatorOptions
from connector.emulator.server import EmulatorServer

__all__ = ["DEFAULT_ORG", "TENANT_ID", "EmulatorOptions", "EmulatorServer"]
