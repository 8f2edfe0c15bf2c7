"""Deterministic fault injection for the emulator.

Rule JSON (`POST /emulator/faults`, or `--fault` on the command line):

    {"seed": 7, "paths": ["/collection/"], "rules": [
        {"kind": "status", "status": 503, "rate": 0.2, "retry_after": 1},
        {"kind": "status", "status": 429, "rate": 0.1, "retry_after": "http-date"},
        {"kind": "reset", "rate": 0.05},
        {"kind": "latency", "ms": 3000, "rate": 0.02},
        {"kind": "status", "status": 500, "sequence": [true, false, true]},
        {"kind": "expire_tokens", "rate": 0.01}]}

Each matching request draws one number per rate rule from `random.Random(seed)`, so a seed
gives the same sequence of faults for the same sequence of requests. `"body_contains": "text"`
restricts a rule to requests whose body contains the text (e.g. a whole-batch 400 caused by one
poisoned record). `sequence` fires on the
n-th matching request when `sequence[n]` is true (then never again, unless `"repeat": true`).
Latency delays and the request goes on; the first status/reset/expire_tokens rule that fires
decides the outcome. `paths` are path prefixes (default: DCS and Edge Network paths), per rule or global.
On Edge paths a status fault answers in the Edge's shape; status 207 is a failed upstream (nothing stored).

CLI form: `KIND[:RATE][:key=value...]`, KIND = an HTTP status, `reset`, `latency` or
`expire_tokens`; keys `retry_after=N|http-date|http-date+N|none`, `ms=N`, `seq=1011` (or
`seq=true,false`), `repeat=true`, `paths=/collection/,/ims/`. Example:
`--fault 503:0.2:retry_after=1 --fault reset:0.05 --fault latency:0.02:ms=3000 --fault 500:seq=101`.
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

DEFAULT_PATHS = ("/collection/", "/ee/")  # DCS inlets and the Edge Network
KINDS = ("status", "reset", "latency", "expire_tokens")
RetryAfter = float | str | None


@dataclass(frozen=True, slots=True)
class FaultRule:
    kind: str
    rate: float = 0.0
    status: int = 503
    retry_after: RetryAfter = None
    ms: int = 0
    sequence: tuple[bool, ...] | None = None
    repeat: bool = False
    paths: tuple[str, ...] | None = None
    body_contains: str | None = None  # the rule only applies to requests whose body contains this text

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FaultRule:
        kind = str(data.get("kind", "status"))
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {', '.join(KINDS)}")
        seq = data.get("sequence")
        retry = data.get("retry_after")
        if retry is not None and not isinstance(retry, int | float) and not str(retry).startswith("http-date"):
            raise ValueError(f"retry_after must be a number, 'http-date', 'http-date+N' or null, not {retry!r}")
        rate = float(data.get("rate", 0.0 if seq is not None else 1.0))
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be within [0, 1], not {rate}")
        paths = data.get("paths")
        return cls(
            kind=kind,
            rate=rate,
            status=int(data.get("status", 503)),
            retry_after=retry,
            ms=int(data.get("ms", 0)),
            sequence=tuple(bool(x) for x in seq) if seq is not None else None,
            repeat=bool(data.get("repeat", False)),
            paths=tuple(str(p) for p in paths) if paths else None,
            body_contains=str(data["body_contains"]) if data.get("body_contains") else None,
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        if self.sequence is not None:
            out["sequence"] = list(self.sequence)
            out["repeat"] = self.repeat
        else:
            out["rate"] = self.rate
        if self.kind == "status":
            out["status"] = self.status
            out["retry_after"] = self.retry_after
        if self.kind == "latency":
            out["ms"] = self.ms
        if self.paths:
            out["paths"] = list(self.paths)
        if self.body_contains:
            out["body_contains"] = self.body_contains
        return out

    @property
    def label(self) -> str:
        return f"status_{self.status}" if self.kind == "status" else self.kind


def retry_after_header(value: RetryAfter, now: float | None = None) -> str | None:
    """The `Retry-After` value for a rule: integral seconds, or an HTTP date `http-date+N` seconds ahead."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return str(int(value)) if float(value).is_integer() else str(value)
    delta = float(value.partition("+")[2] or 1)
    return email.utils.formatdate((time.time() if now is None else now) + delta, usegmt=True)


