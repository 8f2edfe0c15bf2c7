"""`make bench`: the connector against its limits on this machine, written to docs/benchmarks.md.

    python -m bench                    # full run (~15 min): 200k records, 1M backlog
    python -m bench --quick            # ~3 min: smaller runs, no backlog
    python -m bench --records N --backlog N --no-write

Starts a real Kafka broker and the emulator (count mode) in their own processes, runs the worker
as `aep-connector run` in a subprocess and prints, each next to its target: the connector against a
hand-written confluent-kafka loop and quix-streams in interleaved rounds on the same topic and sink,
`run --processes 2`, the consume-only ceilings (librdkafka defaults and the connector's settings),
latency, memory, CPU per process, the per-stage benchmarks and a profile of the worker.
It never asserts: it exits 0 when it ran to completion (targets met or not), 2 when it could not run.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench import comparison, findings, report
from bench.e2e import BenchError
from bench.procstat import load_average, machine
from bench.suite import Options, Results, Suite, services
from bench.tables import table
from connector.observability.logging import configure_logging
from tests.harness.kafka_broker import HarnessError

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=None, help="records per throughput run (default 200000)")
    parser.add_argument("--backlog", type=int, default=None,
                        help="records in the RSS backlog run (default 1000000; 0 skips)")
    parser.add_argument("--quick", action="store_true", help="a ~3 minute variant: 50k records, no backlog run")
    parser.add_argument("--latency-rate", type=float, default=5_000.0, help="offered records/s (default 5000)")
    parser.add_argument("--latency-seconds", type=float, default=None, help="offered-load duration (default 20)")
    parser.add_argument("--skip", action="append", default=[],
                        choices=["avro", "latency", "backlog", "profile", "stages"],
                        help="leave a phase out (repeatable)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="rounds of the connector-vs-peers comparison (default 3; --quick 1)")
    parser.add_argument("--quix-python", default=None,
                        help="python of a virtualenv with quix-streams (make bench builds .venv-quix)")
    parser.add_argument("--output", type=Path, default=DOC,
                        help="where to write the report (default docs/benchmarks.md)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--workdir", type=Path, default=None, help="keep configs, logs and profiles here")
    return parser.parse_args(argv)


def options(args: argparse.Namespace, workdir: Path) -> Options:
    quick = args.quick
    records = args.records or (50_000 if quick else 200_000)
    return Options(
        records=records,
        backlog=args.backlog if args.backlog is not None else (0 if quick else 1_000_000),
        latency_rate=args.latency_rate,
        latency_seconds=args.latency_seconds or (10.0 if quick else 20.0),
        profile_records=min(records, 100_000),
        stage_seconds=1.0 if quick else 3.0,
        delivery_records=5_000 if quick else 20_000,
        delivery_in_flight=[1, 4] if quick else [1, 2, 4, 8],
        delivery_batches=[100, 500] if quick else [100, 250, 500, 1000],
        workdir=workdir,
        rounds=args.rounds or (1 if quick else 3),
        quix_python=args.quix_python,
    )


def run(o: Options, skip: set[str]) -> Results:
    with services(o.workdir) as (broker, emulator):
        suite = Suite(o, broker, emulator)
        suite.run_json()
        steps = [("avro", suite.run_avro), ("latency", suite.run_latency),
                 ("backlog", suite.run_backlog), ("profile", suite.run_profile), ("stages", suite.run_stages)]
        for name, step in steps:
            if name not in skip:
                step()
        return suite.results


def sections(r: Results) -> list[tuple[str, str]]:
    """(title, body) of every section, for the console and the markdown file alike."""
    out = [
        ("Targets", report.verdict_table(r)),
        ("The connector and its peers, same run", comparison.contenders_table(r) + "\n\n"
         + comparison.scaling_line(r)),
        ("Consume-only ceilings", comparison.ceiling_table(r)),
        ("Throughput (records/s)", report.throughput_table(r)),
        ("CPU per process during each run", report.cpu_table(r)),
        (f"Latency, Kafka append -> DCS receipt, at {r.options.latency_rate:,.0f} records/s offered",
         report.latency_table(r)),
        ("Per-stage benchmarks (one core, in-process)", "\n\n".join(report.stage_tables(r))),
    ]
    if r.profile:
        out.append(("Where the time goes", report.where_the_time_goes(r)))
    return out


def other_work(r: Results) -> float:
    """The largest share of the machine's cores that processes outside the bench used during a connector run.

    The load average cannot tell: the bench's own broker, emulator and workers raise it. Each
    connector run knows the CPU of those three and how busy the whole machine was meanwhile.
    """
    cores = os.cpu_count() or 1
    shares = [
        run.machine_busy - sum(run.cpu_s.values()) / (run.seconds * cores)
        for run in (r.json_run, r.avro_run, r.backlog_run)
        if run is not None and run.seconds > 0
    ]
    return max(shares, default=0.0)


def busy_warning(load_before: float, other_share: float) -> str | None:
    """A warning for runs that shared the machine (rates then say little; ratios and CPU/record hold better)."""
    cores = os.cpu_count() or 1
    if load_before < 0.5 * cores and other_share < 0.15:
        return None
    return (f"**This run shared the machine with other work** (1-minute load average {load_before:.1f} on "
            f"{cores} cores before it; other processes took up to {other_share:.0%} of the cores during a "
            "connector run): records/s are not representative. Per-round ratios and CPU per record hold better; "
            "take the figures again on a quiet machine.")  # fmt: skip


def markdown(r: Results, command: str, started: datetime, wall_s: float, warning: str | None) -> str:
    o = r.options
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m bench`); every figure below comes from the run "
        "described here. The benchmark never asserts: it prints each figure next to its target.",
        "",
        *([warning, ""] if warning else []),
        "## The run",
        "",
        table(["", ""], [[k, v] for k, v in machine().items()] + [
            ["command", f"`{command}`"],
            ["date", started.strftime("%Y-%m-%d %H:%M UTC")],
            ["bench wall time", f"{wall_s / 60:.1f} min"],
            ["records per run", f"{o.records:,} JSON loyalty events of ~1,000 bytes, {4} partitions"],
            ["worker settings", report.settings_text()],
        ]),
        "",
        findings.METHOD,
        "",
    ]
    for title, body in sections(r):
        lines += [f"## {title}", "", body, ""]
    if r.notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in r.notes] + [""]
    lines += [findings.FINDINGS, ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    configure_logging("console", "warning")
    command = "python -m bench " + shlex.join(list(argv if argv is not None else sys.argv[1:]))
    started = datetime.now(UTC)
    load_before = load_average()
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="connector-bench-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        o = options(args, workdir)
        try:
            results = run(o, set(args.skip))
        except (BenchError, HarnessError, OSError) as exc:
            print(f"bench could not run: {type(exc).__name__}: {exc}", file=sys.stderr)
            print(f"logs: {workdir}" if args.workdir else "(pass --workdir DIR to keep the logs)", file=sys.stderr)
            return 2
    wall = time.monotonic() - t0
    before = float(load_before.split()[0]) if load_before[:1].isdigit() else 0.0
    others = other_work(results)
    warning = busy_warning(before, others)
    results.notes.append(
        f"load average (1, 5, 15 min) before the run: {load_before}; after: {load_average()} "
        f"(the bench's own broker, emulator and workers raise it); other processes took at most "
        f"{others:.0%} of the cores during a connector run"
    )
    print()
    for key, value in machine().items():
        print(f"{key}: {value}")
    print(f"worker settings: {report.settings_text()}\n")
    for title, body in sections(results):
        print(f"== {title}\n\n{body}\n")
    for note in results.notes:
        print(f"note: {note}")
    if warning:
        print(warning.replace("**", ""))
    print(f"bench wall time: {wall / 60:.1f} min")
    if not args.no_write:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(markdown(results, command.strip(), started, wall, warning), encoding="utf-8")
        print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
