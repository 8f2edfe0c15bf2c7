"""The function library of the expression language.

Every function takes evaluated arguments and returns a value; a missing input (None, and for
conversions also "") gives None, which the mapper leaves out. Functions raise FunctionError
(turned into MappingError with the target path by the mapper) when a value has the wrong type.
Functions with `literal` positions get those arguments at compile time (`prepare`), so regexes,
zones, formats and lookup tables are checked and built once. `lazy` functions (if, coalesce,
default, and, or) evaluate their arguments only as needed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import operator
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from decimal import (
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
)
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connector.mapping.timestamps import UNITS, BadTimestamp, epoch_text, rfc3339, to_datetime
from connector.mapping.values import clean, to_text
from connector.numbers import parse_number
from connector.quoting import quote

Impl = Callable[..., Any]
Thunk = Callable[[Any], Any]
_UUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/aep-kafka-connector/mapping")
_SEP = "\x1f"


class FunctionError(Exception):
    """A function could not handle its input; `reason` is a MappingError reason code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class CompileEnv:
    """What `prepare` hooks may use: the spec's lookup tables and the clock."""

    lookups: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    clock: Callable[[], float] = field(default=lambda: datetime.now(UTC).timestamp())


@dataclass(frozen=True, slots=True)
class Function:
    name: str
    min_args: int
    max_args: int | None  # None: any number
    impl: Impl | None = None
    literal: tuple[int, ...] = ()
    prepare: Callable[[Sequence[Any], CompileEnv], Impl] | None = None
    lazy: bool = False
    signature: str = ""


REGISTRY: dict[str, Function] = {}


def _register(
    name: str, min_args: int, max_args: int | None, signature: str, *, lazy: bool = False
) -> Callable[[Impl], Impl]:
    def deco(f: Impl) -> Impl:
        REGISTRY[name] = Function(name, min_args, max_args, impl=f, lazy=lazy, signature=signature)
        return f

    return deco


def _prepared(
    name: str, min_args: int, max_args: int | None, literal: tuple[int, ...], signature: str
) -> Callable[[Callable[[Sequence[Any], CompileEnv], Impl]], Callable[[Sequence[Any], CompileEnv], Impl]]:
    def deco(f: Callable[[Sequence[Any], CompileEnv], Impl]) -> Callable[[Sequence[Any], CompileEnv], Impl]:
        REGISTRY[name] = Function(name, min_args, max_args, literal=literal, prepare=f, signature=signature)
        return f

    return deco


def _type_error(name: str, expected: str, x: Any) -> FunctionError:
    return FunctionError("type-error", f"{name}(): expected {expected}, got {type(x).__name__} {_short(x)}")


def _short(x: Any) -> str:
    return quote(x, 60)


def _str(name: str, x: Any) -> str | None:
    if x.__class__ is str:
        s: str = x
        return s
    if isinstance(x, dict | list | tuple):
        raise _type_error(name, "a string", x)
    return to_text(x)


Number = int | float | Decimal
# Decimal arithmetic: add, sub, mul, sum, round and abs are exact (up to 1000 significant digits,
# beyond that an error, never a silent rounding); div rounds to 34 digits (IEEE decimal128).
EXACT = Context(prec=1000, traps=[InvalidOperation, DivisionByZero, Overflow, Inexact])
DIVISION = Context(prec=34, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow])
ROUNDING = Context(prec=1000, traps=[InvalidOperation, Overflow])


def _num(name: str, x: Any) -> Number | None:
    """A number argument: int, float or Decimal as given; text read exactly (`parse_number`)."""
    t = x.__class__
    if t is int or t is float or t is Decimal:
        n: Number = x
        return n
    if x is None or x == "":
        return None
    if isinstance(x, bool):
        raise _type_error(name, "a number", x)
    if isinstance(x, int | float | Decimal):
        return x
    if isinstance(x, str):
        try:
            return parse_number(x)
        except ValueError:
            raise _type_error(name, "a number", x) from None
    raise _type_error(name, "a number", x)


def as_decimal(n: Number) -> Decimal:
    """A float as the decimal its shortest text shows (0.1 -> Decimal('0.1')); ints and Decimals exactly."""
    return Decimal(repr(n)) if n.__class__ is float else Decimal(n)


