"""The expression parser: paths, literals, calls, and precise syntax errors."""

from __future__ import annotations

import pytest

from connector.mapping.expressions import Call, ExpressionSyntaxError, Literal, Path, format_node, parse


@pytest.mark.parametrize(
    ("text", "node"),
    [
        ("value.a.b", Path("value", ("a", "b"))),
        ("value.lines[0].sku", Path("value", ("lines", 0, "sku"))),
        ("value['odd key'][-1]", Path("value", ("odd key", -1))),
        ('headers["x-id"]', Path("headers", ("x-id",))),
        ("value.a-b.@c", Path("value", ("a-b", "@c"))),
        ("topic", Path("topic", ())),
        ("'it\\'s'", Literal("it's")),
        ('"x\\ny"', Literal("x\ny")),
        ("'\\d+\\.'", Literal("\\d+\\.")),
        ("-12", Literal(-12)),
        ("1.5e3", Literal(1500.0)),
        ("true", Literal(True)),
        ("null", Literal(None)),
        (" ( value.a ) ", Path("value", ("a",))),
        ("f()", Call("f", ())),
        ("lower(trim(value.e))", Call("lower", (Call("trim", (Path("value", ("e",)),)),))),
        (
            "concat(value.a, ' ', 1, null)",
            Call("concat", (Path("value", ("a",)), Literal(" "), Literal(1), Literal(None))),
        ),
    ],
)
def test_parses(text: str, node: object) -> None:
    """Each form parses to the expected AST."""
    assert parse(text) == node


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected an expression"),
        ("value.", "expected a field name after '.'"),
        ("value..a", "expected a field name after '.'"),
        ("value[x]", "expected an integer index or a quoted key"),
        ("value[1", "expected ']'"),
        ("f(a,", "expected an expression"),
        ("f(a b)", "expected ')'"),
        ("'open", "unterminated string"),
        ("value.a extra", "unexpected 'e'"),
        ("1.", "expected digits after '.'"),
        ("#", "unexpected '#'"),
    ],
)
def test_syntax_errors_name_the_problem_and_position(text: str, message: str) -> None:
    """Malformed text raises ExpressionSyntaxError with a message and a position."""
    with pytest.raises(ExpressionSyntaxError, match="position") as info:
        parse(text)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "text",
    ["value.a['odd key'][2].b", "concat('it\\'s', value.x, -1.5, null, true)", "f()", "headers['x-id']"],
)
def test_format_node_round_trips(text: str) -> None:
    """format_node gives text that parses back to the same tree."""
    node = parse(text)
    assert parse(format_node(node)) == node
