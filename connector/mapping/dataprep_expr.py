"""Data Prep expressions (AEP's mapping-set language, JEXL-based) -> this project's expression AST.

    expr     := or ('?' expr ':' expr)?
    or       := and (('||' | 'or') and)*
    and      := eq (('&&' | 'and') eq)*
    eq       := rel (('==' | '!=' | 'eq' | 'ne') rel)*
    rel      := sum (('<' | '<=' | '>' | '>=' | 'lt' | 'le' | 'gt' | 'ge') sum)*
    sum      := product (('+' | '-') product)*
    product  := unary (('*' | '/' | 'div') unary)*
    unary    := ('!' | 'not') unary | postfix
    postfix  := primary ('.' ('equals' | 'equalsIgnoreCase') '(' expr ')')*
    primary  := STRING | NUMBER | true | false | null | '(' expr ')' | NAME '(' args ')' | path
    path     := field ('.' field | '[' INT ']' | '[' STRING ']' | '[*]')*
    field    := NAME | '${' any text '}'        (`\\.` is a literal dot in a name)

Operators become this project's functions (`a == b` -> eq(a, b), `a && b` -> and(a, b), `!a` ->
not(a), ...); Data Prep functions are renamed where the meaning is the same, or rewritten
(`date(x, 'yyyy-MM-dd')` -> to_timestamp(x, '%Y-%m-%d'), `decode(k, 'a', 1, 2)` -> nested if).
Source fields become `value...` paths. Anything without a counterpart raises Unsupported naming it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from connector.mapping.expressions import Call, Literal, Node, Path
from connector.mapping.functions import REGISTRY


class Unsupported(ValueError):
    """A Data Prep construct with no counterpart here; the message names it."""


class Wildcard:
    """The `[*]` segment of a Data Prep path (iterate over the array)."""

    def __repr__(self) -> str:
        return "[*]"


STAR = Wildcard()
Segment = str | int | Wildcard
Binder = Callable[[tuple[Segment, ...]], Node]

# Data Prep function -> this project's function, where arguments and meaning are the same.
RENAMED = {
    "lower": "lower",
    "lcase": "lower",
    "upper": "upper",
    "ucase": "upper",
    "trim": "trim",
    "concat": "concat",
    "coalesce": "coalesce",
    "iif": "if",
    "now": "now",
    "uuid": "uuid4",
    "guid": "uuid4",
    "split": "split",
    "replacestr": "replace",
    "length": "len",
    "size_of": "len",
    "is_empty": "is_empty",
    "abs": "abs",
    "to_integer": "to_int",
    "to_bigint": "to_int",
    "to_float": "to_float",
    "to_decimal": "to_float",
    "to_bool": "to_bool",
    "to_string": "to_string",
}
_HASHES = {"sha256": "sha256", "sha1": "sha1", "md5": "md5"}
_COMPARE = {"==": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}
_WORD_OPS = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">=", "and": "&&", "or": "||"}
_WORD_OPS |= {"not": "!", "div": "/", "mod": "%"}
_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)"
    r"|(?P<str>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")"
    r"|(?P<field>\$\{(?:[^}\\]|\\.)*\})"
    r"|(?P<name>(?:[^\W\d]|\$)(?:[\w$]|\\\.)*)"
    r"|(?P<op>==|!=|<=|>=|&&|\|\||[<>!()\[\],.*+\-/%?:]))"
)
_STRING_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # num | str | field | name | op | end
    text: str
    pos: int


def _tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            if not text[pos:].strip():
                break
            raise Unsupported(f"cannot read {text[pos:].strip()[:20]!r} at position {pos} of {text!r}")
        kind = m.lastgroup or "op"
        out.append(_Tok(kind, m.group(kind), m.start(kind)))
        pos = m.end()
    out.append(_Tok("end", "", len(text)))
    return [_Tok("op", _WORD_OPS[t.text], t.pos) if t.kind == "name" and t.text in _WORD_OPS else t for t in out]


def _unquote(token: str) -> str:
    body = token[1:-1]
    return re.sub(r"\\(.)", lambda m: _STRING_ESCAPES.get(m.group(1), m.group(1)), body)


def _field_name(tok: _Tok) -> str:
    raw = tok.text[2:-1] if tok.kind == "field" else tok.text
    return re.sub(r"\\(.)", r"\1", raw)


def value_binder(segs: tuple[Segment, ...]) -> Node:
    """A source field as a `value...` path; `[*]` needs an each: block, which only the set converter builds."""
    if any(s is STAR for s in segs):
        raise Unsupported(f"{_show(segs)}: iterating an array with [*] needs an each: block")
    return Path("value", tuple(s for s in segs if not isinstance(s, Wildcard)))


def _show(segs: Sequence[Segment]) -> str:
    out = ""
    for s in segs:
        out += f"[{s}]" if not isinstance(s, str) else (f".{s}" if out else s)
    return out


class _Parser:
    def __init__(self, text: str, bind: Binder) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0
        self.bind = bind

    @property
    def tok(self) -> _Tok:
        return self.peek(0)

    def peek(self, ahead: int) -> _Tok:
        return self.toks[min(self.i + ahead, len(self.toks) - 1)]

    def take(self, *ops: str) -> str | None:
        t = self.tok
        if t.kind == "op" and t.text in ops:
            self.i += 1
            return t.text
        return None

    def expect(self, op: str) -> None:
        if self.take(op) is None:
            found = repr(self.tok.text) if self.tok.kind != "end" else "the end"
            raise Unsupported(f"expected {op!r} at position {self.tok.pos} of {self.text!r}, found {found}")

    def parse(self) -> Node:
        node = self.expr()
        if self.tok.kind != "end":
            raise Unsupported(f"unexpected {self.tok.text!r} at position {self.tok.pos} of {self.text!r}")
        return node

    def expr(self) -> Node:
        cond = self.binary(0)
        if self.take("?") is None:
            return cond
        then = self.expr()
        self.expect(":")
        return Call("if", (cond, then, self.expr()))

    _LEVELS: tuple[tuple[str, ...], ...] = (("||",), ("&&",), ("==", "!="), ("<", "<=", ">", ">="), ("+", "-"))
    _LEVELS += (("*", "/", "%"),)

    def binary(self, level: int) -> Node:
        if level == len(self._LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while (op := self.take(*self._LEVELS[level])) is not None:
            right = self.binary(level + 1)
            left = _operator(op, left, right)
        return left

    def unary(self) -> Node:
        if self.take("!") is not None:
            return Call("not", (self.unary(),))
        if self.tok.kind == "op" and self.tok.text == "-" and self.peek(1).kind == "num":
            self.i += 1
            number = self.primary()
            assert isinstance(number, Literal)
            return Literal(-number.value)
        return self.postfix(self.primary())

    def postfix(self, node: Node) -> Node:
        while self.tok.text == "." and self.peek(1).kind in ("name", "field") and self.peek(2).text == "(":
            self.i += 1
            method = self.tok.text
            self.i += 2
            arg = self.expr()
            self.expect(")")
            if method == "equals":
                node = Call("eq", (node, arg))
            elif method == "equalsIgnoreCase":
                node = Call("eq", (Call("lower", (node,)), Call("lower", (arg,))))
            else:
                raise Unsupported(f"Data Prep method .{method}() has no counterpart here")
        return node

    def primary(self) -> Node:
        t = self.tok
        if t.kind == "num":
            self.i += 1
            return Literal(float(t.text) if any(c in t.text for c in ".eE") else int(t.text))
        if t.kind == "str":
            self.i += 1
            return Literal(_unquote(t.text))
        if self.take("(") is not None:
            inner = self.expr()
            self.expect(")")
            return inner
        if t.kind == "name" and t.text in ("true", "false", "null"):
            self.i += 1
            return Literal({"true": True, "false": False, "null": None}[t.text])
        if t.kind == "name" and self.peek(1).text == "(" and self.peek(1).kind == "op":
            self.i += 2
            return convert_call(t.text, self.arguments())
        if t.kind in ("name", "field"):
            return self.bind(self.path())
        found = repr(t.text) if t.kind != "end" else "the end"
        raise Unsupported(f"expected a value at position {t.pos} of {self.text!r}, found {found}")

    def arguments(self) -> list[Node]:
        args: list[Node] = []
        if self.take(")") is not None:
            return args
        while True:
            args.append(self.expr())
            if self.take(")") is not None:
                return args
            self.expect(",")

    def path(self) -> tuple[Segment, ...]:
        segs: list[Segment] = [_field_name(self.tok)]
        self.i += 1
        while True:
            if self.tok.text == "." and self.tok.kind == "op" and self.peek(1).kind in ("name", "field"):
                if self.peek(2).text == "(":  # a method call: postfix handles it
                    return tuple(segs)
                self.i += 1
                segs.append(_field_name(self.tok))
                self.i += 1
            elif self.tok.text == "[" and self.tok.kind == "op":
                self.i += 1
                segs.append(self.index())
                self.expect("]")
            else:
                return tuple(segs)

    def index(self) -> Segment:
        t = self.tok
        self.i += 1
        if t.kind == "num" and t.text.isdigit():
            return int(t.text)
        if t.kind == "str":
            return _unquote(t.text)
        if t.kind == "op" and t.text == "*":
            return STAR
        raise Unsupported(f"expected an index, a quoted key or * inside [...] at position {t.pos} of {self.text!r}")


def _operator(op: str, left: Node, right: Node) -> Node:
    if op in _COMPARE:
        return Call(_COMPARE[op], (left, right))
    if op in ("&&", "||"):
        name = "and" if op == "&&" else "or"
        if isinstance(left, Call) and left.name == name:  # a && b && c -> and(a, b, c)
            return Call(name, (*left.args, right))
        return Call(name, (left, right))
    if op == "+":  # JEXL: + adds numbers and concatenates strings; which one must be visible here
        kinds = {_kind(left), _kind(right)}
        if "text" in kinds:
            if isinstance(left, Call) and left.name == "concat":  # a + " " + b -> concat(a, ' ', b)
                return Call("concat", (*left.args, right))
            return Call("concat", (left, right))
        if kinds == {"number"}:
            return Call("add", (left, right))
        raise Unsupported("'+' between values of unknown type: write concat(a, b) for text or add(a, b) for numbers")
    if op in ("-", "*", "/"):
        return Call({"-": "sub", "*": "mul", "/": "div"}[op], (left, right))
    raise Unsupported(f"the Data Prep operator {op!r} has no counterpart here")


_TEXT_FUNCTIONS = frozenset({"concat", "lower", "upper", "trim", "replace", "substring", "to_string", "join"})
_NUMBER_FUNCTIONS = frozenset({"add", "sub", "mul", "div", "len", "to_int", "to_float", "abs", "round"})


def _kind(node: Node) -> str:
    """text | number | unknown: what `+` would meet at run time, where the expression shows it."""
    if isinstance(node, Literal):
        if isinstance(node.value, str):
            return "text"
        return "number" if isinstance(node.value, int | float) and not isinstance(node.value, bool) else "unknown"
    if isinstance(node, Call):
        return "text" if node.name in _TEXT_FUNCTIONS else "number" if node.name in _NUMBER_FUNCTIONS else "unknown"
    return "unknown"


def _literal_text(node: Node, what: str) -> str:
    if isinstance(node, Literal) and isinstance(node.value, str):
        return node.value
    raise Unsupported(f"{what} must be a quoted string here")


def _literal_int(node: Node, what: str) -> int:
    if isinstance(node, Literal) and isinstance(node.value, int) and not isinstance(node.value, bool):
        return node.value
    raise Unsupported(f"{what} must be a whole number here")


def convert_call(name: str, args: Sequence[Node]) -> Node:
    """A Data Prep function call with converted arguments, as a call of this project's language."""
    low = name.lower()
    special = _SPECIAL.get(low)
    if special is not None:
        return special(list(args))
    if low in _HASHES:
        if len(args) == 2 and _literal_text(args[1], f"{name}() charset").upper().replace("-", "") == "UTF8":
            args = args[:1]
        return _checked(_HASHES[low], args, name)
    target = RENAMED.get(low)
    if target is None:
        raise Unsupported(f"Data Prep function {name}() has no counterpart here")
    return _checked(target, args, name)