def _decimals(a: Any, b: Any) -> tuple[Any, Any]:
    """Both as Decimal when either is one (a float by its shortest text), else unchanged."""
    if (
        (a.__class__ is Decimal or b.__class__ is Decimal)
        and isinstance(a, int | float | Decimal)
        and isinstance(b, int | float | Decimal)
        and not isinstance(a, bool)
        and not isinstance(b, bool)
    ):
        return as_decimal(a), as_decimal(b)
    return a, b


def truthy(x: Any) -> bool:
    if isinstance(x, Decimal):
        return not x.is_zero()
    return bool(x)


def is_empty_value(x: Any) -> bool:
    return x is None or x == "" or (isinstance(x, dict | list | tuple) and not x)


# -- strings -----------------------------------------------------------------------------------


@_register("lower", 1, 1, "lower(x)")
def _lower(x: Any) -> Any:
    if x.__class__ is str:
        return x.lower()
    s = _str("lower", x)
    return None if s is None else s.lower()


@_register("upper", 1, 1, "upper(x)")
def _upper(x: Any) -> Any:
    if x.__class__ is str:
        return x.upper()
    s = _str("upper", x)
    return None if s is None else s.upper()


@_register("trim", 1, 1, "trim(x)")
def _trim(x: Any) -> Any:
    if x.__class__ is str:
        return x.strip()
    s = _str("trim", x)
    return None if s is None else s.strip()


@_register("concat", 1, None, "concat(x, ...)")
def _concat(*xs: Any) -> Any:
    parts = [_str("concat", x) for x in xs if x is not None]
    return "".join(p for p in parts if p is not None) if parts else None


@_register("replace", 3, 3, "replace(x, old, new)")
def _replace(x: Any, old: Any, new: Any) -> Any:
    s = _str("replace", x)
    return None if s is None else s.replace(_str("replace", old) or "", _str("replace", new) or "")


@_register("substring", 2, 3, "substring(x, start[, end])")
def _substring(x: Any, start: Any, end: Any = None) -> Any:
    s = _str("substring", x)
    if s is None:
        return None
    if not isinstance(start, int) or isinstance(start, bool) or not (end is None or isinstance(end, int)):
        raise _type_error("substring", "integer positions", (start, end))
    return s[start:end]


@_register("contains", 2, 2, "contains(x, part)")
def _contains(x: Any, part: Any) -> Any:
    if isinstance(x, list | tuple):
        return part in x
    s, p = _str("contains", x), _str("contains", part)
    return s is not None and p is not None and p in s


@_register("starts_with", 2, 2, "starts_with(x, prefix)")
def _starts_with(x: Any, prefix: Any) -> Any:
    s, p = _str("starts_with", x), _str("starts_with", prefix)
    return s is not None and p is not None and s.startswith(p)


@_register("ends_with", 2, 2, "ends_with(x, suffix)")
def _ends_with(x: Any, suffix: Any) -> Any:
    s, p = _str("ends_with", x), _str("ends_with", suffix)
    return s is not None and p is not None and s.endswith(p)


@_register("split", 2, 2, "split(x, separator)")
def _split(x: Any, sep: Any) -> Any:
    s, p = _str("split", x), _str("split", sep)
    if s is None:
        return None
    if not p:
        raise FunctionError("type-error", "split(): the separator must be a non-empty string")
    return s.split(p)


@_register("join", 2, 2, "join(list, separator)")
def _join(xs: Any, sep: Any) -> Any:
    if xs is None:
        return None
    if not isinstance(xs, list | tuple):
        return _str("join", xs)
    parts = [p for x in xs if x is not None and (p := _str("join", x)) is not None]
    return (_str("join", sep) or "").join(parts)


@_register("len", 1, 1, "len(x)")
def _len(x: Any) -> Any:
    if x is None:
        return None
    if isinstance(x, str | list | tuple | dict | bytes):
        return len(x)
    raise _type_error("len", "a string, list or object", x)


# -- logic (lazy ones receive the context and argument closures) -------------------------------


@_register("if", 2, 3, "if(condition, then[, else])", lazy=True)
def _if(c: Any, fns: Sequence[Thunk]) -> Any:
    if truthy(fns[0](c)):
        return fns[1](c)
    return fns[2](c) if len(fns) > 2 else None


