"""Fixtures of the deployment tests: the helm binary (built once into the test cache)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.deploy.tools import ensure_helm


@pytest.fixture(scope="session")
def helm_bin() -> Path:
    """helm v3.22.0 from the test cache; building it failing fails the tests (never a skip)."""
    return ensure_helm()