def _checked(target: str, args: Sequence[Node], name: str) -> Node:
    fn = REGISTRY[target]
    if len(args) < fn.min_args or (fn.max_args is not None and len(args) > fn.max_args):
        raise Unsupported(f"{name}() with {len(args)} argument(s) does not fit {fn.signature} here")
    return Call(target, tuple(args))


def _date(args: list[Node]) -> Node:
    """date(x[, format[, default]]): a string (Java pattern) -> ISO 8601 date-time; naive inputs are UTC."""
    if not 1 <= len(args) <= 3:
        raise Unsupported(f"date() with {len(args)} arguments: Data Prep takes date(DATE[, FORMAT[, DEFAULT]])")
    parsed: Node = Call("to_timestamp", (args[0],))
    if len(args) > 1:
        fmt = java_to_strptime(_literal_text(args[1], "the date() format"))
        parsed = Call("to_timestamp", (args[0], Literal(fmt)))
    return Call("coalesce", (parsed, args[2])) if len(args) == 3 else parsed


def _decode(args: list[Node]) -> Node:
    """decode(key, k1, v1, k2, v2, ..., [default]) -> if(eq(key, k1), v1, if(eq(key, k2), v2, default))."""
    if len(args) < 3:
        raise Unsupported("decode() needs a key and at least one key/value pair")
    key, rest = args[0], args[1:]
    out: Node = rest[-1] if len(rest) % 2 else Literal(None)
    pairs = rest[: len(rest) - len(rest) % 2]
    for k, v in reversed(list(zip(pairs[::2], pairs[1::2], strict=True))):
        out = Call("if", (Call("eq", (key, k)), v, out))
    return out


