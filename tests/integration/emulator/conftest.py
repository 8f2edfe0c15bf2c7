"""Fixtures: a fresh emulator per test, and one provisioned through the seed tutorial."""

from __future__ import annotations

import pytest
import requests

from connector.emulator import EmulatorServer
from tests.integration.emulator.tutorial import Provisioned, platform_session, provision


@pytest.fixture
def platform(emulator: EmulatorServer) -> requests.Session:
    return platform_session(emulator)


@pytest.fixture
def provisioned(emulator: EmulatorServer, platform: requests.Session) -> Provisioned:
    return provision(emulator, platform)
