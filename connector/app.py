"""Wiring: Settings -> the concrete pipeline. The one place that knows every adapter."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from connector.config import Settings
from connector.errors import ConfigError, FatalError
from connector.interfaces import Clock, DeadLetters, RecordSource, Sink
from connector.routing import Pipeline, Router
from connector.worker import Worker, WorkerOptions

if TYPE_CHECKING:
    from connector.xdm.service import SchemaService


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
    problems = problems + serde_problems
    if problems:
        raise ConfigError(problems)
    schemas, startup = load_schemas(settings, [mp.parsed for mp in compiled], clock=clock or SystemClock())
    if startup.problems:
        raise ConfigError(startup.problems)
    if startup.unavailable:
        raise FatalError("\n".join(startup.unavailable))
    router = Router([(mp.topics, Pipeline(deserializers[mp.name], schemas.wrap(mp))) for mp in compiled])
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
        sink=sink or build_sink(s),
        dead_letters=dead_letters or KafkaDeadLetters(s.kafka, s.dead_letter.topic),
        batching=s.batching,
        clock=clock or SystemClock(),
        options=options,
    )


def build_sink(settings: Settings) -> Sink:
    """The DCS sink; with auth enabled, fetches a token first so wrong credentials fail at start."""
    from connector.aep.dcs import DcsSink
    from connector.aep.ims import TokenProvider
    from connector.aep.transport import make_session

    aep = settings.aep
    session = make_session(aep.transport)  # one pool, proxy and CA setup for IMS and DCS alike
    tokens = None
    if aep.auth.enabled:
        tokens = TokenProvider(aep.auth, session)
        tokens.check()
    return DcsSink(aep, settings.delivery, session=session, tokens=tokens)


class Services:
    """Background services next to the worker (metrics and health HTTP, lag refresher)."""

    def __init__(self, closers: Sequence[Any] = ()) -> None:
        self._closers = list(closers)

    def close(self) -> None:
        for c in reversed(self._closers):
            c()


def start_services(plan: Plan, worker: Worker) -> Services:
    closers: list[Any] = []
    if plan.schemas is not None:
        plan.schemas.start()
        closers.append(plan.schemas.close)
    port = plan.settings.observability.metrics_port
    if port is not None:
        from connector.observability.server import start_observability

        closers.append(start_observability(plan.settings, worker))
    return Services(closers)
