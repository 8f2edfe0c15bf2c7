"""Fault decisions are deterministic for a seed; CLI rules parse to the JSON form."""

from __future__ import annotations

from email.utils import parsedate_to_datetime

import pytest

from connector.emulator.faults import FaultInjector, parse_cli_rule, retry_after_header

RULES = [
    {"kind": "status", "status": 503, "rate": 0.2, "retry_after": 1},
    {"kind": "reset", "rate": 0.1},
    {"kind": "latency", "ms": 100, "rate": 0.3},
]


def _labels(injector: FaultInjector, n: int, path: str = "/collection/x") -> list[tuple[str | None, float]]:
    out = []
    for _ in range(n):
        d = injector.decide(path)
        out.append((d.rule.label if d.rule else None, d.delay_s))
    return out


def test_same_seed_same_sequence() -> None:
    """Two injectors with one seed decide identically; another seed differs."""
    a, b, c = FaultInjector(7, RULES), FaultInjector(7, RULES), FaultInjector(8, RULES)
    first = _labels(a, 200)
    assert first == _labels(b, 200)
    assert first != _labels(c, 200)
    assert {"status_503", "reset", None} == {label for label, _ in first}


def test_sequence_is_exact_and_does_not_repeat() -> None:
    """A sequence fires on its pattern, then never again unless repeat is set."""
    injector = FaultInjector(rules=[{"kind": "status", "status": 500, "sequence": [True, False, True]}])
    assert [label for label, _ in _labels(injector, 5)] == ["status_500", None, "status_500", None, None]
    injector.set_rules([{"kind": "status", "status": 500, "sequence": [False, True], "repeat": True}])
    assert [label for label, _ in _labels(injector, 4)] == [None, "status_500", None, "status_500"]


def test_paths_filter() -> None:
    """Only requests under the rule's (or the default DCS) paths are affected."""
    injector = FaultInjector(rules=[{"kind": "reset"}])
    assert _labels(injector, 1, "/emulator/stats") == [(None, 0.0)]
    assert _labels(injector, 1, "/collection/batch/x") == [("reset", 0.0)]
    injector.set_rules([{"kind": "reset", "paths": ["/ims/"]}])
    assert _labels(injector, 1, "/collection/x") == [(None, 0.0)]


@pytest.mark.parametrize(
    ("spec", "rule"),
    [
        ("503:0.2:retry_after=1", {"kind": "status", "status": 503, "rate": 0.2, "retry_after": 1.0}),
        ("429:0.1:retry_after=http-date", {"kind": "status", "status": 429, "rate": 0.1, "retry_after": "http-date"}),
        ("reset:0.05", {"kind": "reset", "rate": 0.05}),
        ("latency:0.02:ms=3000", {"kind": "latency", "rate": 0.02, "ms": 3000}),
        ("500:seq=101", {"kind": "status", "status": 500, "sequence": [True, False, True]}),
        ("expire_tokens:seq=true,false", {"kind": "expire_tokens", "sequence": [True, False]}),
    ],
)
def test_cli_rules(spec: str, rule: dict[str, object]) -> None:
    """`--fault` specs parse to the rule JSON."""
    assert parse_cli_rule(spec) == rule


def test_cli_rule_errors() -> None:
    """Unknown kinds and keys are refused."""
    with pytest.raises(ValueError, match="kind"):
        parse_cli_rule("boom:0.1")
    with pytest.raises(ValueError, match="unknown key"):
        parse_cli_rule("503:foo=1")


def test_retry_after_values() -> None:
    """Numbers become integral seconds; http-date+N an HTTP date N seconds ahead; None no header."""
    assert retry_after_header(1.0) == "1"
    assert retry_after_header(None) is None
    assert parsedate_to_datetime(retry_after_header("http-date+5", now=0) or "").timestamp() == 5
