"""Data Prep import against the examples of Adobe's Data Prep documentation.

Sources (AdobeDocs/experience-platform.en on GitHub, the text of experienceleague.adobe.com):
- FUNCTIONS: help/data-prep/functions.md ("Data Prep mapping functions": the tables' Expression /
  Sample output columns, and the reserved words of the Fields section, which are JEXL's operator
  words: eq ne lt le gt ge and or not div);
- HANDLING: help/data-prep/data-handling.md ("Dates": date() and the list of date formats);
- SETS: help/data-prep/mapping-set.md ("Mapping sets overview": sources and destinations);
- CAPILLARY: help/sources/tutorials/api/create/loyalty/capillary.md (a mapping set whose
  destination is `xdm:identityMap.email[0].id`).
Each example is converted, compiled by this project's compiler and run on the documented input.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from connector.mapping.dataprep import convert_expression, convert_mapping_set
from connector.mapping.dataprep_expr import Unsupported, java_to_strptime
from tests.unit.mapping.helpers import compile_one, record


def evaluate(dataprep: str, value: Any = None) -> Any:
    """Convert a Data Prep expression, compile it as a profile field and map `value` through it."""
    mapping = compile_one(
        {
            "name": "t", "topics": ["t"], "xdm_class": "profile", "schema_id": "s", "dataset_id": "d",
            "allow_no_identity": True, "fields": {"out": {"expr": convert_expression(dataprep)}},
        }
    )  # fmt: skip
    return mapping.map(record(), value or {})["body"]["xdmEntity"].get("out")


# FUNCTIONS: (Expression column, Sample output column), verbatim.
FUNCTION_TABLE = [
    ('concat("Hi, ", "there", "!")', "Hi, there!"),
    ('replacestr("This is a string re test", "re", "replace")', "This is a string replace test"),
    ('substr("This is a substring test", 7, 8)', " a subst"),
    ('lower("HeLLo")', "hello"),
    ('lcase("HeLLo")', "hello"),
    ('upper("HeLLo")', "HELLO"),
    ('ucase("HeLLo")', "HELLO"),
    ('split("Hello world", " ")', ["Hello", "world"]),
    ('left("abcde", 2)', "ab"),
    ('right("abcde", 2)', "de"),
    ('trim(" hello ")', "hello"),
    ('"string1".equals("STRING1")', False),
    ('sha256("my text", "UTF-8")', "7330d2b39ca35eaf4cb95fc846c21ee6a39af698154a83a586ee270a0d372104"),
    ('sha1("my text", "UTF-8")', "c3599c11e47719df18a2448690840c5dfcce3c80"),
    ('md5("my text", "UTF-8")', "d3b96ce8c9fb4e9bd0198d03ba6852c7"),
    ('date("2019-10-23 11:24", "yyyy-MM-dd HH:mm", now())', "2019-10-23T11:24:00Z"),
    ('date("2019-10-23 11:24", "yyyy-MM-dd HH:mm")', "2019-10-23T11:24:00Z"),
    ('date("2019-10-23 11:24")', "2019-10-23T11:24:00Z"),
    ('coalesce(null, null, null, "first", null, "second")', "first"),
    ('iif("s".equalsIgnoreCase("S"), "True", "False")', "True"),
    ('to_integer("12")', 12),
    ('to_decimal("20.5")', 20.5),
]


@pytest.mark.parametrize(("expression", "expected"), FUNCTION_TABLE)
def test_function_table_examples_give_the_documented_output(expression: str, expected: Any) -> None:
    """Every convertible example of the Data Prep functions tables gives its documented sample output."""
    assert evaluate(expression) == expected


@pytest.mark.parametrize("state", [("ca", "California"), ("pa", "Pennsylvania"), ("ny", "N/A")])
def test_decode_example(state: tuple[str, str]) -> None:
    """FUNCTIONS, Logical operators: decode(stateCode, "ca", "California", "pa", "Pennsylvania", "N/A")."""
    expr = 'decode(stateCode, "ca", "California", "pa", "Pennsylvania", "N/A")'
    assert evaluate(expr, {"stateCode": state[0]}) == state[1]


@pytest.mark.parametrize(
    ("expression", "value", "expected"),
    [
        ('iif(age >= 18, "adult", "minor")', {"age": 18}, "adult"),
        ('iif(age >= 18, "adult", "minor")', {"age": 17}, "minor"),
        ('iif(age > 17 && country == "US", "us-adult", "other")', {"age": 30, "country": "US"}, "us-adult"),
        ('iif(age > 17 && country == "US", "us-adult", "other")', {"age": 30, "country": "FR"}, "other"),
        ('iif(tier != "gold" || points < 100, "standard", "premium")', {"tier": "gold", "points": 50}, "standard"),
        ('iif(tier != "gold" || points < 100, "standard", "premium")', {"tier": "gold", "points": 500}, "premium"),
        ('iif(points <= 0, "none", "some")', {"points": 0}, "none"),
        ('iif(!optIn, "no", "yes")', {"optIn": False}, "no"),
        ('iif(!(a == 1 && b == 2), "x", "y")', {"a": 1, "b": 2}, "y"),
        ('iif(email != null, lower(email), "unknown")', {}, "unknown"),
        ('iif(age ge 18 and not banned, "ok", "no")', {"age": 20, "banned": False}, "ok"),
        ('iif(age lt 18 or age gt 65, "discount", "full")', {"age": 70}, "discount"),
        ('iif(${First Name} == "Ada", 1, 2)', {"First Name": "Ada"}, 1),
    ],
)
def test_iif_with_comparison_and_logical_operators(expression: str, value: Any, expected: Any) -> None:
    """iif() conditions with ==, !=, <, <=, >, >=, &&, ||, ! and JEXL's word forms evaluate as in Data Prep."""
    assert evaluate(expression, value) == expected