def _join(args: list[Node]) -> Node:
    if len(args) != 2:
        raise Unsupported("join() takes a separator and an array")
    return Call("join", (args[1], args[0]))  # Data Prep: join(SEPARATOR, ARRAY); here join(list, separator)


def _substr(args: list[Node]) -> Node:
    if len(args) != 3:
        raise Unsupported("substr() takes an input, a start index and a length")
    start = _literal_int(args[1], "the substr() start")
    return Call("substring", (args[0], Literal(start), Literal(start + _literal_int(args[2], "the substr() length"))))


def _left(args: list[Node]) -> Node:
    if len(args) != 2:
        raise Unsupported("left() takes a string and a count")
    return Call("substring", (args[0], Literal(0), Literal(_literal_int(args[1], "the left() count"))))


def _right(args: list[Node]) -> Node:
    if len(args) != 2:
        raise Unsupported("right() takes a string and a count")
    count = _literal_int(args[1], "the right() count")
    return Call("substring", (args[0], Literal(-count))) if count > 0 else Literal("")


_SPECIAL: dict[str, Callable[[list[Node]], Node]] = {
    "date": _date,
    "decode": _decode,
    "join": _join,
    "substr": _substr,
    "left": _left,
    "right": _right,
}

# Java DateTimeFormatter pattern letters -> strptime directives, by letter and run length.
_JAVA_LETTERS: dict[str, Callable[[int], str | None]] = {
    "y": lambda n: "%y" if n == 2 else "%Y",
    "u": lambda n: "%y" if n == 2 else "%Y",
    "M": lambda n: "%m" if n <= 2 else ("%b" if n == 3 else "%B"),
    "L": lambda n: "%m" if n <= 2 else ("%b" if n == 3 else "%B"),
    "d": lambda n: "%d" if n <= 2 else None,
    "D": lambda n: "%j",
    "H": lambda n: "%H" if n <= 2 else None,
    "h": lambda n: "%I" if n <= 2 else None,
    "m": lambda n: "%M" if n <= 2 else None,
    "s": lambda n: "%S" if n <= 2 else None,
    "S": lambda n: "%f" if n <= 6 else None,
    "a": lambda n: "%p",
    "E": lambda n: "%a" if n <= 3 else "%A",
    "X": lambda n: "%z",
    "x": lambda n: "%z",
    "Z": lambda n: "%z",
}


