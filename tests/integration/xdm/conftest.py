"""The emulator with the audit schema provisioned through its Platform API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connector.emulator import EmulatorOptions, EmulatorServer
from tests.integration.xdm.helpers import Audited, provision_audit


@pytest.fixture
def aep() -> Iterator[EmulatorServer]:
    """A production-like emulator (the default): DCS accepts schema-invalid records, fails them in a batch later."""
    server = EmulatorServer(port=0, store="memory", options=EmulatorOptions(batch_window_s=0.2)).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def audited(aep: EmulatorServer) -> Audited:
    return provision_audit(aep)