@_register("coalesce", 1, None, "coalesce(x, ...)", lazy=True)
def _coalesce(c: Any, fns: Sequence[Thunk]) -> Any:
    for f in fns:
        v = f(c)
        if not is_empty_value(v):
            return v
    return None


@_register("default", 2, 2, "default(x, fallback)", lazy=True)
def _default(c: Any, fns: Sequence[Thunk]) -> Any:
    v = fns[0](c)
    return fns[1](c) if is_empty_value(v) else v


@_register("and", 1, None, "and(x, ...)", lazy=True)
def _and(c: Any, fns: Sequence[Thunk]) -> Any:
    return all(truthy(f(c)) for f in fns)


@_register("or", 1, None, "or(x, ...)", lazy=True)
def _or(c: Any, fns: Sequence[Thunk]) -> Any:
    return any(truthy(f(c)) for f in fns)


@_register("not", 1, 1, "not(x)")
def _not(x: Any) -> Any:
    return not truthy(x)


@_register("is_empty", 1, 1, "is_empty(x)")
def _is_empty(x: Any) -> Any:
    return is_empty_value(x)


@_register("eq", 2, 2, "eq(a, b)")
def _eq(a: Any, b: Any) -> Any:
    a, b = _decimals(a, b)
    return a == b


@_register("ne", 2, 2, "ne(a, b)")
def _ne(a: Any, b: Any) -> Any:
    a, b = _decimals(a, b)
    return a != b


def _compare(name: str, op: Callable[[Any, Any], bool]) -> Impl:
    def impl(a: Any, b: Any) -> Any:
        if a is None or b is None:
            return False
        try:
            return op(*_decimals(a, b))
        except TypeError:
            raise _type_error(name, "comparable values", (a, b)) from None

    REGISTRY[name] = Function(name, 2, 2, impl=impl, signature=f"{name}(a, b)")
    return impl


_compare("gt", lambda a, b: a > b)
_compare("ge", lambda a, b: a >= b)
_compare("lt", lambda a, b: a < b)
_compare("le", lambda a, b: a <= b)


# -- conversions ---------------------------------------------------------------------------------


@_register("to_string", 1, 1, "to_string(x)")
def _to_string(x: Any) -> Any:
    return to_text(x)


@_register("to_int", 1, 1, "to_int(x)")
def _to_int(x: Any) -> Any:
    if x.__class__ is int:
        return x
    if isinstance(x, bool):
        return int(x)
    n = _num("to_int", x)
    if n is None or isinstance(n, int):
        return n
    if not (n.is_finite() if isinstance(n, Decimal) else math.isfinite(n)):
        raise _type_error("to_int", "a finite number", x)
    return int(n)


@_register("to_float", 1, 1, "to_float(x)  (a binary double: the explicit way to give up exact decimals)")
def _to_float(x: Any) -> Any:
    if x.__class__ is float and math.isfinite(x):
        return x
    n = _num("to_float", x)
    if n is None:
        return None
    f = float(n)
    if not math.isfinite(f):
        raise _type_error("to_float", "a finite number", x)
    return f


@_register("to_decimal", 1, 1, "to_decimal(x)  (exact: text digit for digit, a float by its shortest text)")
def _to_decimal(x: Any) -> Any:
    n = _num("to_decimal", x)
    if n is None:
        return None
    d = Decimal(x.strip().replace("_", "")) if isinstance(x, str) and n.__class__ is not int else as_decimal(n)
    if not d.is_finite():
        raise _type_error("to_decimal", "a finite number", x)
    return d


_TRUE = frozenset({"true", "yes", "y", "1", "on", "t"})
_FALSE = frozenset({"false", "no", "n", "0", "off", "f"})


@_register("to_bool", 1, 1, "to_bool(x)")
def _to_bool(x: Any) -> Any:
    if isinstance(x, bool) or x is None:
        return x
    if isinstance(x, int | float | Decimal):
        return x != 0
    if isinstance(x, str):
        low = x.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        if not low:
            return None
    raise _type_error("to_bool", "a boolean, number or true/false text", x)


# -- numbers -----------------------------------------------------------------------------------


