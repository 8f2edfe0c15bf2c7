"""Fixtures for the aep tests."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator

import pytest
import structlog

from connector.observability.logging import configure_logging


@pytest.fixture
def log_output() -> Iterator[Callable[[], str]]:
    """Route structlog (JSON, debug level) to a buffer; call the fixture value to read what was logged."""
    buffer = io.StringIO()
    configure_logging("json", "debug", buffer)
    yield buffer.getvalue
    structlog.reset_defaults()
