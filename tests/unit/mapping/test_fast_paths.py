"""The mapper's fast paths give byte for byte what the general way gives, errors included.

Each fast path (canonical UTC text checked inline, int epochs formatted by integer arithmetic,
datetimes formatted field by field) is compared with the general code it short-cuts, over many
generated inputs, including the awkward ones (near-canonical shapes, out-of-range years, the
tolerance edge, fractions of .000).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from connector.errors import MappingError
from connector.mapping.functions import REGISTRY, FunctionError
from connector.mapping.mapper import timestamp_check
from connector.mapping.timestamps import (
    EPOCH,
    BadTimestamp,
    FutureTimestamp,
    epoch_text,
    future_guard,
    normalise,
    rfc3339,
    to_datetime,
)
from connector.mapping.values import clean
from tests.unit.mapping.helpers import BASE, compile_one, record

NOW = 1_750_000_000.0
PROFILE = BASE.replace("experienceevent", "profile")
DATETIMES = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30))
ZONES = st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-9, minutes=-30))])


def _isoformat_way(dt: datetime) -> str:
    """rfc3339 as it was written before the field-by-field fast path."""
    dt = dt.astimezone(UTC)
    us, naive = dt.microsecond, dt.replace(tzinfo=None)
    if us == 0:
        return naive.isoformat() + "Z"
    if us % 1000 == 0:
        return naive.isoformat(timespec="milliseconds") + "Z"
    return naive.isoformat() + "Z"


@settings(max_examples=500, deadline=None)
@given(dt=DATETIMES, tz=ZONES, whole=st.sampled_from([None, 0, 1000]))
def test_rfc3339_formats_like_isoformat(dt: datetime, tz: Any, whole: int | None) -> None:
    if whole is not None:
        dt = dt.replace(microsecond=dt.microsecond // whole * whole if whole else 0)
    aware = dt.replace(tzinfo=tz)
    assert rfc3339(aware) == _isoformat_way(aware)


@settings(max_examples=500, deadline=None)
@given(
    us=st.integers(-62_135_596_800 * 10**6 - 10**12, 253_402_300_800 * 10**6 + 10**12)
    | st.integers(-(10**30), 10**30)
    | st.integers(0, 2 * 10**12).map(lambda ms: ms * 1000)
    | st.integers(0, 2 * 10**9).map(lambda s: s * 10**6)
)
def test_epoch_text_is_rfc3339_of_the_epoch_plus_microseconds(us: int) -> None:
    try:
        expected: str | None = _isoformat_way(EPOCH + timedelta(microseconds=us))
    except OverflowError:
        expected = None
    assert epoch_text(us) == expected


def _outcome(fn: Any, *args: Any) -> tuple[str, ...]:
    try:
        return ("ok", fn(*args))
    except MappingError as exc:
        return ("error", exc.reason, exc.message, type(exc.__cause__).__name__)
    except Exception as exc:
        return ("raised", type(exc).__name__, str(exc))


@settings(max_examples=400, deadline=None)
@given(n=st.integers(-(10**25), 10**25) | st.integers(0, 3 * 10**12), unit=st.sampled_from(["s", "ms", "us", "ns"]))
def test_int_epochs_give_what_the_datetime_way_gives(n: int, unit: str) -> None:
    """epoch_<unit>(int) through the integer fast path == rfc3339(to_datetime(...)), errors included."""
    impl = REGISTRY[f"epoch_{unit}"].impl
    assert impl is not None
    try:
        want: tuple[str, str] = ("ok", rfc3339(to_datetime(n, None, UTC, unit)))
    except BadTimestamp as exc:
        want = ("error", str(exc))
    try:
        got: tuple[str, str] = ("ok", impl(n))
    except FunctionError as exc:
        got = ("error", exc.message)
    assert got == want


def _canonical(dt: datetime, fraction: str) -> str:
    base = dt.strftime("%Y-%m-%dT%H:%M:%S") if dt.year >= 1000 else f"{dt.year:04d}" + dt.strftime("-%m-%dT%H:%M:%S")
    return base + fraction + "Z"


def _near_canonical() -> st.SearchStrategy[str]:
    """Text shaped like RFC 3339 UTC (and some that only look like it)."""
    fractions = st.sampled_from(["", ".000", ".048", ".000000", ".048000", ".123456", ".1", ".12345", ".1234567"])
    canonical = st.builds(_canonical, DATETIMES, fractions)
    around_now = st.builds(
        lambda s, f: _canonical(datetime.fromtimestamp(NOW + s, UTC).replace(tzinfo=None), f),
        st.integers(-5, 125),
        fractions,
    )

    def damage(s: str, i: int, c: str) -> str:
        i %= len(s)
        return s[:i] + c + s[i + 1 :]

    damaged = st.builds(damage, canonical, st.integers(0, 30), st.sampled_from(list("0913 :-TZz.x+\u0660")))
    odd = st.sampled_from(
        ["2024-13-01T00:00:00Z", "2024-02-30T00:00:00Z", "2024-06-01T24:00:00Z", "2024-06-01T18:12:60Z",
         "0000-01-01T00:00:00Z", "2024-06-01T18:12:12.Z", "2024-06-01 18:12:12Z", "20240601T181212Z",
         "2024-06-01T18:12:12+00:00", "2024-06-01T18:12:12.048+02:00", "", " ", "1717265532048"]
    )  # fmt: skip
    return canonical | around_now | damaged | odd | st.text(max_size=30)


@settings(max_examples=1500, deadline=None)
@given(text=_near_canonical(), policy=st.sampled_from(["reject", "clamp"]), tolerance=st.sampled_from([0.0, 60.0]))
def test_event_timestamp_fast_path_equals_normalise_and_guard(text: str, policy: str, tolerance: float) -> None:
    """timestamp_check == the general way (normalise, then the future guard) for any text: value or error."""

    def general(v: Any, expr: str) -> str:
        guard = future_guard(policy, tolerance, lambda: NOW)
        if v is None or v == "":
            raise MappingError("missing", reason="missing-timestamp")
        try:
            return guard(*normalise(v))
        except BadTimestamp as exc:
            reason = "future-timestamp" if isinstance(exc, FutureTimestamp) else "bad-timestamp"
            raise MappingError(f"timestamp: {exc} (expression: {expr})", reason=reason) from exc

    fast = timestamp_check(policy, tolerance, lambda: NOW)
    got, want = _outcome(fast, text, "value.ts"), _outcome(general, text, "value.ts")
    if want[0] == "error" and want[1] == "missing-timestamp":
        assert got[:2] == want[:2]
    else:
        assert got == want


# -- functions written inline in the generated code (compiler._INLINE) -----------------------------

INLINED = ["lower", "upper", "trim", "to_string", "to_int", "to_float"]
# outermost first; () is the plain path `value.x`: the value as it is, cleaned by the inlined `clean`
CHAINS = [(), *((name,) for name in INLINED), ("lower", "trim"), ("to_int", "to_float")]
_MAPPINGS: dict[str, Any] = {}
ANY = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats()
    | st.decimals()
    | st.text(max_size=12)
    | st.sampled_from(["", " a B ", "İ", "ß", "12", " 7 ", "1e400", "nan", "-0.0"])
    | st.datetimes(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=6,
)


def _expression(chain: tuple[str, ...]) -> str:
    return "".join(f"{name}(" for name in chain) + "value.x" + ")" * len(chain)


def _mapped(chain: tuple[str, ...], x: Any) -> tuple[Any, ...]:
    expr = _expression(chain)
    mapping = _MAPPINGS.get(expr)
    if mapping is None:
        mapping = _MAPPINGS[expr] = compile_one(PROFILE + f"fields:\n  out: {expr}\n")
    try:
        return ("ok", mapping.map(record(), {"email": "a@b.c", "x": x})["body"]["xdmEntity"].get("out"))
    except MappingError as exc:
        return ("error", exc.reason, exc.message)


def _called(chain: tuple[str, ...], x: Any) -> tuple[Any, ...]:
    """The library functions called one by one (what the generated code did before inlining)."""
    expr = _expression(chain)
    try:
        for name in reversed(chain):
            impl = REGISTRY[name].impl
            assert impl is not None
            x = impl(x)
    except FunctionError as exc:
        return ("error", exc.reason, f"out: {exc.message} (expression: {expr})")
    except Exception as exc:  # as mapper._fail words it
        return ("error", "mapping-failed", f"out: {type(exc).__name__}: {exc} (expression: {expr})")
    return ("ok", clean(x))


@settings(max_examples=600, deadline=None)
@given(chain=st.sampled_from(CHAINS), x=ANY)
@example(chain=(), x=float("nan"))
@example(chain=(), x=float("-inf"))
@example(chain=(), x=-0.0)
@example(chain=("to_float",), x=float("inf"))
@example(chain=("to_float",), x=float("nan"))
@example(chain=("to_float",), x=-0.0)
@example(chain=("to_int",), x=True)
@example(chain=("to_int",), x=2.5)
@example(chain=("to_string",), x=12)
@example(chain=("to_string",), x=False)
@example(chain=("to_string",), x=1.0)
@example(chain=("lower", "trim"), x=" A ")
@example(chain=("upper",), x=7)
def test_inlined_functions_give_what_the_library_functions_give(chain: tuple[str, ...], x: Any) -> None:
    assert _mapped(chain, x) == _called(chain, x)
