"""Wiring: Settings -> the concrete pipeline. The one place that knows every adapter."""

from __future__ import annotations

import gc
import threading
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from connector.config import Settings
from connector.errors import ConfigError, FatalError
from connector.interfaces import Clock, DeadLetters, RecordSource, Sink
from connector.records import DCS, EDGE, Outcome, Route
from connector.routing import Pipeline, Router, routing_problems
from connector.worker import Worker, WorkerOptions

if TYPE_CHECKING:
    from connector.xdm.service import SchemaService

# Young-generation threshold of the cyclic GC while the worker runs (CPython's default: 700).
GC_GEN0_THRESHOLD = 20_000


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything compiled from the config before any connection is made."""

    settings: Settings
    router: Router
    mappings: Sequence[Any]
    schemas: SchemaService | None = None


def compile_plan(settings: Settings, *, clock: Clock | None = None) -> Plan:
    """Compile mappings, build decoders, load XDM schemas; raise ConfigError listing every problem.

    Mappings with `schema:` have their schema loaded here (from AEP, the disk cache or a file) and
    their mapper wrapped in XDM validation; FatalError when a strict mapping's schema cannot be had.
    """
    from connector.clock import SystemClock
    from connector.mapping import compile_mappings
    from connector.serde.factory import build_deserializers
    from connector.xdm.service import load_schemas

    compiled, problems = compile_mappings(settings.mappings, settings.aep)
    deserializers, serde_problems = build_deserializers(compiled, settings)
    problems = problems + serde_problems + routing_problems(settings, compiled)
    if problems:
        raise ConfigError(problems)
    schemas, startup = load_schemas(settings, [mp.parsed for mp in compiled], clock=clock or SystemClock())
    if startup.problems:
        raise ConfigError(startup.problems)
    if startup.unavailable:
        raise FatalError("\n".join(startup.unavailable))
    pipelines = [(mp.topics, Pipeline(deserializers[mp.name], schemas.wrap(mp))) for mp in compiled]
    router = Router(pipelines, dead_letter_topic=settings.dead_letter.topic)
    return Plan(settings, router, compiled, schemas)


def build_worker(
    plan: Plan,
    *,
    source: RecordSource | None = None,
    sink: Sink | None = None,
    dead_letters: DeadLetters | None = None,
    clock: Clock | None = None,
    options: WorkerOptions | None = None,
) -> Worker:
    from connector.clock import SystemClock
    from connector.kafka.dead_letter import KafkaDeadLetters
    from connector.kafka.source import KafkaSource

    s = plan.settings
    if dead_letters is None:
        from connector.kafka.admin import ensure_dead_letter_topic

        ensure_dead_letter_topic(s.kafka, s.dead_letter)
    return Worker(
        source=source or KafkaSource(s.kafka),
        router=plan.router,
        sink=sink or build_sink(s, {mp.route.destination for mp in plan.mappings}),
        dead_letters=dead_letters or KafkaDeadLetters(s.kafka, s.dead_letter.topic),
        batching=s.batching,
        clock=clock or SystemClock(),
        options=options,
    )


class DestinationSink:
    """Implements Sink by handing each route's batch to the sink of its destination (DCS or Edge)."""

    def __init__(self, sinks: Mapping[str, Sink]) -> None:
        self._sinks = dict(sinks)

    def deliver(self, route: Route, messages: Sequence[bytes], cancel: threading.Event) -> list[Outcome]:
        sink = self._sinks.get(route.destination)
        if sink is None:
            raise FatalError(f"no sink for destination {route.destination!r} (route {route.inlet_url})")
        return sink.deliver(route, messages, cancel)


def build_sink(settings: Settings, destinations: Collection[str] = (DCS,)) -> Sink:
    """The sink of each destination in use (DCS, Edge or both behind a DestinationSink).

    With auth enabled, fetches a token first so wrong credentials fail at start.
    """
    from connector.aep.dcs import DcsSink
    from connector.aep.edge import EdgeSink
    from connector.aep.ims import TokenProvider
    from connector.aep.transport import make_session

    aep = settings.aep
    session = make_session(aep.transport)  # one pool, proxy and CA setup for IMS, DCS and Edge alike
    tokens = None
    if aep.auth.enabled:
        tokens = TokenProvider(aep.auth, session)
        tokens.check()
    sinks: dict[str, Sink] = {}
    if DCS in destinations:
        sinks[DCS] = DcsSink(aep, settings.delivery, session=session, tokens=tokens)
    if EDGE in destinations:
        sinks[EDGE] = EdgeSink(aep, settings.delivery, session=session, tokens=tokens)
    if set(sinks) == {DCS}:
        return sinks[DCS]
    return DestinationSink(sinks)


class Services:
    """Background services next to the worker (metrics and health HTTP, lag refresher)."""

    def __init__(self, closers: Sequence[Any] = ()) -> None:
        self._closers = list(closers)

    def close(self) -> None:
        for c in reversed(self._closers):
            c()


def start_services(plan: Plan, worker: Worker) -> Services:
    """Metrics and health HTTP (with the lag refresher) when metrics_port is set; the progress line unless off;
    the XDM schema refresher when mappings validate against live schemas."""
    from connector.observability.progress import start_progress

    obs = plan.settings.observability
    closers: list[Any] = []
    if plan.schemas is not None:
        plan.schemas.start()
        closers.append(plan.schemas.close)
    monitor = None
    if obs.metrics_port is not None:
        from connector.observability.server import start_observability

        server = start_observability(plan.settings, worker)
        closers.append(server)
        monitor = server.lag
    if obs.progress_interval_s > 0:
        closers.append(start_progress(plan.settings, worker, monitor))
    return Services(closers)


def settle_heap() -> None:
    """Just before the loop starts: the start-up objects out of the cyclic GC's way, young collections rarer.

    Per record the worker allocates ~25 containers that die with it and keeps 2-3 (the record, its
    buffered item) until DCS accepts the batch, when they go in bulk. CPython counts net allocations
    and clamps at zero, so with its default threshold of 700 a young collection ran every ~250
    records, and every tenth of those also walked the older generation, the in-flight items included.
    Measured in the end-to-end bench (gc.callbacks, thread CPU): 0.39-0.61 s of collector time per
    200,000 records, 2-3 us/record on the loop thread, against 0.035-0.05 s with this threshold. Nothing
    on the record path builds reference cycles, so little waits for the collector; the ~40,000
    objects of imported modules and compiled mappings are frozen (never walked again).
    """
    gc.collect()
    gc.freeze()
    gen1, gen2 = gc.get_threshold()[1:]
    gc.set_threshold(GC_GEN0_THRESHOLD, gen1, gen2)