def _arith(name: str, op: Callable[[Any, Any], Any], exact: Callable[[Decimal, Decimal], Decimal]) -> None:
    def impl(a: Any, b: Any) -> Any:
        t, u = a.__class__, b.__class__
        if (t is int or t is float) and (u is int or u is float):  # what _num returns as it is
            x, y = a, b
        else:
            x, y = _num(name, a), _num(name, b)
            if x is None or y is None:
                return None
        try:
            if x.__class__ is Decimal or y.__class__ is Decimal:
                return exact(as_decimal(x), as_decimal(y))
            r = op(x, y)
        except (ZeroDivisionError, OverflowError, ArithmeticError):
            raise FunctionError("type-error", f"{name}({x}, {y}): undefined or too long a result") from None
        return r if not isinstance(r, float) or math.isfinite(r) else None

    REGISTRY[name] = Function(name, 2, 2, impl=impl, signature=f"{name}(a, b)")


_arith("add", operator.add, EXACT.add)
_arith("sub", operator.sub, EXACT.subtract)
_arith("mul", operator.mul, EXACT.multiply)
_arith("div", operator.truediv, DIVISION.divide)


@_register("round", 1, 2, "round(x[, digits])  (half away from zero)")
def _round(x: Any, digits: Any = 0) -> Any:
    n = x if x.__class__ is float else _num("round", x)
    if n is None:
        return None
    if not isinstance(digits, int) or isinstance(digits, bool) or not -20 <= digits <= 20:
        raise _type_error("round", "an integer number of digits", digits)
    if n.__class__ is not float:  # a float (the common case) is neither of these
        if isinstance(n, int) and digits >= 0:
            return n
        if isinstance(n, Decimal):
            return _round_decimal(n, digits, x)
    if isinstance(n, float) and math.isfinite(n):
        scaled = abs(n) * 10.0**digits
        if abs(scaled - math.floor(scaled) - 0.5) > 1e-6:  # not near a tie: the binary value rounds the same
            return round(n, digits) if digits > 0 else int(round(n, digits))
    try:
        q = Decimal(str(n)).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise _type_error("round", "a finite number", x) from None
    return int(q) if digits <= 0 else float(q)


def _round_decimal(n: Decimal, digits: int, x: Any) -> Any:
    """A Decimal rounded half away from zero, exactly: a Decimal with `digits` places, or an int."""
    try:
        q = n.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP, context=ROUNDING)
    except ArithmeticError:
        raise _type_error("round", "a finite number of at most 1000 digits", x) from None
    return int(q) if digits <= 0 else q


@_register("abs", 1, 1, "abs(x)")
def _abs(x: Any) -> Any:
    n = _num("abs", x)
    if n is None:
        return None
    return n.copy_abs() if isinstance(n, Decimal) else abs(n)


@_register("sum", 1, 1, "sum(list)")
def _sum(xs: Any) -> Any:
    if xs is None:
        return None
    if not isinstance(xs, list | tuple):
        raise _type_error("sum", "a list", xs)
    numbers = [n for x in xs if (n := _num("sum", x)) is not None]
    if not any(n.__class__ is Decimal for n in numbers):
        return sum(numbers)
    total = Decimal(0)
    try:
        for n in numbers:
            total = EXACT.add(total, as_decimal(n))
    except ArithmeticError:
        raise FunctionError("type-error", "sum(): undefined or too long a result") from None
    return total


# -- hashing and ids -----------------------------------------------------------------------------


def _digest(algo: str, name: str) -> None:
    def impl(x: Any) -> Any:
        s = _str(name, x)
        return None if s is None else hashlib.new(algo, s.encode("utf-8"), usedforsecurity=False).hexdigest()

    REGISTRY[name] = Function(name, 1, 1, impl=impl, signature=f"{name}(x)  (hex)")


_digest("sha256", "sha256")
_digest("md5", "md5")
_digest("sha1", "sha1")


@_register("sha256_email", 1, 1, "sha256_email(x)  (trim + lowercase, then sha256 hex)")
def _sha256_email(x: Any) -> Any:
    s = _str("sha256_email", x)
    if s is None:
        return None
    s = s.strip().lower()
    return hashlib.sha256(s.encode("utf-8")).hexdigest() if s else None


