"""The DCS batch body and its exact size, so batches can be cut before they are built."""

from __future__ import annotations

from collections.abc import Sequence

_OPEN = b'{"messages":['
_CLOSE = b"]}"
WRAPPER_OVERHEAD = len(_OPEN) + len(_CLOSE)


def batch_body(messages: Sequence[bytes]) -> bytes:
    """`{"messages":[m1,m2,...]}` with the messages' bytes untouched."""
    return _OPEN + b",".join(messages) + _CLOSE


def batch_size(sizes_sum: int, count: int) -> int:
    """Exact length of `batch_body` for `count` messages whose lengths sum to `sizes_sum`."""
    return WRAPPER_OVERHEAD + sizes_sum + max(count - 1, 0)