@dataclass(frozen=True, slots=True)
class FaultDecision:
    delay_s: float = 0.0
    rule: FaultRule | None = None


_NO_FAULT = FaultDecision()


class FaultInjector:
    """Holds the active rules and decides, per request, what goes wrong."""

    def __init__(self, seed: int | None = None, rules: Sequence[FaultRule | Mapping[str, Any]] = ()) -> None:
        self._lock = threading.Lock()
        self.set_rules(rules, seed)

    def set_rules(
        self,
        rules: Sequence[FaultRule | Mapping[str, Any]],
        seed: int | None = None,
        paths: Sequence[str] | None = None,
    ) -> None:
        parsed = [r if isinstance(r, FaultRule) else FaultRule.from_json(r) for r in rules]
        with self._lock:
            self.rules = tuple(parsed)
            self.seed = seed
            self.paths = tuple(paths) if paths else DEFAULT_PATHS
            self._rng = random.Random(seed)
            self._counts = [0] * len(parsed)

    def clear(self) -> None:
        self.set_rules(())

    def configure(self, body: Mapping[str, Any]) -> None:
        """Apply a `POST /emulator/faults` body."""
        rules = body.get("rules", [])
        if not isinstance(rules, list):
            raise ValueError("rules must be a list")
        seed = body.get("seed")
        self.set_rules(rules, int(seed) if seed is not None else None, body.get("paths"))

    def describe(self) -> dict[str, Any]:
        return {"seed": self.seed, "paths": list(self.paths), "rules": [r.to_json() for r in self.rules]}

    def decide(self, path: str, body: bytes = b"") -> FaultDecision:
        if not self.rules:
            return _NO_FAULT
        delay = 0.0
        chosen: FaultRule | None = None
        with self._lock:
            for i, rule in enumerate(self.rules):
                if not path.startswith(rule.paths or self.paths):
                    continue
                if rule.body_contains is not None and rule.body_contains.encode() not in body:
                    continue
                if rule.sequence is not None:
                    n = self._counts[i]
                    self._counts[i] += 1
                    seq = rule.sequence
                    fired = bool(seq) and (seq[n % len(seq)] if rule.repeat else n < len(seq) and seq[n])
                else:
                    fired = self._rng.random() < rule.rate
                if not fired:
                    continue
                if rule.kind == "latency":
                    delay += rule.ms / 1000.0
                elif chosen is None:
                    chosen = rule
        return FaultDecision(delay, chosen) if delay or chosen else _NO_FAULT


def parse_cli_rule(spec: str) -> dict[str, Any]:
    """`503:0.2:retry_after=1` -> the rule JSON (see the module docstring)."""
    parts = spec.split(":")
    head, rest = parts[0].strip(), parts[1:]
    rule: dict[str, Any] = {}
    if head.isdigit():
        rule.update(kind="status", status=int(head))
    elif head in KINDS:
        rule["kind"] = head
    else:
        raise ValueError(f"fault {spec!r}: kind must be an HTTP status or one of {', '.join(KINDS[1:])}")
    for part in rest:
        key, eq, value = part.partition("=")
        if not eq:
            rule["rate"] = float(key)
        elif key == "retry_after":
            rule["retry_after"] = None if value == "none" else value if value.startswith("http-date") else float(value)
        elif key == "ms":
            rule["ms"] = int(value)
        elif key == "seq":
            items = value.split(",") if "," in value else list(value)
            rule["sequence"] = [v.strip().lower() in ("1", "true", "t", "y", "yes") for v in items]
        elif key == "repeat":
            rule["repeat"] = value.lower() in ("1", "true", "yes")
        elif key == "paths":
            rule["paths"] = [p for p in value.split(",") if p]
        else:
            raise ValueError(f"fault {spec!r}: unknown key {key!r}")
    FaultRule.from_json(rule)
    return rule