def test_operators_become_the_languages_functions() -> None:
    """The converted text is plain function calls of this project's language (and/or flattened)."""
    assert convert_expression('iif(a == 1 && b != 2 && c < 3, "x", "y")') == (
        "if(and(eq(value.a, 1), ne(value.b, 2), lt(value.c, 3)), 'x', 'y')"
    )
    assert convert_expression("!(a >= 1) || b <= 2") == "or(not(ge(value.a, 1)), le(value.b, 2))"
    assert convert_expression('firstName + " " + lastName') == "concat(value.firstName, ' ', value.lastName)"


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ('dformat(1571829875000, "yyyy-MM-dd\'T\'HH:mm:ss.SSSX")', "dformat() has no counterpart"),
        ("a % 2", "operator '%'"),
        ("price + tax", "write concat(a, b) for text or add(a, b) for numbers"),
        ('date(x, "yyyy-MM-dd HH:mm z")', "z has no strptime counterpart"),
        ("a =~ b", "cannot read"),
    ],
)
def test_what_does_not_convert_says_why(expression: str, reason: str) -> None:
    """Constructs without a counterpart raise with the reason (the importer writes it as a TODO)."""
    with pytest.raises(Unsupported, match=reason.replace("(", r"\(").replace(")", r"\)")):
        convert_expression(expression)


# HANDLING, "Date function conversions": the formats Data Prep tries, with a value of each.
DATE_FORMATS = [
    ("yyyy-MM-dd HH:mm:ssZ", "2020-12-31 23:59:58+0100", "2020-12-31T22:59:58Z"),
    ("yyyy-MM-dd HH:mm:ss.SSSZ", "2020-12-31 23:59:58.250+0000", "2020-12-31T23:59:58.250Z"),
    ("yyyy-MM-dd HH:mm:ss.SSS", "2020-12-31 23:59:58.250", "2020-12-31T23:59:58.250Z"),
    ("yyyy-MM-dd'T'HH:mm:ss.SSSX", "2020-12-31T23:59:58.250Z", "2020-12-31T23:59:58.250Z"),
    ("yyyy-MM-dd'T'HH:mm:ss'Z'", "2020-12-31T23:59:58Z", "2020-12-31T23:59:58Z"),
    ("yyyy-MM-dd", "2020-12-31", "2020-12-31T00:00:00Z"),
    ("yyyy/MM/dd", "2020/12/31", "2020-12-31T00:00:00Z"),
    ("yyyy.MM.dd", "2020.12.31", "2020-12-31T00:00:00Z"),
    ("yyyy-MMM-dd", "2020-Dec-31", "2020-12-31T00:00:00Z"),
    ("yyyyMMdd", "20201231", "2020-12-31T00:00:00Z"),
    ("MM-dd-yyyy", "12-31-2020", "2020-12-31T00:00:00Z"),
    ("MMddyyyy", "12312020", "2020-12-31T00:00:00Z"),
    ("M/dd/yyyy", "12/31/2020", "2020-12-31T00:00:00Z"),
    ("dd.M.yyyy", "31.12.2020", "2020-12-31T00:00:00Z"),
    ("M/dd/yyyy hh:mm:ss a", "12/31/2020 11:59:58 PM", "2020-12-31T23:59:58Z"),
    ("dd.M.yyyy hh:mm:ss a", "31.12.2020 11:59:58 PM", "2020-12-31T23:59:58Z"),
    ("dd.MMM.yyyy", "31.Dec.2020", "2020-12-31T00:00:00Z"),
    ("dd-MMM-yyyy", "31-Dec-2020", "2020-12-31T00:00:00Z"),
]


