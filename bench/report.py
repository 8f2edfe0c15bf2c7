"""Tables for the console and docs/benchmarks.md, with each figure next to its target."""

from __future__ import annotations

from dataclasses import dataclass

from bench import comparison, xdm_bench
from bench.e2e import RunResult
from bench.suite import BATCHING, CONSUMER, LATENCY_LINGER_MS, PROCESSES, PROJECT, QUIX, RAW, Results
from bench.tables import table

THROUGHPUT_TARGET = 50_000
QUIX_RATIO_TARGET = 2.0
RAW_RATIO_TARGET = 1.5
CPU_TARGET_US = 12.0
SCALING_TARGET = 0.8  # x the number of processes, while cores are free
P99_TARGET_MS = 250.0
RSS_TARGET_MB = 200.0


@dataclass(frozen=True, slots=True)
class Verdict:
    what: str
    figure: str
    target: str
    met: bool | None  # None: not measured
    na: str = ""  # why the target does not apply on this machine (then `met` is None)


def _ratio_verdict(r: Results, name: str, target: float, what: str) -> Verdict:
    rs = comparison.ratios(r, name)
    mid = comparison.median(rs)
    return Verdict(what, f"{comparison.spread(rs, '{:.2f}')} x" if rs else "-", f">= {target} x",
                   mid >= target if mid is not None else None)  # fmt: skip


def _scaling_verdict(r: Results) -> Verdict:
    """Judged once both processes held partitions; not applicable where one process left no core idle."""
    what, target = "2 processes / 1, CPU-bound run (count sink), while cores are free", f">= {SCALING_TARGET * 2:.1f} x"
    whole = comparison.median(comparison.ratios(r, PROJECT, PROCESSES))
    held = comparison.median(comparison.held_ratios(r))
    if whole is None:
        return Verdict(what, "-", target, None)
    figure = f"{held:.2f} x once both held partitions ({whole:.2f} x whole run)" if held else f"{whole:.2f} x"
    free = comparison.free_cores(r)
    if free is not None and free < 1.0:
        return Verdict(what, figure, target, None, na=f"one process left {free:.1f} core idle")
    return Verdict(what, figure, target, (held or whole) >= SCALING_TARGET * 2)


def verdicts(r: Results) -> list[Verdict]:
    out = [
        _ratio_verdict(r, QUIX, QUIX_RATIO_TARGET, "end to end vs quix-streams (same run, median of rounds)"),
        _ratio_verdict(r, RAW, RAW_RATIO_TARGET, "end to end vs a hand-written loop with 4 POSTs in flight"),
    ]
    us = comparison.cpu_us(r.contenders.get(PROJECT, []))
    out.append(Verdict("worker CPU per record, bench mapping (1 process)", f"{us:.1f} us" if us is not None else "-",
                       f"<= {CPU_TARGET_US:.0f} us", us <= CPU_TARGET_US if us is not None else None))  # fmt: skip
    out.append(_scaling_verdict(r))
    j = r.json_run
    out.append(Verdict(
        "JSON -> ExperienceEvent, steady state (1 process)",
        f"{j.steady_rate:,.0f} records/s" if j else "-", f">= {THROUGHPUT_TARGET:,} records/s",
        j.steady_rate >= THROUGHPUT_TARGET if j else None,
    ))
    lat = r.latency
    out.append(Verdict(
        f"p99 latency at {r.options.latency_rate:,.0f} records/s offered",
        f"{lat.p99_ms:.0f} ms" if lat else "-", f"<= {P99_TARGET_MS:.0f} ms",
        lat.p99_ms <= P99_TARGET_MS and lat.delivered >= lat.records if lat else None,
    ))
    b = r.backlog_run
    out.append(Verdict(
        f"worker peak RSS through a {b.records if b else r.options.backlog:,}-record backlog",
        f"{b.peak_rss_mb[0]:.0f} MB" if b else "-", f"<= {RSS_TARGET_MB:.0f} MB",
        b.peak_rss_mb[0] <= RSS_TARGET_MB if b else None,
    ))
    clean = [*r.contenders.get(PROJECT, []), *r.contenders.get(PROCESSES, []), *([b] if b else [])]
    dups = sum(run.duplicates for run in clean)
    out.append(Verdict(f"duplicates in the connector's clean runs ({len(clean)} runs)", str(dups) if clean else "-",
                       "0", dups == 0 if clean else None))  # fmt: skip
    for m in r.mapping:
        out.append(Verdict(f"mapping {m.mapping} (one core)", f"{m.rate:,.0f} records/s", f">= {m.target:,}",
                           m.rate >= m.target))
    if r.xdm:
        out.append(Verdict("XDM validation added to the loyalty-events mapping (CPU)",
                           f"{r.xdm.added_us:+.2f} us/record", f"<= +{xdm_bench.TARGET_US:.0f} us/record", r.xdm.met))
    if "decode+map" in r.avro_stages:
        rate = r.avro_stages["decode+map"]
        out.append(Verdict("Avro decode + map (one core)", f"{rate:,.0f} records/s", ">= 60,000", rate >= 60_000))
    return out


