"""Lanes: batching per route, with at most one delivery in flight per lane.

Each partition is pinned to one lane of its route for the life of the process, so a partition's
records reach the sink in offset order, across retries, revocations and re-assignments: a batch
still in flight when its partition was revoked keeps the lane busy until it comes back, and the
partition's records read after it is assigned again wait behind it. Lanes of all routes share
`max_in_flight` request slots. A batch on its way is a `Delivery`, run off the loop thread by a
`Dispatcher` (connector/dispatch.py).
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from dataclasses import dataclass, field

from connector.aep.wire import batch_size
from connector.config import BatchingSettings
from connector.interfaces import Dispatcher, Sink
from connector.records import Outcome, Route, SourceRecord, TopicPartition


@dataclass(slots=True)
class Item:
    """One mapped record waiting in a lane: its payload and the assignment generation it was read in."""

    record: SourceRecord
    gen: int
    mapping: str
    payload: bytes
    since: float


@dataclass(slots=True, eq=False)
class Lane:
    route: Route
    items: deque[Item] = field(default_factory=deque)
    nbytes: int = 0
    sending: Delivery | None = None


class Delivery:
    """One batch of one lane on its way through the sink, and what became of it.

    `run` is called once, on a dispatcher thread; it never raises: the outcomes or the error are
    kept for the loop thread to apply. Setting `cancel` asks the sink to give up (DeliveryAbandoned).
    """

    __slots__ = ("cancel", "error", "items", "lane", "outcomes", "partitions", "sink")

    def __init__(self, lane: Lane, items: list[Item], sink: Sink) -> None:
        self.lane = lane
        self.items = items
        self.sink = sink
        parts = {(i.record.topic, i.record.partition) for i in items}
        self.partitions = frozenset(TopicPartition(t, p) for t, p in parts)
        self.cancel = threading.Event()
        self.outcomes: list[Outcome] | None = None
        self.error: Exception | None = None

    def run(self) -> None:
        try:
            self.outcomes = self.sink.deliver(self.lane.route, [i.payload for i in self.items], self.cancel)
        except Exception as exc:  # handed to the loop thread, which decides what it means
            self.error = exc


class Lanes:
    """The lanes of every route, the partition -> lane pinning and the deliveries in flight."""

    def __init__(self, batching: BatchingSettings, sink: Sink, dispatcher: Dispatcher[Delivery]) -> None:
        self._b = batching
        self._sink = sink
        self._dispatcher = dispatcher
        self._lanes: dict[tuple[Route, int], Lane] = {}
        self._of: dict[TopicPartition, Lane] = {}
        self._counter: dict[Route, int] = {}
        self.in_flight = 0

    def lane(self, route: Route, tp: TopicPartition) -> Lane:
        """The lane `tp` is pinned to, pinning it round-robin over its route's lanes on first use."""
        lane = self._of.get(tp)
        if lane is not None:
            return lane
        n = self._counter.get(route, 0)
        self._counter[route] = n + 1
        key = (route, n % self._b.max_in_flight)
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = Lane(route)
        self._of[tp] = lane
        return lane

    def buffered(self) -> bool:
        return any(lane.items for lane in self._lanes.values())

    def sending(self, partitions: set[TopicPartition] | None = None) -> list[Delivery]:
        """Deliveries in flight (that carry any of `partitions`, when given)."""
        out: list[Delivery] = []
        for lane in self._lanes.values():
            d = lane.sending
            if d is not None and (partitions is None or not d.partitions.isdisjoint(partitions)):
                out.append(d)
        return out

    def drop(self, partitions: set[TopicPartition]) -> None:
        """Forget the unsent records of `partitions` (revoked: another member reads them again)."""
        for lane in self._lanes.values():
            if any(i.record.tp in partitions for i in lane.items):
                lane.items = deque(i for i in lane.items if i.record.tp not in partitions)
                lane.nbytes = sum(len(i.payload) + 1 for i in lane.items)

    def put_back(self, lane: Lane, items: list[Item]) -> None:
        """Return unfinished records to the head of their lane, ahead of what was read since."""
        lane.items.extendleft(reversed(items))
        lane.nbytes += sum(len(i.payload) + 1 for i in items)

    def flush(self, now: float, force: bool) -> None:
        """Send every lane that is full, lingered long enough (or any, when forced) and has a free slot."""
        b = self._b
        linger = b.linger_ms / 1000.0
        for lane in self._lanes.values():
            if self.in_flight >= b.max_in_flight:
                return
            if lane.sending is not None or not lane.items:
                continue
            if force or len(lane.items) >= b.max_records or lane.nbytes >= b.max_bytes or (
                now - lane.items[0].since >= linger
            ):
                self._send(lane)

    def _send(self, lane: Lane) -> None:
        b = self._b
        items = lane.items
        room = b.max_bytes - batch_size(0, 1) + 1  # a batch fits while its payload bytes + its count <= room
        batch: list[Item] = []
        taken = 0  # payload bytes + 1 per item, as lane.nbytes counts them
        for item in itertools.islice(items, b.max_records):
            n = len(item.payload) + 1
            if batch and taken + n > room:
                break
            batch.append(item)
            taken += n
        for _ in range(len(batch)):
            items.popleft()
        lane.nbytes -= taken
        delivery = lane.sending = Delivery(lane, batch, self._sink)
        self.in_flight += 1
        self._dispatcher.submit(delivery)

    def finished(self, wait_s: float = 0.0) -> list[Delivery]:
        """Deliveries that came back (waiting up to `wait_s` for the first); their lanes are free again."""
        done = self._dispatcher.finished(wait_s)
        for d in done:
            d.lane.sending = None
            self.in_flight -= 1
        return done
