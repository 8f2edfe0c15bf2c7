"""A model-based test of the delivery guarantee: Hypothesis interleaves everything that can happen
to a worker and checks the guarantee after every step.

The real Worker, DcsSink, RegistryClient and AvroDeserializer run against the world in world.py:
partition logs handed out in multi-run polls, scripted DCS answers (200, 207 in both shapes with 4xx
and 5xx entries, request-level 400, 401, 403, 413, 429, 503, timeouts before and after AEP stored
the request), registry outages (503/429 with any Retry-After, timeouts, refusals), IMS outages,
dead-letter writes that are acknowledged, stall or fail fatally, incremental assignments,
revocations and losses, time passing, and stop. Deliveries run only when the model says so, so
every run is deterministic and replayable.

Invariants (the README's guarantee):
  - a partition never has two deliveries outstanding (a cancelled one may still be on the wire);
  - the committed offset of a partition never moves backwards and never passes a record that is
    neither in AEP nor acknowledged by the dead-letter topic (checked at every commit);
  - no commit inside on_lost, none for a partition not assigned, none after close; after a
    revocation no delivery of the revoked partitions runs uncancelled;
  - within one assignment of a partition, a record is dead-lettered at most once, never after AEP
    accepted it, and only for a reason its content explains (a valid record is never dead-lettered
    for a configuration problem); `retries-exhausted` only when the user opted in;
  - per partition, the last accepted write of each record happens in offset order: among the
    writes of one assignment at every step, and for the whole final state after draining (a replay
    from the committed offset after a re-assignment may briefly regress until it catches up);
    with `on_retries_exhausted: dead_letter`, partitions where the retry budget ran out are exempt;
  - stop, and the shutdown after a fatal error, return within shutdown_timeout_s + the dead-letter
    flush bound, cancel every delivery, close the consumer;
  - after draining (faults healed, deliveries answered), every record of every assigned partition
    is final and committed.

`make test` runs 300 examples (about 7,000 steps, ~20 s). A long run:
    AEP_MODEL_STEPS=100000 .venv/bin/python -m pytest tests/model -s
prints the figures (examples, steps, loop iterations, fatal stops, drains) at the end. A failure
prints the shrunk sequence of rules and a @reproduce_failure blob that replays it exactly.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

import pytest
import structlog
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from connector.errors import FatalError
from connector.worker import Worker, WorkerOptions
from tests.model.world import KINDS, PARTS, RECORD_REASONS, World

STEPS_PER_EXAMPLE = 40
TARGET_STEPS = int(os.environ.get("AEP_MODEL_STEPS", "0"))
EXAMPLES = max(1, TARGET_STEPS // 25) if TARGET_STEPS else 300  # examples average ~25 steps
pytestmark = pytest.mark.timeout(0 if TARGET_STEPS else 600)
SHUTDOWN_TIMEOUT_S = 2.0
DEAD_LETTER_FLUSH_S = 10.0
STOP_BOUND_S = SHUTDOWN_TIMEOUT_S + DEAD_LETTER_FLUSH_S + 0.5
CURRENT: list[World] = []
COUNTS = {"examples": 0, "steps": 0, "loop_steps": 0, "fatal": 0, "stopped": 0, "drained": 0}

RETRY_AFTER = st.sampled_from([None, "1", "0", "-5", "inf", "nan", "1e12", "date-far", "date-past"])
ANSWER = st.one_of(
    st.just(("ok",)),
    st.tuples(st.just("mixed"), st.sampled_from(["statusCode", "status"]), st.lists(st.booleans(), min_size=1,
                                                                                      max_size=4).map(tuple)),
    st.tuples(st.sampled_from(["429", "503"]), RETRY_AFTER),
    st.sampled_from([("401",), ("413",), ("timeout-lost",), ("timeout-stored",)]),
)
REGISTRY = st.one_of(
    st.just(("ok",)),
    st.tuples(st.sampled_from(["down", "throttled"]), RETRY_AFTER),
    st.sampled_from([("timeout",), ("refused",)]),
)
# runs of (n-th partition with records to hand out, count): one poll, several runs of a partition possible
PLAN = st.lists(st.tuples(st.integers(0, len(PARTS) - 1), st.integers(1, 5)), min_size=1, max_size=4)
SOME_PARTS = st.sets(st.sampled_from(PARTS), min_size=1)


def counted(rule_fn: Callable[..., None]) -> Callable[..., None]:
    """Count each rule the model runs (the 'steps' figure)."""

    @functools.wraps(rule_fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        COUNTS["steps"] += 1
        rule_fn(*args, **kwargs)

    return wrapper


class WorkerModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.world: World | None = None
        self.worker: Worker | None = None
        self.stopped = False
        self.schema_id = 1
        COUNTS["examples"] += 1

    @property
    def w(self) -> World:
        assert self.world is not None
        return self.world

    @property
    def wk(self) -> Worker:
        assert self.worker is not None
        return self.worker

    @initialize(
        single=st.booleans(), dead_letter_on_exhaustion=st.booleans(), linger_ms=st.sampled_from([0, 50]),
        backlog=st.lists(st.lists(st.sampled_from(KINDS), max_size=6), min_size=len(PARTS), max_size=len(PARTS)),
    )
    def start(self, single: bool, dead_letter_on_exhaustion: bool, linger_ms: int, backlog: list[list[str]]) -> None:
        """A worker joins a group whose partitions already hold `backlog`."""
        w = self.world = World(single=single, dead_letter_on_exhaustion=dead_letter_on_exhaustion, linger_ms=linger_ms)
        CURRENT[:] = [w]
        self.worker = Worker(
            source=w.source, router=w.router, sink=w.sink, dead_letters=w.dead_letters, batching=w.batching,
            clock=w.clock, options=WorkerOptions(revoke_grace_s=1.0, shutdown_timeout_s=SHUTDOWN_TIMEOUT_S),
            dispatcher=w.dispatcher,
        )
        w.source.subscribe(self.worker)
        for tp, kinds in zip(PARTS, backlog, strict=True):
            for kind in kinds:
                w.source.produce(tp, kind, self.schema_id)
        w.source.assign(PARTS)

    # ------------------------------------------------------------------ helpers

    def _guard(self) -> None:
        self.w.dispatcher.hang_after = self.w.clock.monotonic() + 600.0

    def _step(self) -> None:
        COUNTS["loop_steps"] += 1
        self._guard()
        try:
            self.wk.step()
        except FatalError:
            COUNTS["fatal"] += 1
            self._shutdown()

    def _shutdown(self) -> None:
        w = self.w
        started = w.clock.monotonic()
        self._guard()
        self.wk.shutdown()
        took = w.clock.monotonic() - started
        self.stopped = True
        assert took <= STOP_BOUND_S, f"shutdown took {took:.2f}s, bound {STOP_BOUND_S}s"
        assert w.source.closed, "shutdown did not close the consumer"
        assert w.dispatcher.closed, "shutdown did not close the dispatcher"
        assert all(job.cancel.is_set() for job in w.dispatcher.pending), "a delivery was left running"
        assert w.dead_letters.flushes, "shutdown did not flush the dead-letter producer"

    # ------------------------------------------------------------------ rules

    @precondition(lambda self: not self.stopped)
    @rule(p=st.integers(0, len(PARTS) - 1), kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=6),
          new_schema=st.booleans())
    @counted
    def produce(self, p: int, kinds: list[str], new_schema: bool) -> None:
        if new_schema:
            self.schema_id += 1
        for kind in kinds:
            self.w.source.produce(PARTS[p], kind, self.schema_id)

    @precondition(lambda self: not self.stopped)
    @rule(plan=PLAN, dt=st.sampled_from([0.0, 0.06]))
    @counted
    def poll(self, plan: list[tuple[int, int]], dt: float) -> None:
        """One loop iteration whose poll hands out `plan` (runs of (partition, count)), `dt` seconds later."""
        self.w.clock.sleep(dt)
        self.w.source.plan = plan
        self._step()

    @precondition(lambda self: not self.stopped)
    @rule(dt=st.sampled_from([0.006, 0.06, 0.3, 2.5, 40.0]))
    @counted
    def time_passes(self, dt: float) -> None:
        self.w.clock.sleep(dt)
        self._step()

    @precondition(lambda self: not self.stopped and bool(self.w.dispatcher.pending))
    @rule(index=st.integers(0, 3), answers=st.lists(ANSWER, max_size=4), on_wire=st.booleans())
    @counted
    def delivery_returns(self, index: int, answers: list[tuple[Any, ...]], on_wire: bool) -> None:
        """One delivery runs: DCS answers its requests with `answers`, then 'ok'."""
        w = self.w
        w.aep.script.extend(answers)
        w.dispatcher.run(index % len(w.dispatcher.pending), on_wire=on_wire)
        w.aep.script.clear()
        self._step()

    @precondition(lambda self: not self.stopped)
    @rule(count=st.integers(1, 4))
    @counted
    def dead_letters_acknowledged(self, count: int) -> None:
        self.w.dead_letters.deliver(count)

    @precondition(lambda self: not self.stopped)
    @rule(registry=st.none() | REGISTRY, ims=st.none() | RETRY_AFTER, token_expires=st.booleans(),
          dead_letter_down=st.none() | st.booleans())
    @counted
    def weather(
        self, registry: tuple[Any, ...] | None, ims: str | None, token_expires: bool, dead_letter_down: bool | None
    ) -> None:
        """The outside world changes: schema registry, IMS (outage, token expiry), dead-letter broker."""
        w = self.w
        if registry is not None:
            w.registry.mode = registry
        if ims is not None:
            w.aep.ims_script.append(("503", ims))
        if token_expires:
            w.aep.script.appendleft(("401",))
        if dead_letter_down is not None and w.dead_letters.state != "fatal":
            w.dead_letters.state = "down" if dead_letter_down else "ok"

    @precondition(lambda self: not self.stopped)
    @rule(which=st.sampled_from(["dcs-403", "dead-letter-fatal", "dcs-misconfigured"]), roll=st.integers(0, 5))
    @counted
    def something_fatal(self, which: str, roll: int) -> None:
        """Rare on purpose (roll): each ends the worker's life."""
        if roll:
            return
        if which == "dcs-403":
            self.w.aep.forbidden = True
        elif which == "dead-letter-fatal":
            self.w.dead_letters.state = "fatal"
        else:
            self.w.aep.misconfigured = True

    @precondition(lambda self: not self.stopped and len(self.w.source.position) < len(PARTS))
    @rule(parts=SOME_PARTS)
    @counted
    def assign(self, parts: set[Any]) -> None:
        new = [tp for tp in PARTS if tp in parts and tp not in self.w.source.position]
        if new:
            self.w.source.assign(new)

    @precondition(lambda self: not self.stopped and bool(self.w.source.position))
    @rule(parts=SOME_PARTS, policy=st.sampled_from(["idle", "drain"]), on_wire=st.booleans(), lost=st.booleans(),
          back=st.booleans())
    @counted
    def revoke(self, parts: set[Any], policy: str, on_wire: bool, lost: bool, back: bool) -> None:
        """Revoke (or lose) some partitions; `back`: an eager rebalance gives them straight back to this worker."""
        w = self.w
        owned = [tp for tp in PARTS if tp in parts and tp in w.source.position]
        if not owned:
            return
        w.dispatcher.policy, w.dispatcher.on_wire = policy, on_wire
        self._guard()
        try:
            if lost:
                w.source.lose(owned)
            else:
                w.source.revoke(owned)
        except FatalError:
            COUNTS["fatal"] += 1
            self._shutdown()
            return
        finally:
            w.dispatcher.policy = "idle"
        for tp in owned:
            assert not any(tp in job.partitions and not job.cancel.is_set() for job in w.dispatcher.pending), (
                f"{tp} was revoked but a delivery carrying it still runs uncancelled"
            )
        if back:
            w.source.assign(owned)

    @precondition(lambda self: not self.stopped)
    @rule(policy=st.sampled_from(["idle", "drain"]), on_wire=st.booleans(), roll=st.integers(0, 5))
    @counted
    def stop(self, policy: str, on_wire: bool, roll: int) -> None:
        """Rare on purpose (roll): it ends the example."""
        if not roll:
            self._stop(policy, on_wire)

    def _stop(self, policy: str, on_wire: bool) -> None:
        COUNTS["stopped"] += 1
        self.w.dispatcher.policy, self.w.dispatcher.on_wire = policy, on_wire
        self.wk.stop()
        try:
            self._shutdown()
        except FatalError:
            COUNTS["fatal"] += 1

    @precondition(lambda self: self.stopped)
    @rule()
    @counted
    def nothing_more(self) -> None:
        """The worker has stopped: nothing is left to do (Hypothesis needs one rule that can run)."""

    # ------------------------------------------------------------------ invariants

    @invariant()
    def dead_letters_are_explained_and_final_once(self) -> None:
        if self.world is None:
            return
        truth = self.w.truth
        for (tp, offset, period), reasons in truth.dead_sent.items():
            assert len(reasons) == 1, f"{tp}@{offset} dead-lettered {len(reasons)} times in one assignment: {reasons}"
            kind, reason = truth.kinds[(tp, offset)], reasons[0]
            if reason == "retries-exhausted":
                assert self.w.exhaustion == "dead_letter", f"{tp}@{offset} dead-lettered as retries-exhausted"
                continue
            assert reason in RECORD_REASONS[kind], f"a {kind!r} record {tp}@{offset} was dead-lettered as {reason!r}"
            assert (tp, offset, period) not in truth.accepted_in, f"{tp}@{offset} both delivered and dead-lettered"

    @invariant()
    def writes_of_one_assignment_follow_offset_order(self) -> None:
        """Within one assignment of a partition, AEP's last writes are in offset order (at every step).

        Across assignments a replay starts again from the committed offset, so until it catches up
        AEP may briefly hold an older record of the replayed range: that is checked after draining.
        """
        if self.world is None:
            return
        truth = self.w.truth
        for tp, log in truth.aep_log.items():
            if tp in truth.exhausted:
                continue
            for period in {p for _, p in log}:
                _assert_last_writes_in_order(tp, [o for o, p in log if p == period], f"assignment {period}")

    def _final_state_follows_offset_order(self) -> None:
        """After draining, AEP's last writes of each partition still assigned are in offset order."""
        truth = self.w.truth
        for tp in self.w.source.position:
            if tp not in truth.exhausted:
                _assert_last_writes_in_order(tp, [o for o, _ in truth.aep_log[tp]], "the final state")

    # ------------------------------------------------------------------ the end

    def teardown(self) -> None:
        if self.world is None or self.stopped:
            return
        if self._drain():
            COUNTS["drained"] += 1
            self._final_state_follows_offset_order()
            self._stop("idle", False)

    def _drain(self) -> bool:
        """Heal every fault and run the loop until every record of every assigned partition is committed."""
        w = self.w
        w.aep.script.clear()
        w.aep.ims_script.clear()
        w.registry.mode = ("ok",)
        if w.dead_letters.state == "down":
            w.dead_letters.state = "ok"
        for _ in range(400):
            if all(w.source.committed.get(tp, 0) == len(w.source.logs[tp]) for tp in w.source.position):
                return True
            w.source.plan = [(PARTS.index(tp), 10) for tp in w.source.position]
            while w.dispatcher.pending and not self.stopped:
                w.dispatcher.run(0)
            w.dead_letters.deliver(len(w.dead_letters.pending))
            w.clock.sleep(2.0)
            self._step()
            if self.stopped:
                return False
        stuck = {tp: (w.source.committed.get(tp, 0), len(w.source.logs[tp])) for tp in w.source.position}
        raise AssertionError(f"the worker did not drain: (committed, log end) per partition {stuck}")


