"""structlog setup: JSON lines off a terminal, console on one; secrets redacted by a processor.

Redaction, applied to every event (and to stdlib `logging` records, routed through the same
processors):
  - values of secret-looking keys (secret, password, token, authorization, api key, credential),
    at any depth of dicts and lists;
  - `Bearer <token>`, `client_secret=`/`access_token=`/`password=` form fields and JSON fields in
    any string, and `user:password@` in URLs;
  - any value registered with `register_secret` (the client secret, proxy and registry
    passwords: whatever config holds as a Secret), wherever it appears.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import MutableMapping
from typing import Any

import structlog

_SECRET_KEYS = re.compile(r"(secret|password|passwd|token|authorization|api[_-]?key|credential)", re.IGNORECASE)
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
_FORM_SECRET = re.compile(r"((?:client_secret|access_token|refresh_token|password)=)[^&\s\"']+", re.IGNORECASE)
_JSON_SECRET = re.compile(
    r"((?:\"|')(?:client_secret|access_token|refresh_token|password)(?:\"|')\s*:\s*(?:\"|'))[^\"']+", re.IGNORECASE
)
_URL_PASSWORD = re.compile(r"(://[^/\s:@]+:)[^/\s@]+@")
_COUNT_KEYS = frozenset({"token_refreshes", "tokens", "token_url", "tokens_expired"})
_MIN_SECRET_LEN = 4

_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Mask this exact value wherever it appears in a log event (ignored when empty or very short)."""
    if value and len(value) >= _MIN_SECRET_LEN:
        with _secrets_lock:
            _secrets.add(value)


def redact_text(text: str) -> str:
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, "***")
    text = _BEARER.sub(r"\1***", text)
    text = _FORM_SECRET.sub(r"\1***", text)
    text = _JSON_SECRET.sub(r"\1***", text)
    return _URL_PASSWORD.sub(r"\1***@", text)


def _is_secret_key(key: Any) -> bool:
    return isinstance(key, str) and key not in _COUNT_KEYS and bool(_SECRET_KEYS.search(key))


def _scrub(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if depth > 6:
        return value
    if isinstance(value, dict):
        return {k: "***" if _is_secret_key(k) and v else _scrub(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_scrub(v, depth + 1) for v in value)
    return value


def redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: mask values of secret-looking keys, bearer tokens and registered secrets."""
    for key, value in list(event.items()):
        if _is_secret_key(key) and isinstance(value, str | bytes) and value:
            event[key] = "***"
        else:
            event[key] = _scrub(value)
    return event


class _CurrentStderr:
    """Writes to whatever sys.stderr is at write time (so redirections and test captures are followed)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler configure_logging installs on the root logger (replaced on reconfiguration)."""


def _renderer(fmt: str, out: Any) -> Any:
    console = fmt == "console" or (fmt == "auto" and hasattr(out, "isatty") and out.isatty())
    return structlog.dev.ConsoleRenderer(colors=False) if console else structlog.processors.JSONRenderer()


def configure_logging(fmt: str = "auto", level: str = "info", stream: Any = None) -> None:
    """Render the connector's structlog events and stdlib `logging` records the same way, redacted."""
    out: Any = stream if stream is not None else _CurrentStderr()
    numeric = getattr(logging, level.upper(), logging.INFO)
    renderer = _renderer(fmt, out)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, redact, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    handler = _Handler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                redact,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    # Third-party libraries (urllib3, requests) stay at WARNING even with log_level debug.
    root.setLevel(max(numeric, logging.WARNING))


def register_settings_secrets(settings: Any) -> None:
    """Register every Secret of the connector settings (client secret, proxy and registry passwords)."""
    aep, registry = settings.aep, settings.schema_registry
    for secret in (
        aep.auth.client_secret,
        aep.transport.proxy_password,
        registry.basic_auth_password,
        registry.bearer_token,
    ):
        if secret is not None:
            register_secret(secret.reveal())
    for key, value in {**settings.kafka.consumer, **settings.kafka.producer}.items():
        if _is_secret_key(key) or "password" in key:
            register_secret(str(value))
