"""Generated mapping code: user text only ever appears as data, every library function compiles."""

from __future__ import annotations

import ast
import re
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.mapping.compiler import LAZY_FUNCTIONS
from connector.mapping.expressions import Call, Literal, Path, format_node
from connector.mapping.functions import REGISTRY
from tests.unit.mapping.helpers import BASE, compile_one, record

PROFILE = BASE.replace("experienceevent", "profile")
_GENERATED = re.compile(r"^_[A-Za-z_]+\d*$")
_ALLOWED = {"entity", "wrapper", "payload", "record", "value", "key", "dict", "list", "str", "int", "bool", "float",
            "len", "Exception", "TypeError"}


def _out(fields: dict[str, Any], value: Any, **kw: Any) -> Any:
    spec = yaml.safe_load(PROFILE)
    spec["fields"] = fields
    entity = compile_one(spec).map(record(**kw), {"email": "a@b.c", **value})["body"]["xdmEntity"]
    return entity.get("out")


def test_every_lazy_library_function_has_a_code_generator() -> None:
    """if/coalesce/default/and/or and any lazy function added later compile to inline code."""
    lazy = {name for name, f in REGISTRY.items() if f.lazy}
    assert lazy == LAZY_FUNCTIONS
    for name in sorted(lazy):
        f = REGISTRY[name]
        n = f.min_args + 1 if f.max_args is None else min(f.min_args + 1, f.max_args)
        args = ", ".join(["value.a", "value.b", "value.c"][:n])
        assert _out({"out": f"{name}({args})"}, {"a": "x", "b": "y", "c": "z"}) is not None


@settings(max_examples=150, deadline=None)
@given(text=st.text(min_size=1, max_size=40))
def test_any_text_in_literals_keys_and_headers_is_data(text: str) -> None:
    """Quotes, backslashes, newlines or Python in a string literal, a path key or a header name stay data."""
    literal = format_node(Call("concat", (Literal(text),)))
    path = format_node(Path("value", ("box", text)))
    head = format_node(Path("headers", (text,)))
    fields = {"out": {"lit": literal, "path": path, "head": head}}
    spec = yaml.safe_load(PROFILE)
    spec["fields"] = fields
    m = compile_one(spec)
    entity = m.map(record(headers=((text, b"h"),)), {"email": "a@b.c", "box": {text: "v"}})["body"]["xdmEntity"]
    assert entity["out"] == {"lit": text, "path": "v", "head": "h"}


def test_generated_source_names_are_all_generated() -> None:
    """Field names, loop variables and expressions never become identifiers of the generated code."""
    spec = yaml.safe_load(
        PROFILE
        + """
fields:
  weird-name@x:
    each: value['__import__("os")']
    as: exec
    fields:
      a-b: exec.eval
      c: concat(exec['x\\'y'], "\\n", headers['a"b'])
  lit: {literal: {"k'": ["v\\\\", 1.5]}}
"""
    )
    m = compile_one(spec)
    tree = ast.parse(m.source)
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    names |= {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    names |= {a.arg for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) for a in n.args.args}
    assert {n for n in names if not _GENERATED.match(n)} <= _ALLOWED
    attrs = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    assert attrs <= {"get", "__class__", "append", "extend", "topic", "partition", "offset", "timestamp_ms"}
    value = {"email": "a@b.c", '__import__("os")': [{"eval": 1, "x'y": "q"}]}
    entity = m.map(record(headers=(('a"b', b"H"),)), value)["body"]["xdmEntity"]
    assert entity["weird-name@x"] == [{"a-b": 1, "c": "q\nH"}]
    assert entity["lit"] == {"k'": ["v\\", 1.5]}


def test_literal_objects_are_fresh_per_record() -> None:
    """A literal object is rebuilt for every record: changing one envelope cannot leak into the next."""
    m = compile_one(PROFILE + "fields:\n  lit: {literal: {a: [1]}}\n")
    first = m.map(record(), {"email": "a@b.c"})["body"]["xdmEntity"]["lit"]
    first["a"].append(2)
    assert m.map(record(), {"email": "a@b.c"})["body"]["xdmEntity"]["lit"] == {"a": [1]}


def test_error_in_generated_code_names_target_and_expression_in_the_traceback() -> None:
    """The generated source is registered with linecache, so a failure's traceback shows the line."""
    import traceback

    from connector.errors import MappingError

    m = compile_one(PROFILE + "fields:\n  n: to_int(value.n)\n")
    try:
        m.map(record(), {"email": "a@b.c", "n": "x"})
    except MappingError as exc:
        text = "".join(traceback.format_exception(exc))
        assert "to_int(value.n)" in str(exc) and "<mapping inline>" in text
    else:
        raise AssertionError("no MappingError")


def test_envelopes_share_no_part_between_records() -> None:
    """The generated envelope is rebuilt per record: changing one header cannot leak into the next."""
    m = compile_one(PROFILE + "source_name: S\nfields:\n  a: value.a\n")
    first = m.map(record(), {"email": "a@b.c", "a": 1})
    first["header"]["source"]["name"] = "changed"
    first["body"]["xdmMeta"]["schemaRef"]["id"] = "changed"
    second = m.map(record(), {"email": "a@b.c", "a": 1})
    assert second["header"]["source"] == {"name": "S"}
    assert second == m.envelope.wrap(m.entity(record(), {"email": "a@b.c", "a": 1}), "t/0/0")
