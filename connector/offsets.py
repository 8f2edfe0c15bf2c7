"""Per-partition tracking of which consumed records are final, and the contiguous commit watermark.

A record is *final* when DCS accepted it or the dead-letter topic acknowledged it. Only the
contiguous prefix of final records of a partition may be committed: the committed offset is the
`next_offset` of the last record of that prefix. Offsets need not be dense (compaction,
transaction markers), so the tracker keeps the offsets it actually saw.
"""

from __future__ import annotations

import itertools
import operator
from collections import deque
from collections.abc import Collection
from dataclasses import dataclass, field

from connector.records import TopicPartition


@dataclass(slots=True)
class _PartitionState:
    pending: deque[int] = field(default_factory=deque)  # offsets in consumption order
    done: set[int] = field(default_factory=set)  # final, but not yet at the head of `pending`
    committable: int | None = None  # next offset to commit, or None if nothing new
    committed: int | None = None  # last offset handed to commit()


class OffsetTracker:
    """Owned by the worker's loop thread; not thread-safe by design."""

    def __init__(self) -> None:
        self._parts: dict[TopicPartition, _PartitionState] = {}

    def track(self, tp: TopicPartition, offset: int) -> None:
        """Record that `offset` was consumed and is not final yet."""
        state = self._parts.get(tp)
        if state is None:
            state = self._parts[tp] = _PartitionState()
        if state.pending and offset <= state.pending[-1]:
            raise ValueError(f"offset {offset} of {tp} consumed out of order after {state.pending[-1]}")
        state.pending.append(offset)

    def track_run(self, tp: TopicPartition, offsets: list[int]) -> None:
        """`track` each of `offsets` (a partition run, in consumption order), in one call."""
        if not offsets:
            return
        state = self._parts.get(tp)
        if state is None:
            state = self._parts[tp] = _PartitionState()
        before = state.pending[-1] if state.pending else -1
        if offsets[0] <= before or not all(map(operator.lt, offsets, itertools.islice(offsets, 1, None))):
            for offset in offsets:  # the same check and message as one at a time
                self.track(tp, offset)
            return
        state.pending.extend(offsets)

    def untrack_from(self, tp: TopicPartition, offset: int) -> None:
        """Forget the tracked records of `tp` from `offset` on: they were never handed on and are read again."""
        state = self._parts.get(tp)
        if state is None:
            return
        pending = state.pending
        while pending and pending[-1] >= offset:
            state.done.discard(pending.pop())

    def complete(self, tp: TopicPartition, offset: int) -> None:
        """Mark a tracked record final; advances the watermark if it closes a gap."""
        state = self._parts.get(tp)
        if state is None:
            return  # partition was revoked meanwhile; its records belong to another worker now
        if state.pending and state.pending[0] == offset:
            state.pending.popleft()
            last = offset
            while state.pending and state.pending[0] in state.done:
                last = state.pending.popleft()
                state.done.discard(last)
            state.committable = last + 1
        elif state.pending and state.pending[0] < offset <= state.pending[-1]:
            state.done.add(offset)

    def complete_run(self, tp: TopicPartition, offsets: list[int]) -> None:
        """`complete` each of `offsets` (in consumption order); one call for a whole accepted batch."""
        state = self._parts.get(tp)
        if state is None or not offsets:
            return
        pending, n = state.pending, len(offsets)
        # The usual case: the batch is exactly the head of `pending` (strictly increasing offsets,
        # each tracked once, so matching first and last at the same length means equal sequences).
        if len(pending) >= n and pending[0] == offsets[0] and pending[n - 1] == offsets[-1]:
            for _ in range(n):
                pending.popleft()
            last = offsets[-1]
            if state.done:
                state.done.difference_update(offsets)
                while pending and pending[0] in state.done:
                    last = pending.popleft()
                    state.done.discard(last)
            state.committable = last + 1
            return
        for offset in offsets:
            self.complete(tp, offset)

    def take_commits(
        self, everything: bool = False, only: Collection[TopicPartition] | None = None
    ) -> dict[TopicPartition, int]:
        """Offsets to commit now: partitions whose watermark moved since the last call, or all of them.

        `everything` re-sends watermarks already handed out: a commit can fail (broker down,
        rebalance) without the tracker knowing, and a watermark that no longer moves would
        otherwise never be committed. `only` limits the answer to those partitions (a revocation).
        """
        out: dict[TopicPartition, int] = {}
        parts = self._parts if only is None else {tp: self._parts[tp] for tp in only if tp in self._parts}
        for tp, state in parts.items():
            if state.committable is not None and (everything or state.committable != state.committed):
                out[tp] = state.committable
                state.committed = state.committable
        return out

    def unfinished(self, tp: TopicPartition | None = None) -> int:
        """Records consumed and not yet final (for one partition or all)."""
        if tp is not None:
            state = self._parts.get(tp)
            return len(state.pending) if state else 0
        return sum(len(s.pending) for s in self._parts.values())

    def forget(self, tp: TopicPartition) -> None:
        """Drop a revoked partition; late completions for it are ignored."""
        self._parts.pop(tp, None)

    def partitions(self) -> list[TopicPartition]:
        return list(self._parts)
