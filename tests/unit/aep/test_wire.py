"""batch_body and batch_size agree to the byte."""

from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from connector.aep.wire import WRAPPER_OVERHEAD, batch_body, batch_size


def test_wrapper_overhead() -> None:
    """The empty wrapper is {"messages":[]}."""
    assert WRAPPER_OVERHEAD == len(b'{"messages":[]}') == 15
    assert batch_body([]) == b'{"messages":[]}'
    assert batch_size(0, 0) == 15


def test_body_is_valid_json_with_messages_untouched() -> None:
    """Messages are joined with commas, bytes untouched."""
    msgs = [b'{"a":1}', b'{"b":"\xc3\xa9"}']
    body = batch_body(msgs)
    assert body == b'{"messages":[{"a":1},{"b":"\xc3\xa9"}]}'
    assert orjson.loads(body) == {"messages": [{"a": 1}, {"b": "é"}]}


@given(st.lists(st.binary(min_size=1, max_size=50), max_size=40))
def test_size_is_exact(msgs: list[bytes]) -> None:
    """batch_size(sum of lengths, count) == len(batch_body(messages)) for any messages."""
    assert batch_size(sum(map(len, msgs)), len(msgs)) == len(batch_body(msgs))
