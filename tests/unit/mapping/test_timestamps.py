"""Timestamps: nothing guessed (numeric text, implausible epochs), exact epochs, and a clock-skew tolerance."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from connector.errors import MappingError
from connector.mapping.functions import REGISTRY, CompileEnv, FunctionError
from connector.mapping.timestamps import BadTimestamp, rfc3339, to_datetime
from tests.unit.mapping.helpers import BASE, NOW, compile_one, inline, record

EVENT = BASE + "fields:\n  timestamp: value.ts\n"


def _ts(value: Any, spec: str = EVENT) -> str:
    out: str = compile_one(spec).map(record(), {"email": "a@b.c", "ts": value})["body"]["xdmEntity"]["timestamp"]
    return out


def _error(value: Any, spec: str = EVENT) -> MappingError:
    with pytest.raises(MappingError) as info:
        compile_one(spec).map(record(), {"email": "a@b.c", "ts": value})
    return info.value


def _call(name: str, x: Any, *lits: Any) -> Any:
    """Function `name` applied to `x`, with its literal arguments `lits`."""
    fn = REGISTRY[name]
    impl = fn.prepare(lits, CompileEnv()) if fn.prepare is not None else fn.impl
    assert impl is not None
    return impl(x)


# -- defect 10: no guessed dates ----------------------------------------------------------------


def test_numeric_string_is_never_read_as_an_epoch() -> None:
    """'20240315' is a mapping error (bad-timestamp) that says what to write, not 1970-08-23."""
    err = _error("20240315")
    assert err.reason == "bad-timestamp" and err.target == "timestamp"
    assert "'20240315' is a number written as text" in err.message
    assert "epoch_s(x)" in err.message and "to_timestamp(x, '%Y%m%d')" in err.message
    for text in ("1583217295123", "1583217295", "1583217295.5", "-5", " 20240315 "):
        assert _error(text).reason == "bad-timestamp", text
    with pytest.raises(FunctionError, match="number written as text"):
        _call("to_timestamp", "20240315")


def test_the_mapping_says_how_to_read_numeric_text() -> None:
    """A format or an epoch unit in the mapping reads the same text as intended, exactly."""
    assert _call("to_timestamp", "20240315", "%Y%m%d") == "2024-03-15T00:00:00Z"
    assert _call("to_date", "20240315", "%Y%m%d") == "2024-03-15"
    assert _call("epoch_s", "20240315") == "1970-08-23T06:18:35Z"  # said explicitly: allowed
    assert _call("epoch_ms", "1583217295123") == "2020-03-03T06:34:55.123Z"
    assert _call("to_timestamp", "1583217295123456789", "epoch_ns") == "2020-03-03T06:34:55.123456Z"
    assert _call("epoch_s", "1583217295.123457") == "2020-03-03T06:34:55.123457Z"  # exact, not via a double
    assert _ts("2024-03-15T12:00:00+01:00") == "2024-03-15T11:00:00Z"


@pytest.mark.parametrize(
    "number",
    [20240315, 1, 0, -1583217295, 15832172951, 2.5e13, 20240315123000, Decimal("20240315")],
)
def test_a_number_is_read_as_an_epoch_only_when_its_unit_is_unambiguous(number: Any) -> None:
    """A unitless number reads as epoch s/ms/us/ns only inside 1973..2286 in exactly one unit; else a clear error."""
    err = _error(number)
    assert err.reason == "bad-timestamp"
    assert f"cannot tell the epoch unit of {number} by its size" in err.message
    assert "epoch_ms(x)" in err.message


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        (1583217295, "2020-03-03T06:34:55Z"),
        (1583217295123, "2020-03-03T06:34:55.123Z"),
        (1583217295123456, "2020-03-03T06:34:55.123456Z"),
        (1583217295123456789, "2020-03-03T06:34:55.123456Z"),
        (Decimal("1583217295.123456"), "2020-03-03T06:34:55.123456Z"),
        (100_000_000, "1973-03-03T09:46:40Z"),
    ],
)
def test_plausible_epoch_numbers_keep_working(number: Any, expected: str) -> None:
    """Epoch numbers in 1973..2286 keep their unit detection (s, ms, us, ns), Decimal ones exactly."""
    assert _ts(number) == expected


def test_epoch_unit_given_for_any_number() -> None:
    """With the unit said, small and negative epochs are fine (birth dates before 1970)."""
    assert _call("epoch_ms", -157766400000) == "1965-01-01T00:00:00Z"
    assert _call("to_date", 0, "epoch_s") == "1970-01-01"
    with pytest.raises(BadTimestamp):
        to_datetime(20240315)


# -- defect 4: future timestamps and clock skew --------------------------------------------------


def _at(seconds_ahead: float) -> str:
    return rfc3339(datetime.fromtimestamp(NOW + seconds_ahead, UTC))


def test_a_timestamp_slightly_ahead_of_the_clock_is_accepted() -> None:
    """future_timestamps: reject keeps an event 1 ms (or up to the 60 s default tolerance) ahead, as it is."""
    for ahead in (0.001, 1.5, 59.999, 60.0):
        assert _ts(_at(ahead)) == _at(ahead)


def test_beyond_the_tolerance_reject_and_clamp_still_apply() -> None:
    """Past future_tolerance_s: reject dead-letters with the offset and tolerance; clamp writes now."""
    err = _error(_at(61))
    assert err.reason == "future-timestamp"
    assert "61.000 s ahead of the connector's clock, more than future_tolerance_s (60 s)" in err.message
    clamp = EVENT + "future_timestamps: clamp\n"
    assert _ts(_at(61), clamp) == "2025-06-15T15:06:40Z"
    assert _ts(_at(30), clamp) == _at(30)


def test_future_tolerance_is_configurable_per_mapping() -> None:
    """future_tolerance_s: 0 restores zero tolerance; 300 matches the emulator's future_skew_s; bad values listed."""
    assert _error(_at(0.001), EVENT + "future_tolerance_s: 0\n").reason == "future-timestamp"
    assert _ts(_at(299), EVENT + "future_tolerance_s: 300\n") == _at(299)
    for bad in ("-1", "7200", "soon", "true"):
        _, problems = inline(EVENT + f"future_tolerance_s: {bad}\n")
        assert any(p.startswith("mapping inline (<test>): future_tolerance_s: expected a number") for p in problems)


def test_future_guard_alone() -> None:
    """The guard keeps behaviour outside the compiled mapper: text kept, FutureTimestamp, or now."""
    from connector.mapping.timestamps import FutureTimestamp, future_guard

    guard = future_guard("reject", 5.0, lambda: 100.0)
    assert guard("t", 105.0) == "t"
    with pytest.raises(FutureTimestamp):
        guard("t", 105.001)
    assert future_guard("clamp", 5.0, lambda: 0.0)("t", 6.0) == "1970-01-01T00:00:00Z"