@pytest.mark.parametrize(("pattern", "text", "expected"), DATE_FORMATS)
def test_documented_date_formats_convert_and_read_their_values(pattern: str, text: str, expected: str) -> None:
    """date(orderDate, FORMAT) with each format Data Prep lists reads a value in it (naive values as UTC)."""
    assert evaluate(f'date(orderDate, "{pattern}")', {"orderDate": text}) == expected


def test_java_patterns_become_strptime_formats() -> None:
    """Quoted text is literal, '' is a quote, % is escaped; letters map by run length."""
    assert java_to_strptime("yyyy-MM-dd'T'HH:mm:ss.SSSX") == "%Y-%m-%dT%H:%M:%S.%f%z"
    assert java_to_strptime("EEE, d MMMM yy 'at' h a") == "%a, %d %B %y at %I %p"
    assert java_to_strptime("''yyyy'' 100%") == "'%Y' 100%%"
    assert java_to_strptime("D/yyyy") == "%j/%Y"


SAMPLE = {
    "customerInfo": {
        "name": "John Smith",
        "email": "js@example.com",
        "emails": [
            {"name": "John Smith", "email": "js@example.com"},
            {"name": "Jane Smith", "email": "jane@example.com"},
        ],
    }
}


NO_IDENTITY = "no identity mapping: add identities: (a primary identity is required)"


def _converted(mappings: list[dict[str, Any]], xdm_class: str = "profile") -> tuple[dict[str, Any], list[str]]:
    text, todos = convert_mapping_set(
        {"mappings": mappings}, name="t", schema_id="s", dataset_id="d", xdm_class=xdm_class, topics=["t"]
    )
    assert text.endswith("\n") and not text.endswith("\n\n")
    spec = yaml.safe_load(text)
    assert isinstance(spec, dict)
    return spec, todos


def _entity(spec: dict[str, Any], value: Any) -> dict[str, Any]:
    if not spec.get("identities"):
        spec = {**spec, "identities": None, "allow_no_identity": True}
    entity: dict[str, Any] = compile_one(spec).map(record(), value)["body"]["xdmEntity"]
    return entity


@pytest.mark.parametrize(
    ("mapping", "value", "expected"),
    [
        # SETS, "Field in nested data"
        ({"source": "customerInfo.name", "destination": "pi.name", "sourceType": "ATTRIBUTE"}, SAMPLE,
         {"pi": {"name": "John Smith"}}),
        # SETS, "Field within an array"
        ({"source": "customerInfo.emails[0].email", "destination": "pi.email", "sourceType": "ATTRIBUTE"}, SAMPLE,
         {"pi": {"email": "js@example.com"}}),
        # SETS, "Array to array or object to object"
        ({"source": "customerInfo.emails", "destination": "pi.emailList", "sourceType": "ATTRIBUTE"}, SAMPLE,
         {"pi": {"emailList": SAMPLE["customerInfo"]["emails"]}}),
        # SETS, "Constant value"
        ({"source": "CUSTOMER", "destination": "userType", "sourceType": "STATIC"}, SAMPLE, {"userType": "CUSTOMER"}),
        # SETS, "Field at the root level"
        ({"source": "customerInfo.name", "destination": "name", "sourceType": "ATTRIBUTE"}, SAMPLE,
         {"name": "John Smith"}),
        # SETS, "Field in columnar data": a column named Full.Name, its dot escaped as the guide says
        ({"source": "Full\\.Name", "destination": "pi.name", "sourceType": "ATTRIBUTE"}, {"Full.Name": "John Smith"},
         {"pi": {"name": "John Smith"}}),
    ],
)  # fmt: skip
def test_mapping_set_guide_sources_and_destinations(mapping: dict[str, Any], value: Any, expected: Any) -> None:
    """The mapping-set guide's examples convert without TODOs and give its transformed data."""
    spec, todos = _converted([mapping])
    assert todos == [NO_IDENTITY], todos
    assert _entity(spec, value) == expected


def test_mapping_set_guide_expression_example() -> None:
    """SETS, "Expressions": concat(upper(lastName), upper(firstName), now()) (now() is RFC 3339 here)."""
    mapping = {"source": "concat(upper(lastName), upper(firstName), now())", "destination": "pi.created",
               "sourceType": "EXPRESSION"}  # fmt: skip
    spec, todos = _converted([mapping])
    assert todos == [NO_IDENTITY]
    created = _entity(spec, {"firstName": "John", "lastName": "Smith", "email": "js@example.com"})["pi"]["created"]
    assert created == "SMITHJOHN2025-06-15T15:06:40Z"