def _joined(name: str, xs: Sequence[Any]) -> str | None:
    """The inputs as text joined by _SEP (None and "" as ""); None when all are None or ""."""
    parts = []
    empty = True
    for x in xs:
        p = x if x.__class__ is str else _str(name, x)
        if p:
            empty = False
            parts.append(p)
        else:
            parts.append("")
    return None if empty else _SEP.join(parts)


@_register("hash_id", 1, None, "hash_id(x, ...)  (sha256 hex of the inputs)")
def _hash_id(*xs: Any) -> Any:
    joined = _joined("hash_id", xs)
    return None if joined is None else hashlib.sha256(joined.encode("utf-8")).hexdigest()


@_register("deterministic_uuid", 1, None, "deterministic_uuid(x, ...)  (UUID v5 of the inputs)")
def _deterministic_uuid(*xs: Any) -> Any:
    joined = _joined("deterministic_uuid", xs)
    return None if joined is None else str(uuid.uuid5(_UUID_NAMESPACE, joined))


REGISTRY["uuid5"] = Function("uuid5", 1, None, impl=_deterministic_uuid, signature="uuid5(x, ...)")


@_register("uuid4", 0, 0, "uuid4()  (random)")
def _uuid4() -> Any:
    return str(uuid.uuid4())


@_register("base64_encode", 1, 1, "base64_encode(x)")
def _b64encode(x: Any) -> Any:
    if isinstance(x, bytes | bytearray):
        return base64.b64encode(bytes(x)).decode("ascii")
    s = _str("base64_encode", x)
    return None if s is None else base64.b64encode(s.encode("utf-8")).decode("ascii")


