"""JSON Patch for Schema Registry PATCH: the RFC 6902 operations and their failures."""

from __future__ import annotations

import pytest

from connector.emulator.jsonpatch import PatchError, apply_patch


def test_add_remove_replace_move_copy_test() -> None:
    """Each operation does what RFC 6902 says; the input document is left untouched."""
    doc = {"allOf": [{"$ref": "a"}], "title": "t", "meta:x": {"k": 1}}
    out = apply_patch(
        doc,
        [
            {"op": "add", "path": "/allOf/-", "value": {"$ref": "b"}},
            {"op": "add", "path": "/allOf/0", "value": {"$ref": "z"}},
            {"op": "replace", "path": "/title", "value": "T"},
            {"op": "remove", "path": "/meta:x/k"},
            {"op": "copy", "from": "/title", "path": "/copy"},
            {"op": "move", "from": "/copy", "path": "/moved"},
            {"op": "test", "path": "/title", "value": "T"},
            {"op": "add", "path": "/a~1b", "value": 1},
        ],
    )
    assert out == {
        "allOf": [{"$ref": "z"}, {"$ref": "a"}, {"$ref": "b"}],
        "title": "T",
        "meta:x": {},
        "moved": "T",
        "a/b": 1,
    }
    assert doc == {"allOf": [{"$ref": "a"}], "title": "t", "meta:x": {"k": 1}}


@pytest.mark.parametrize(
    "ops",
    [
        {"op": "add"},
        [{"op": "remove", "path": "/nope"}],
        [{"op": "replace", "path": "/title"}],
        [{"op": "test", "path": "/title", "value": "x"}],
        [{"op": "frobnicate", "path": "/title"}],
        [{"op": "add", "path": "title", "value": 1}],
        [{"op": "add", "path": "/allOf/9", "value": 1}],
    ],
)
def test_bad_patches_raise_and_change_nothing(ops: object) -> None:
    """A patch that cannot apply raises PatchError with the reason."""
    with pytest.raises(PatchError):
        apply_patch({"allOf": [], "title": "t"}, ops)