WorkerModel.TestCase.settings = settings(
    max_examples=EXAMPLES,
    stateful_step_count=STEPS_PER_EXAMPLE,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    print_blob=True,
)
TestWorkerModel = WorkerModel.TestCase


def _watch_exhaustion(_: Any, __: str, event: MutableMapping[str, Any]) -> Any:
    """Note which partitions ran out of retry budget in dead_letter mode (the order guarantee's exception)."""
    world = CURRENT[0] if CURRENT else None
    running = world.running if world is not None else None
    if event.get("event") == "retries_exhausted" and event.get("action") == "dead_letter" and running is not None:
        assert world is not None
        world.truth.exhausted.update(running.partitions)
    raise structlog.DropEvent


def _assert_last_writes_in_order(tp: Any, offsets: list[int], what: str) -> None:
    last = {offset: i for i, offset in enumerate(offsets)}
    order = sorted(last, key=last.__getitem__)
    assert order == sorted(order), f"{tp}: in {what}, AEP's last writes are in order {order}, not offset order"


@pytest.fixture(autouse=True, scope="module")
def quiet_logs() -> Iterator[None]:
    """The model logs thousands of retries: warnings are read for exhaustion events, then dropped."""
    structlog.configure(processors=[_watch_exhaustion], wrapper_class=structlog.make_filtering_bound_logger(30))
    yield
    structlog.reset_defaults()
    print(f"\nworker model: {COUNTS}")
