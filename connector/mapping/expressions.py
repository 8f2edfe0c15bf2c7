"""The expression language: a hand-written tokenizer and recursive-descent parser (never `eval`).

    expr     := call | path | literal | '(' expr ')'
    call     := NAME '(' [expr (',' expr)*] ')'
    path     := NAME segment*
    segment  := '.' FIELD | '[' (INT | STRING) ']'
    literal  := STRING | NUMBER | 'true' | 'false' | 'null'

NAME is `[A-Za-z_][A-Za-z0-9_]*`; FIELD (after a dot) may also hold `-`, `@`, `$` and start
with a digit. STRING is single- or double-quoted with backslash escapes (\\n \\t \\\\ \\' \\"); any other backslash
is kept as is, so regexes read naturally ('\\d+').
NUMBER is an optional '-', digits, an optional fraction and exponent.
Parsing yields a small AST; name resolution, arity and literal-argument checks happen in
`compiler`, which turns the AST into closures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_NAME_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_NAME_CHARS = _NAME_START | frozenset("0123456789")
_FIELD_CHARS = _NAME_CHARS | frozenset("-@$")
_DIGITS = frozenset("0123456789")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "/": "/"}
_KEYWORDS = {"true": True, "false": False, "null": None}


class ExpressionSyntaxError(ValueError):
    """The expression text is malformed; the message names the character position."""


@dataclass(frozen=True, slots=True)
class Literal:
    value: Any


@dataclass(frozen=True, slots=True)
class Path:
    root: str
    segments: tuple[str | int, ...]

    def __str__(self) -> str:
        parts = [self.root]
        for seg in self.segments:
            parts.append(f"[{seg}]" if isinstance(seg, int) else f".{seg}")
        return "".join(parts)


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Node, ...]


Node = Literal | Path | Call


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, message: str) -> ExpressionSyntaxError:
        return ExpressionSyntaxError(f"{message} at position {self.pos} in {self.text!r}")

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t\r\n":
            self.pos += 1

    def peek(self) -> str:
        self.skip_ws()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def expect(self, ch: str) -> None:
        if self.peek() != ch:
            found = repr(self.text[self.pos]) if self.pos < len(self.text) else "end of expression"
            raise self.fail(f"expected {ch!r}, found {found}")
        self.pos += 1

    def parse(self) -> Node:
        node = self.expr()
        if self.peek():
            raise self.fail(f"unexpected {self.text[self.pos]!r}")
        return node

    def expr(self) -> Node:
        ch = self.peek()
        if not ch:
            raise self.fail("expected an expression, found end of expression")
        if ch == "(":
            self.pos += 1
            inner = self.expr()
            self.expect(")")
            return inner
        if ch in "'\"":
            return Literal(self.string())
        if ch in _DIGITS or ch == "-":
            return Literal(self.number())
        if ch in _NAME_START:
            return self.name_led()
        raise self.fail(f"unexpected {ch!r}")

    def name(self, chars: frozenset[str]) -> str:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] in chars:
            self.pos += 1
        return self.text[start : self.pos]

    def name_led(self) -> Node:
        name = self.name(_NAME_CHARS)
        if self.peek() == "(":
            self.pos += 1
            return Call(name, self.arguments())
        if name in _KEYWORDS:
            return Literal(_KEYWORDS[name])
        return Path(name, self.segments())

    def arguments(self) -> tuple[Node, ...]:
        args: list[Node] = []
        if self.peek() == ")":
            self.pos += 1
            return ()
        while True:
            args.append(self.expr())
            ch = self.peek()
            if ch == ",":
                self.pos += 1
                continue
            self.expect(")")
            return tuple(args)

    def segments(self) -> tuple[str | int, ...]:
        segs: list[str | int] = []
        while True:
            # no whitespace skipping inside a path: `value. a` is an error, `value .a` too
            ch = self.text[self.pos] if self.pos < len(self.text) else ""
            if ch == ".":
                self.pos += 1
                field = self.name(_FIELD_CHARS)
                if not field:
                    raise self.fail("expected a field name after '.'")
                segs.append(field)
            elif ch == "[":
                self.pos += 1
                segs.append(self.index())
                self.expect("]")
            else:
                return tuple(segs)

    def index(self) -> str | int:
        ch = self.peek()
        if ch in "'\"":
            return self.string()
        if ch in _DIGITS or ch == "-":
            num = self.number()
            if isinstance(num, int):
                return num
        raise self.fail("expected an integer index or a quoted key inside '[...]'")

    def string(self) -> str:
        quote = self.text[self.pos]
        self.pos += 1
        out: list[str] = []
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            self.pos += 1
            if ch == quote:
                return "".join(out)
            if ch == "\\":
                if self.pos >= len(self.text):
                    break
                esc = self.text[self.pos]
                self.pos += 1
                # other escapes keep their backslash, so regexes read naturally: '\d+'
                out.append(_ESCAPES.get(esc, "\\" + esc))
            else:
                out.append(ch)
        raise self.fail("unterminated string")

    def number(self) -> int | float:
        start = self.pos
        if self.text[self.pos] == "-":
            self.pos += 1
        digits = self.name(_DIGITS)
        if not digits:
            raise self.fail("expected digits")
        is_float = False
        if self.pos < len(self.text) and self.text[self.pos] == ".":
            self.pos += 1
            is_float = True
            if not self.name(_DIGITS):
                raise self.fail("expected digits after '.'")
        if self.pos < len(self.text) and self.text[self.pos] in "eE":
            self.pos += 1
            is_float = True
            if self.pos < len(self.text) and self.text[self.pos] in "+-":
                self.pos += 1
            if not self.name(_DIGITS):
                raise self.fail("expected digits in exponent")
        raw = self.text[start : self.pos]
        return float(raw) if is_float else int(raw)


def parse(text: str) -> Node:
    """Parse one expression; raise ExpressionSyntaxError naming the position of the first problem."""
    return _Parser(text).parse()


def walk(node: Node) -> list[Node]:
    """Every node of the tree, depth first (the node itself first)."""
    out: list[Node] = [node]
    if isinstance(node, Call):
        for arg in node.args:
            out.extend(walk(arg))
    return out


def _quote(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\t", "\\t") + "'"


def _is_field(s: str) -> bool:
    return bool(s) and all(ch in _FIELD_CHARS for ch in s)


def format_node(node: Node) -> str:
    """Expression text for a node; `parse(format_node(n)) == n`."""
    if isinstance(node, Literal):
        v = node.value
        if v is None or isinstance(v, bool):
            return {None: "null", True: "true", False: "false"}[v]
        return _quote(v) if isinstance(v, str) else repr(v)
    if isinstance(node, Path):
        parts = [node.root]
        for seg in node.segments:
            if isinstance(seg, int):
                parts.append(f"[{seg}]")
            elif _is_field(seg):
                parts.append(f".{seg}")
            else:
                parts.append(f"[{_quote(seg)}]")
        return "".join(parts)
    return f"{node.name}({', '.join(format_node(a) for a in node.args)})"