def _run_row(label: str, run: RunResult | None, ceiling: float | None) -> list[object]:
    if run is None:
        return [label, "-", "-", "-", "-", "-", "-", "-", "-"]
    ratio = f"{run.steady_rate / ceiling:.2f}" if ceiling else "-"
    return [
        label, run.records, run.e2e_rate, run.steady_rate, ratio, f"{run.join_s:.2f}",
        " + ".join(f"{x:.0f}" for x in run.peak_rss_mb), f"{run.seconds:.1f}", run.duplicates,
    ]


def throughput_table(r: Results) -> str:
    c = r.ceiling
    ceiling = c.rate if c else None
    rows = [
        _run_row("worker, JSON -> ExperienceEvent (median of the rounds)", r.json_run, ceiling),
        _run_row(f"worker, Avro ({r.avro_mode or 'n/a'})", r.avro_run, ceiling),
        _run_row("worker through the backlog, JSON", r.backlog_run, ceiling),
    ]
    return table(
        ["run", "records", "end-to-end rec/s", "steady rec/s (10-90 %)", "x ceiling", "start+join s",
         "peak RSS MB", "wall s", "duplicates"],
        rows,
    )


def cpu_table(r: Results) -> str:
    rows: list[list[object]] = []
    runs = [("JSON", r.json_run), ("Avro", r.avro_run), ("backlog", r.backlog_run)]
    twos = r.contenders.get(PROCESSES, [])
    if twos:
        runs.insert(1, ("JSON, --processes 2", twos[len(twos) // 2]))
    for label, run in runs:
        if run is None:
            continue
        workers = sum(v for k, v in run.cpu_s.items() if k.startswith("worker"))
        total = sum(run.cpu_s.values())
        rows.append([
            label, f"{run.seconds:.1f}", f"{workers:.1f}", f"{run.cpu_s.get('broker', 0):.1f}",
            f"{run.cpu_s.get('emulator', 0):.1f}", f"{run.emulator_share:.0%}",
            f"{total / (run.seconds * 2):.0%}", f"{run.machine_busy:.0%}", f"{workers * 1e6 / run.records:.0f}",
            f"{run.window_us_per_record:.1f}",
        ])
    for c in r.ceilings:
        rows.append([f"consume-only ceiling, {c.settings}", "-", f"{c.cpu_s:.1f}", "-", "-", "-", "-", "-",
                     f"{c.cpu_s * 1e6 / c.records:.0f}", "-"])
    text = table(
        ["run", "wall s", "worker CPU s", "broker CPU s", "emulator CPU s", "emulator share",
         "these 3 of 2 cores", "machine busy (all processes)", "worker CPU us/record (whole run)",
         "worker CPU us/record (first acceptance -> committed)"],
        rows,
    )
    j = r.json_run
    if j is not None:
        per = {k: v * 1e6 / j.records for k, v in j.cpu_s.items()}
        total = sum(per.values())
        parts = ", ".join(f"{k} {v:.0f}" for k, v in per.items())
        text += (f"\n\nCPU-bound ceiling (JSON run): {parts} = {total:.0f} CPU us per record, "
                 f"so 2 cores cannot carry more than {2e6 / total:,.0f} records/s end to end.")
    return text


def latency_table(r: Results) -> str:
    lat = r.latency
    if lat is None:
        return "(not run)"
    return table(
        ["offered rec/s", "achieved rec/s", "seconds", "records", "delivered", "p50 ms", "p90 ms", "p99 ms",
         "max ms", "linger_ms", "worker CPU s", "emulator CPU s"],
        [[lat.offered_rate, lat.achieved_rate, f"{lat.seconds:.1f}", lat.records, lat.delivered, lat.p50_ms,
          lat.p90_ms, lat.p99_ms, lat.max_ms, lat.linger_ms, f"{lat.worker_cpu_s:.1f}",
          f"{lat.emulator_cpu_s:.1f}"]],
    )


def stage_tables(r: Results) -> list[str]:
    out = []
    if r.hotpath:
        out.append("the worker's hot path per stage (`python -m bench.hotpath`, best of 5 passes over 20,000 "
                   "records; `--callgrind` gives instructions per record)\n\n"
                   + table(["stage", "CPU us/record"], [[k, f"{v:.2f}"] for k, v in r.hotpath.items()]))
    if r.multicore:
        out.append("using several cores (`python -m bench.multicore`):\n\n" + "\n".join(
            f"- {line}" for line in r.multicore.lines()))
    if r.mapping:
        out.append(table(["mapping (pre-decoded samples)", "records/s", "target"],
                         [[m.mapping, m.rate, m.target] for m in r.mapping]))
    if r.xdm:
        out.append(table(xdm_bench.HEADER, xdm_bench.rows(r.xdm)))
    if r.avro_stages:
        out.append(table(["Avro stage (loyalty-event-v2, framed)", "records/s", "us/record"],
                         [[k, v, f"{1e6 / v:.2f}"] for k, v in r.avro_stages.items()]))
    if r.loop:
        out.append(table(["worker loop (in-memory source, instant sink; loop_bench)", "records/s", "CPU us/record"],
                         [[k, rate, f"{us:.1f}"] for k, (rate, us) in r.loop.items()]))
    d = r.delivery
    if d:
        out.append(
            f"delivery to the count-mode emulator process: {d.records:,} envelopes of {d.envelope_bytes} bytes, "
            "records/s\n\n"
            + table(["in-flight"] + [f"batch {b}" for b in d.batch_sizes],
                    [[k, *cells] for k, cells in d.rows.items()])
        )
    if r.emulator_stores:
        out.append(
            "the emulator alone (`python -m bench.emulator_bench`: its own process, 500-message "
            "batches of ~600-byte envelopes, two keep-alive clients)\n\n"
            + table(["store", "messages/s", "requests/s"],
                    [[f.store, f"{f.messages_per_s:,.0f}", f"{f.requests_per_s:,.1f}"] for f in r.emulator_stores])
        )
    return out


def component_table(r: Results) -> str:
    """Self time per pipeline component, per profile (loop thread, all threads)."""
    shares: dict[str, dict[str, float]] = {}
    for which, rows in r.profile.items():
        total = sum(row[1] for row in rows) or 1.0
        for _f, self_s, _c, _n, comp in rows:
            shares.setdefault(comp, {}).setdefault(which, 0.0)
            shares[comp][which] += self_s / total
    columns = list(r.profile)
    ordered = sorted(shares.items(), key=lambda kv: -kv[1].get(columns[-1], 0.0)) if columns else []
    return table(["component (self time)", *columns],
                 [[comp, *(f"{v.get(c, 0.0):.0%}" for c in columns)] for comp, v in ordered])


def profile_tables(r: Results, top: int = 15) -> list[str]:
    out = []
    for which, rows in r.profile.items():
        by_self = rows[:top]
        by_cum = sorted(rows, key=lambda x: x[2], reverse=True)[:top]
        for title, chosen in (("self", by_self), ("cumulative", by_cum)):
            out.append(f"{which}: top {top} by {title} time\n\n" + table(
                ["function", "component", "self s", "cumulative s", "calls"],
                [[f, comp, f"{s:.2f}", f"{c:.2f}", n] for f, s, c, n, comp in chosen]))
    return out


def _status(v: Verdict) -> str:
    if v.na:
        return f"n/a: {v.na}"
    return "-" if v.met is None else ("pass" if v.met else "MISS")


def verdict_table(r: Results) -> str:
    return table(
        ["target", "measured", "target value", "result"],
        [[v.what, v.figure, v.target, _status(v)] for v in verdicts(r)],
    )


def settings_text() -> str:
    batching = ", ".join(f"{k}={v}" for k, v in BATCHING.items()) or "the defaults"
    consumer = ", ".join(f"{k}={v}" for k, v in CONSUMER.items()) or "the defaults"
    return (
        f"batching: {batching} (latency phase: linger_ms={LATENCY_LINGER_MS}); "
        f"kafka.consumer: {consumer}"
    )


def where_the_time_goes(r: Results) -> str:
    intro = (
        f"The worker run under cProfile (`python -m bench.child profile`, every Python thread "
        f"profiled) over {r.profile_records:,} records ({r.profile_seconds:.1f} s wall, slowed by the "
        "profiler). *loop thread* is the poll -> decode -> map -> batch -> commit loop; *all threads* adds "
        "the DCS request threads. Times are wall-clock seconds (a CPU-time timer made the profiled worker "
        "10x slower), so blocking calls are shown as *waiting*: idle request threads, waiting for DCS "
        "responses, and `consume()` (librdkafka hands over records, or waits for them). Self time per "
        "component:"
    )
    return "\n\n".join([intro, component_table(r), *profile_tables(r)])
