"""The benchmark's helper processes (each its own process so its CPU can be told apart).

    python -m bench.child consume --bootstrap B --topic T --group G --expect N [--consumer JSON | --defaults]
    python -m bench.child offer --bootstrap B --topic T --rate 5000 --seconds 20
    python -m bench.child profile -c CONFIG --out FILE.prof
    python -m bench.child emulator --store memory --port N

`consume` is the consume-only ceiling: `consume(num_messages=1000)`, nothing done with the records, with
the worker's consumer settings or (--defaults) librdkafka's. `offer` produces at a fixed rate.
`profile` runs the worker exactly as `aep-connector run` does, under cProfile in every thread,
until SIGTERM. Each prints one JSON line.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from confluent_kafka import Consumer, Producer

from bench.workload import json_event
from connector.config import KafkaSettings
from connector.kafka.settings import consumer_config


def consume(args: argparse.Namespace) -> dict[str, Any]:
    """Read `expect` records and drop them; --defaults: librdkafka's defaults, else consumer_config()."""
    if args.defaults:
        conf = {"bootstrap.servers": args.bootstrap, "group.id": args.group, "auto.offset.reset": "earliest",
                "enable.auto.commit": False, "log_level": 4}  # fmt: skip
    else:
        conf = consumer_config(KafkaSettings(args.bootstrap, args.group, (args.topic,), json.loads(args.consumer)))
    consumer = Consumer(conf, logger=None)
    started = time.time()
    assigned: list[float] = []
    consumer.subscribe([args.topic], on_assign=lambda _c, _p: assigned.append(time.time()))
    count = 0
    nbytes = 0
    first = 0.0
    deadline = time.monotonic() + args.timeout
    while count < args.expect and time.monotonic() < deadline:
        for msg in consumer.consume(num_messages=1000, timeout=0.2):
            if msg.error() is None:
                if not count:
                    first = time.time()
                count += 1
                nbytes += len(msg.value() or b"")
    done = time.time()
    consumer.close()
    return {"started": started, "assigned": assigned[0] if assigned else first, "first": first, "done": done,
            "count": count, "bytes": nbytes}  # fmt: skip


def offer(args: argparse.Namespace) -> dict[str, Any]:
    """Produce `rate` records/s for `seconds`, in 10 ms ticks; the record timestamp is the produce time."""
    producer = Producer(
        {"bootstrap.servers": args.bootstrap, "linger.ms": args.linger_ms, "compression.type": "lz4", "log_level": 4}
    )
    total = int(args.rate * args.seconds)
    tick = 0.01
    per_tick = args.rate * tick
    started = time.monotonic()
    sent = 0
    behind = 0.0
    base = 1_000_000_000  # _ids distinct from the throughput topics
    while sent < total:
        due = min(total, int((time.monotonic() - started) / tick * per_tick) + int(per_tick))
        while sent < due:
            try:
                producer.produce(args.topic, value=json_event(base + sent), key=str(sent).encode())
            except BufferError:
                producer.poll(0.01)
                continue
            sent += 1
        producer.poll(0)
        sleep = started + sent / args.rate - time.monotonic()
        if sleep > 0:
            time.sleep(sleep)
        else:
            behind = max(behind, -sleep)
    producer.flush(30)
    elapsed = time.monotonic() - started
    return {"sent": sent, "seconds": elapsed, "rate": sent / elapsed, "max_behind_s": behind}


def profile(args: argparse.Namespace) -> dict[str, Any]:
    """The worker as `run` builds it, profiled in the loop thread and every thread started after it."""
    from connector.app import build_worker, compile_plan
    from connector.config import load_settings
    from connector.observability.logging import configure_logging

    settings = load_settings(args.config)
    configure_logging(settings.observability.log_format, settings.observability.log_level)
    profiles: list[cProfile.Profile] = []
    lock = threading.Lock()

    def per_thread(*_: Any) -> None:
        prof = cProfile.Profile()
        with lock:
            profiles.append(prof)
        prof.enable()  # replaces this hook for the thread

    main_prof = cProfile.Profile()
    threading.setprofile(per_thread)
    worker = build_worker(compile_plan(settings))

    def stop(_signum: int, _frame: FrameType | None) -> None:
        worker.stop()

    signal.signal(signal.SIGTERM, stop)
    main_prof.enable()
    try:
        worker.run()
    finally:
        main_prof.disable()
        threading.setprofile(None)
    main_stats = pstats.Stats(main_prof)
    main_stats.dump_stats(args.out)
    threads = pstats.Stats(main_prof)
    with lock:
        for prof in profiles:
            try:
                threads.add(prof)
            except TypeError:  # a profile that recorded nothing
                continue
    threads.dump_stats(str(args.out) + ".all")
    return {"loop_profile": str(args.out), "all_threads_profile": str(args.out) + ".all", "threads": len(profiles)}


def emulator(argv: Sequence[str]) -> int:
    """`aep-connector emulator ARGS` with the cyclic GC off: a memory store of 100k records otherwise
    pauses the stand-in AEP for hundreds of ms per collection, which is no part of the connector's latency."""
    import gc

    from connector.cli import main as cli

    gc.disable()
    return cli(["emulator", *argv])


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["emulator"]:
        return emulator(args_list[1:])
    parser = argparse.ArgumentParser(prog="python -m bench.child")
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("consume")
    c.add_argument("--bootstrap", required=True)
    c.add_argument("--topic", required=True)
    c.add_argument("--group", required=True)
    c.add_argument("--expect", type=int, required=True)
    c.add_argument("--consumer", default="{}", help="librdkafka settings on top of the connector's, as JSON")
    c.add_argument("--defaults", action="store_true", help="librdkafka's defaults instead of the connector's")
    c.add_argument("--timeout", type=float, default=300.0)
    o = sub.add_parser("offer")
    o.add_argument("--bootstrap", required=True)
    o.add_argument("--topic", required=True)
    o.add_argument("--rate", type=float, default=5_000.0)
    o.add_argument("--seconds", type=float, default=20.0)
    o.add_argument("--linger-ms", type=int, default=5)
    p = sub.add_parser("profile")
    p.add_argument("-c", "--config", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    handlers = {"consume": consume, "offer": offer, "profile": profile}
    result = handlers[args.command](args)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
