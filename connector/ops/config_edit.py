"""`provision --write`: set aep.inlet_url and aep.flow_id in the user's YAML config by editing lines.

No round-trip YAML library: only the value on the line changes, so comments, quoting, key order,
`${VAR}` indirections elsewhere and blank lines stay exactly as the user wrote them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from connector.errors import FatalError

_TOP_KEY = re.compile(r"^([A-Za-z_][\w-]*)\s*:(.*)$")
_CHILD = re.compile(r"^(\s+)([A-Za-z_][\w-]*)\s*:")
_INDIRECTION = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}$")
_PLAIN_SAFE = re.compile(r"^[A-Za-z0-9][\w.:/@%+~=?&-]*$")


@dataclass(frozen=True, slots=True)
class ConfigUpdate:
    text: str
    notes: tuple[str, ...] = ()


def update_config_text(
    text: str, inlet_url: str, flow_id: str, environ: Mapping[str, str] | None = None
) -> ConfigUpdate:
    """Set aep.inlet_url and aep.flow_id in a YAML config by editing lines, keeping everything else.

    Only the value on an existing line changes; its quotes and trailing comment stay. A value
    that is `${VAR:-default}` keeps the indirection and gets the new default (unless VAR is set in
    `environ`, where the default would not take effect); `${VAR}` without a default, or a value
    built from several pieces, is refused with what to set instead. An `inlet_id:` line is
    replaced by `inlet_url:` (the config takes one or the other). A missing `aep:` section is
    appended. A flow-style `aep: {...}` is refused (edit it by hand).
    """
    env = {} if environ is None else environ
    lines = text.splitlines(keepends=True)
    start = next((i for i, ln in enumerate(lines) if (m := _TOP_KEY.match(ln)) and m.group(1) == "aep"), None)
    if start is None:
        sep = "" if not text or text.endswith("\n") else "\n"
        return ConfigUpdate(f"{text}{sep}aep:\n  inlet_url: {_scalar(inlet_url)}\n  flow_id: {_scalar(flow_id)}\n")
    head = _TOP_KEY.match(lines[start])
    if head is not None and _split_value(head.group(2))[1]:
        raise FatalError("the config's aep section is written inline (aep: {...}); set inlet_url and flow_id by hand")
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or lines[end][0] in " \t#"):
        end += 1
    block = lines[start + 1 : end]
    child_indent = min((len(m.group(1)) for ln in block if (m := _CHILD.match(ln))), default=2)
    values = {"inlet_url": inlet_url, "flow_id": flow_id}
    done: set[str] = set()
    notes: list[str] = []
    refusals: list[str] = []
    for i, line in enumerate(block):
        m = _CHILD.match(line)
        if m is None or len(m.group(1)) != child_indent:
            continue
        written = m.group(2)
        key = "inlet_url" if written == "inlet_id" else written
        if key not in values or key in done:
            continue
        done.add(key)
        prefix, rest = line[: m.end()], line[m.end() :]
        new = values[key]
        if written != key:  # inlet_id: a literal becomes inlet_url, a ${VAR} indirection keeps the id
            if "${" in _split_value(rest.rstrip("\r\n"))[1]:
                new = inlet_url.rsplit("/", 1)[-1]
            else:
                prefix = f"{m.group(1)}inlet_url:"
        try:
            block[i], note = _edit_line(prefix, rest, f"aep.{written}", new, env)
        except _Refused as exc:
            refusals.append(str(exc))
            continue
        if note is not None:
            notes.append(note)
    if refusals:
        listed = "".join(f"\n  - {r}" for r in refusals)
        raise FatalError(f"provision --write left the config file unchanged:{listed}")
    indent = " " * child_indent
    additions = [f"{indent}{k}: {_scalar(v)}\n" for k, v in values.items() if k not in done]
    return ConfigUpdate("".join([*lines[: start + 1], *additions, *block, *lines[end:]]), tuple(notes))


class _Refused(Exception):
    """A value `--write` must not replace; the message says what to set instead."""


def _edit_line(prefix: str, rest: str, where: str, new: str, env: Mapping[str, str]) -> tuple[str, str | None]:
    """`prefix` (`  key:`) and `rest` with its value replaced by `new` (quotes, comment, line end kept)."""
    body = rest.rstrip("\r\n")
    ending = rest[len(body) :]
    lead, value, tail = _split_value(body)
    quote = value[0] if value[:1] in ("'", '"') and value[-1:] == value[:1] and len(value) > 1 else ""
    inner = value[1:-1] if quote else value
    note = None
    if "${" in inner:
        m = _INDIRECTION.match(inner)
        if m is None:
            raise _Refused(f"{where} is built from variables ({inner}): set it to {new} by hand")
        name, default = m.group(1), m.group(2)
        if name in env:
            raise _Refused(f"{where} is {inner} and {name} is set in this environment: set {name}={new}")
        if default is None:
            raise _Refused(f"{where} is {inner}: set {name}={new}")
        inner = f"${{{name}:-{new}}}"
        note = f"{where}: wrote the default of ${{{name}:-...}}; {name}, where it is set, still overrides it"
        written = f"{quote}{inner}{quote}"
    elif quote == "'":
        written = "'" + new.replace("'", "''") + "'"
    elif quote == '"':
        written = json.dumps(new)
    else:
        written = _scalar(new)
    return f"{prefix}{lead or ' '}{written}{tail}{ending}", note


def _split_value(rest: str) -> tuple[str, str, str]:
    """What follows `key:` on a line, split into (spaces, the value as written, spaces and comment)."""
    i = len(rest) - len(rest.lstrip(" \t"))
    if rest[i : i + 1] in ("'", '"'):
        quote, j = rest[i], i + 1
        while j < len(rest):
            if rest[j] == "\\" and quote == '"':
                j += 2
                continue
            if rest[j] == quote:
                if quote == "'" and rest[j + 1 : j + 2] == "'":
                    j += 2
                    continue
                break
            j += 1
        end = min(j + 1, len(rest))
    elif rest[i : i + 1] == "#":  # no value, only a comment
        end = i
    else:
        comment = re.search(r"[ \t]#", rest[i:])
        end = i + comment.start() if comment else len(rest)
    value = rest[i:end].rstrip(" \t")
    return rest[:i], value, rest[i + len(value) :]


def _scalar(value: str) -> str:
    """A YAML scalar for a URL or id: plain when that reads back unchanged, else double-quoted."""
    return value if _PLAIN_SAFE.match(value) else json.dumps(value)