def test_iterative_array_operation_becomes_an_each_block() -> None:
    """SETS, "Iterative operations on arrays": customerInfo.emails[*].name -> pi[*].names.

    The guide's transformed data shows `"names": {"name": "John Smith"}`, which its own mapping
    cannot produce (the source `...[*].name` is a string); the value itself is what lands here.
    """
    mapping = {"source": "customerInfo.emails[*].name", "destination": "pi[*].names", "sourceType": "ATTRIBUTE"}
    spec, todos = _converted([mapping])
    assert todos == [NO_IDENTITY]
    assert spec["fields"]["pi"] == {"each": "value.customerInfo.emails", "as": "item", "fields": {"names": "item.name"}}
    assert _entity(spec, SAMPLE) == {"pi": [{"names": "John Smith"}, {"names": "Jane Smith"}]}


def test_array_mappings_of_one_destination_share_one_each_block() -> None:
    """Several [*] mappings into productListItems (attribute, expression, constant) iterate one source list."""
    mappings = [
        {"source": "items[*].sku", "destination": "productListItems[*].SKU"},
        {"source": "upper(items[*].name)", "destination": "productListItems[*].name", "sourceType": "EXPRESSION"},
        {"source": "EUR", "destination": "productListItems[*].currencyCode", "sourceType": "STATIC"},
        {"source": "items[*]", "destination": "_acme.tags[*]"},
    ]
    spec, todos = _converted(mappings)
    assert todos == [NO_IDENTITY]
    value = {"items": [{"sku": "a1", "name": "shoe"}, {"sku": "b2", "name": "hat"}]}
    assert _entity({**spec, "tenant": "acme"}, value) == {
        "productListItems": [
            {"SKU": "a1", "name": "SHOE", "currencyCode": "EUR"},
            {"SKU": "b2", "name": "HAT", "currencyCode": "EUR"},
        ],
        "_acme": {"tags": value["items"]},
    }


def test_arrays_that_cannot_be_expressed_are_todos() -> None:
    """SETS, "Field at a specific array index" (piList[0]) and nested [*] have no counterpart: TODOs."""
    _, todos = _converted(
        [
            {"source": "customerInfo.name", "destination": "piList[0]"},
            {"source": "a[*].b[*].c", "destination": "x[*].y[*].z"},
            {"source": "CONST", "destination": "only[*].static", "sourceType": "STATIC"},
        ]
    )
    assert len(todos) == 4 and todos[3] == NO_IDENTITY
    assert "fixed array index (piList[0])" in todos[0]
    assert "nested arrays" in todos[1]
    assert "no source list with [*]" in todos[2]


def test_identity_map_destination_becomes_an_identity_rule() -> None:
    """CAPILLARY: identityMap.email.id -> xdm:identityMap.email[0].id is an identity, not a field or a TODO."""
    mappings = [
        {"sourceType": "ATTRIBUTE", "source": "identityMap.email.id", "destination": "xdm:identityMap.email[0].id"},
        {"sourceType": "ATTRIBUTE", "source": "loyalty.points", "destination": "xdm:loyalty.points"},
        {"sourceType": "ATTRIBUTE", "source": "productLineItems.SKU", "destination": "xdm:productListItems.SKU"},
    ]
    spec, todos = _converted(mappings)
    assert todos == ["no identity was marked primary; made email primary"]
    assert spec["identities"] == [{"namespace": "email", "value": "value.identityMap.email.id", "primary": True}]
    entity = _entity(spec, {"identityMap": {"email": {"id": "a@b.c"}}, "loyalty": {"points": 5}})
    assert entity == {
        "loyalty": {"points": 5},
        "identityMap": {"email": [{"id": "a@b.c", "authenticatedState": "ambiguous", "primary": True}]},
    }


def test_identity_map_flags_and_several_identities() -> None:
    """identityMap.NS[i].primary / .authenticatedState set the rule's flags; [1] is a second identity."""
    mappings = [
        {"source": "email", "destination": "identityMap.Email[0].id"},
        {"source": "true", "destination": "identityMap.Email[0].primary", "sourceType": "STATIC"},
        {"source": "authenticated", "destination": "identityMap.Email[0].authenticatedState", "sourceType": "STATIC"},
        {"source": "lower(altEmail)", "destination": "identityMap.Email[1].id", "sourceType": "EXPRESSION"},
        {"source": "ecids[*]", "destination": "identityMap.ECID[*].id"},
    ]
    spec, todos = _converted(mappings)
    assert todos == []
    assert spec["identities"] == [
        {"namespace": "Email", "value": "value.email", "primary": True, "authenticated_state": "authenticated"},
        {"namespace": "Email", "value": "lower(value.altEmail)"},
        {"namespace": "ECID", "value": "value.ecids"},
    ]
    entity = _entity(spec, {"email": "a@b.c", "altEmail": "X@Y.Z", "ecids": ["1", "2"]})
    assert [i["id"] for i in entity["identityMap"]["Email"]] == ["a@b.c", "x@y.z"]
    assert [i["id"] for i in entity["identityMap"]["ECID"]] == ["1", "2"]