@_register("base64_decode", 1, 1, "base64_decode(x)  (to UTF-8 text)")
def _b64decode(x: Any) -> Any:
    s = _str("base64_decode", x)
    if s is None:
        return None
    try:
        return base64.b64decode(s, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise _type_error("base64_decode", "base64 of UTF-8 text", x) from None


# -- time ----------------------------------------------------------------------------------------


def _zone(name: Any) -> tzinfo:
    if name is None:
        return UTC
    if not isinstance(name, str):
        raise ValueError(f"time zone must be a string, got {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None


def _format(fmt: Any) -> tuple[str | None, str | None]:
    """(strptime format, epoch unit) from the literal format argument."""
    if fmt is None or fmt == "iso":
        return None, None
    if not isinstance(fmt, str):
        raise ValueError(f"format must be a string, got {fmt!r}")
    if fmt.startswith("epoch_") and fmt[6:] in UNITS:
        return None, fmt[6:]
    if "%" not in fmt:
        raise ValueError(f"format {fmt!r} is neither 'iso', 'epoch_s|ms|us|ns' nor a strptime format")
    return fmt, None


def _timestamp_impl(fmt: str | None, unit: str | None, tz: tzinfo, as_date: bool) -> Impl:
    # An int epoch in a known unit: its text from integer arithmetic, as from_epoch computes the
    # microseconds (the general way below builds a datetime first, ~4x the cost); out of range
    # falls through to the general way and its error.
    per_us = {"s": 1_000_000, "ms": 1_000, "us": 1}.get(unit or "", 0) if not as_date else 0
    nanos = unit == "ns" and not as_date

    def impl(x: Any) -> Any:
        if (per_us or nanos) and x.__class__ is int:
            text = epoch_text(x * per_us if per_us else x // 1000)
            if text is not None:
                return text
        if x is None or x == "":
            return None
        if as_date and isinstance(x, date) and not isinstance(x, datetime):
            return x.isoformat()
        try:
            dt = to_datetime(x, fmt, tz, unit)
            if as_date:
                return (dt.astimezone(tz) if tz is not UTC else dt).date().isoformat()
            return rfc3339(dt)
        except BadTimestamp as exc:
            raise FunctionError("bad-timestamp", str(exc)) from None
        except (OverflowError, ValueError) as exc:
            raise FunctionError("bad-timestamp", f"cannot read {_short(x)} as a timestamp: {exc}") from None

    return impl


@_prepared("to_timestamp", 1, 3, (1, 2), "to_timestamp(x[, format[, zone]])")
def _to_timestamp(lits: Sequence[Any], env: CompileEnv) -> Impl:
    fmt, unit = _format(lits[0] if lits else None)
    return _timestamp_impl(fmt, unit, _zone(lits[1] if len(lits) > 1 else None), as_date=False)


@_prepared("to_date", 1, 3, (1, 2), "to_date(x[, format[, zone]])")
def _to_date(lits: Sequence[Any], env: CompileEnv) -> Impl:
    fmt, unit = _format(lits[0] if lits else None)
    return _timestamp_impl(fmt, unit, _zone(lits[1] if len(lits) > 1 else None), as_date=True)


for _unit in ("s", "ms", "us", "ns"):
    REGISTRY[f"epoch_{_unit}"] = Function(
        f"epoch_{_unit}",
        1,
        1,
        impl=_timestamp_impl(None, _unit, UTC, as_date=False),
        signature=f"epoch_{_unit}(x)",
    )


@_prepared("now", 0, 0, (), "now()")
def _now(lits: Sequence[Any], env: CompileEnv) -> Impl:
    clock = env.clock

    def impl() -> Any:
        return rfc3339(datetime.fromtimestamp(clock(), UTC))

    return impl


# -- regex and lookups -------------------------------------------------------------------------


def _pattern(p: Any) -> re.Pattern[str]:
    if not isinstance(p, str):
        raise ValueError(f"pattern must be a string, got {p!r}")
    try:
        return re.compile(p)
    except re.error as exc:
        raise ValueError(f"invalid regex {p!r}: {exc}") from None


@_prepared("regex_extract", 2, 3, (1, 2), "regex_extract(x, 'pattern'[, group])")
def _regex_extract(lits: Sequence[Any], env: CompileEnv) -> Impl:
    pattern = _pattern(lits[0])
    group: int | str = 1 if pattern.groups else 0
    if len(lits) > 1:
        group = lits[1]
        if isinstance(group, bool) or not isinstance(group, int | str):
            raise ValueError(f"group must be a number or a name, got {group!r}")
        if isinstance(group, int) and not 0 <= group <= pattern.groups:
            raise ValueError(f"pattern {pattern.pattern!r} has no group {group}")
        if isinstance(group, str) and group not in pattern.groupindex:
            raise ValueError(f"pattern {pattern.pattern!r} has no group named {group!r}")
    search = pattern.search

    def impl(x: Any) -> Any:
        s = _str("regex_extract", x)
        if s is None:
            return None
        m = search(s)
        return None if m is None else m.group(group)

    return impl


@_prepared("regex_replace", 3, 3, (1, 2), "regex_replace(x, 'pattern', 'replacement')")
def _regex_replace(lits: Sequence[Any], env: CompileEnv) -> Impl:
    pattern = _pattern(lits[0])
    repl = lits[1]
    if not isinstance(repl, str):
        raise ValueError(f"replacement must be a string, got {repl!r}")
    try:
        pattern.sub(repl, "")  # parses the template: bad group references fail here
    except (re.error, IndexError) as exc:
        raise ValueError(f"invalid replacement {repl!r}: {exc}") from None

    def impl(x: Any) -> Any:
        s = _str("regex_replace", x)
        return None if s is None else pattern.sub(repl, s)

    return impl


@_prepared("lookup", 2, 3, (1,), "lookup(x, 'table'[, default])")
def _lookup(lits: Sequence[Any], env: CompileEnv) -> Impl:
    name = lits[0]
    if not isinstance(name, str) or name not in env.lookups:
        known = ", ".join(sorted(env.lookups)) or "none defined"
        raise ValueError(f"unknown lookup table {name!r} (tables: {known})")
    table = env.lookups[name]

    def impl(x: Any, default: Any = None) -> Any:
        if x is None:
            return default
        key = x if x.__class__ is str else _str("lookup", x)
        return table.get(key, default) if key is not None else default

    return impl


def lookup_table(raw: Mapping[Any, Any]) -> dict[str, Any]:
    """A spec's lookup table with its keys as text (so 1, '1' and true/'true' all match)."""
    return {to_text(k) or "": clean(v) for k, v in raw.items()}


def describe() -> list[str]:
    """One line per function, for `--help` texts and the README."""
    return sorted(f.signature or f.name for f in REGISTRY.values())
