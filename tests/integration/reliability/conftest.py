"""The emulator every reliability scenario delivers to."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connector.emulator import EmulatorServer


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    server = EmulatorServer(port=0, store="memory").start()
    try:
        yield server
    finally:
        server.stop()