def java_to_strptime(pattern: str) -> str:
    """A Java DateTimeFormatter pattern (Data Prep's date formats) as a strptime format.

    `yyyy-MM-dd'T'HH:mm:ss.SSSX` -> `%Y-%m-%dT%H:%M:%S.%f%z`. Quoted text is literal (`''` is a
    quote); letters without a strptime counterpart (zone names `z`, week fields, optional
    sections `[...]`, more than 6 fraction digits) raise Unsupported naming them.
    """
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "'":
            end = pattern.find("'", i + 1)
            if end == i + 1:
                out.append("'")
                i += 2
                continue
            if end < 0:
                raise Unsupported(f"date format {pattern!r}: unterminated quote")
            out.append(pattern[i + 1 : end].replace("%", "%%"))
            i = end + 1
            continue
        run = len(pattern) - i - len(pattern[i:].lstrip(ch)) if ch.isalpha() else 1
        if ch.isalpha():
            directive = _JAVA_LETTERS[ch](run) if ch in _JAVA_LETTERS else None
            if directive is None:
                raise Unsupported(f"date format {pattern!r}: {ch * run} has no strptime counterpart")
            out.append(directive)
        elif ch in "[]#{}":
            raise Unsupported(f"date format {pattern!r}: {ch!r} (optional sections, reserved) is not supported")
        else:
            out.append("%%" if ch == "%" else ch)
        i += run
    return "".join(out)


def parse_dataprep(text: str, bind: Binder = value_binder) -> Node:
    """A Data Prep expression as this project's AST; `bind` turns each source path into a node."""
    return _Parser(text.strip().removeprefix("="), bind).parse()


def parse_source_path(attribute: str) -> tuple[Segment, ...]:
    """The segments of an ATTRIBUTE source (`a.b[0].c`, `a[*].b`, `Full\\.Name`, `${First Name}`)."""
    parser = _Parser(attribute, value_binder)
    if parser.tok.kind not in ("name", "field"):
        raise Unsupported(f"source attribute {attribute!r} is not a field path")
    segs = parser.path()
    if parser.tok.kind != "end":
        raise Unsupported(f"source attribute {attribute!r} is not a field path")
    return segs
