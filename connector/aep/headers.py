"""What may travel in an HTTP header or a URL: checked once, at start, never at send time.

`requests` refuses a header value holding a newline (or other control character) before
sending; a sink would take that for a connection failure and retry forever. Every value that
becomes a header (flow id, sandbox, IMS org, API key, extra headers, tokens) is checked here
when the config is loaded, and each problem names the key, never a secret's value.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")  # RFC 9110 field-name
_NAMES = {"\n": "a newline (\\n)", "\r": "a carriage return (\\r)", "\t": "a tab (\\t)", "\x00": "a NUL byte"}


def _char(c: str) -> str:
    return _NAMES.get(c, f"control character U+{ord(c):04X}")


def control_problem(value: str) -> str | None:
    """Why `value` is not one line of text (None when it is)."""
    m = _CONTROL.search(value)
    if m is None:
        return None
    where = "at the end" if m.start() == len(value) - 1 else f"at position {m.start()}"
    hint = ""
    if value.endswith("\n"):
        hint = (
            " (values from environment variables are used as they are: a Kubernetes Secret written with a "
            "trailing newline keeps it; remove it, or use the key's _file twin, which drops one trailing newline)"
        )
    return f"contains {_char(m.group())} {where}{hint}"


def header_value_problem(value: str) -> str | None:
    """Why `value` cannot be sent as an HTTP header value (None when it can)."""
    problem = control_problem(value)
    if problem is not None:
        return problem + "; an HTTP header value must be one line"
    if value != value.strip(" "):
        return "has leading or trailing spaces, which an HTTP header value cannot carry"
    if not value.isascii():
        return "contains non-ASCII characters; AEP header values (ids, names, keys) are ASCII"
    return None


def header_name_problem(name: str) -> str | None:
    """Why `name` is not a valid HTTP header name (None when it is)."""
    if _TOKEN.match(name):
        return None
    return "is not a valid HTTP header name (letters, digits and !#$%&'*+-.^_`|~ only)"


def url_problem(url: str) -> str | None:
    """Why `url` cannot be requested as it is: whitespace or control characters anywhere."""
    problem = control_problem(url)
    if problem is not None:
        return problem + "; a URL must be one line"
    if any(c.isspace() for c in url):
        return "contains whitespace; a URL cannot"
    return None
