"""Log redaction: secret keys at any depth, bearer tokens, URL passwords, registered secrets; JSON off a TTY."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from connector.observability.logging import configure_logging, redact_text, register_secret


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)


def _capture(fmt: str = "auto") -> io.StringIO:
    out = io.StringIO()
    configure_logging(fmt, "debug", stream=out)
    return out


def test_json_lines_off_a_terminal() -> None:
    """auto format on a non-TTY stream writes one JSON object per event."""
    out = _capture()
    structlog.get_logger("t").info("batch_sent", records=3)
    doc = json.loads(out.getvalue().splitlines()[-1])
    assert doc["event"] == "batch_sent" and doc["records"] == 3 and doc["level"] == "info"


def test_secret_keys_are_masked_at_any_depth() -> None:
    """Values under secret-looking keys are masked in nested dicts and lists; counters are kept."""
    out = _capture()
    structlog.get_logger("t").debug(
        "request",
        client_secret="hunter22",
        headers={"Authorization": "Bearer abc.def", "x-api-key": "key-1", "Accept": "json"},
        items=[{"password": "pw-1"}],
        token_refreshes=4,
    )
    line = out.getvalue()
    for leaked in ("hunter22", "abc.def", "key-1", "pw-1"):
        assert leaked not in line
    doc = json.loads(line.splitlines()[-1])
    assert doc["headers"]["Accept"] == "json" and doc["token_refreshes"] == 4


def test_registered_secrets_and_patterns_are_masked_in_text() -> None:
    """A registered secret, bearer tokens, form/JSON secrets and URL passwords vanish from any string."""
    register_secret("s3cr3t-value-xyz")
    text = redact_text(
        'failed: s3cr3t-value-xyz Bearer eyJhbGciOi.x.y client_secret=abc&x=1 {"access_token": "tok"} '
        "http://user:pa55@proxy:3128/"
    )
    for leaked in ("s3cr3t-value-xyz", "eyJhbGciOi", "abc&", '"tok"', "pa55"):
        assert leaked not in text
    assert "http://user:***@proxy:3128/" in text


def test_stdlib_logging_goes_through_the_same_redaction() -> None:
    """Records of stdlib loggers (e.g. urllib3 warnings) are rendered and redacted too."""
    out = _capture("json")
    register_secret("stdlib-secret-1")
    logging.getLogger("urllib3.test").warning("retrying with stdlib-secret-1 Bearer tok123")
    line = out.getvalue().splitlines()[-1]
    assert "stdlib-secret-1" not in line and "tok123" not in line
    assert json.loads(line)["logger"] == "urllib3.test"
