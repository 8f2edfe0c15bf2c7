"""Fixtures for the xdm tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog


@pytest.fixture(autouse=True)
def _structlog_defaults() -> Iterator[None]:
    """Every level reaches capture_logs, whatever an earlier test configured (e.g. a warning-level filter)."""
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()
