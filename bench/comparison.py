"""The connector next to its peers and its consume-only ceilings, from the same run."""

from __future__ import annotations

import os
import statistics
from collections.abc import Sequence

from bench.e2e import RunResult
from bench.suite import PROCESSES, PROJECT, Results
from bench.tables import table


def ratios(r: Results, name: str, other: str = PROJECT) -> list[float]:
    """Per round: `other`'s rate over `name`'s (both measured in that round)."""
    a, b = r.contenders.get(other, []), r.contenders.get(name, [])
    return [x.window_rate / y.window_rate for x, y in zip(a, b, strict=False) if y.window_rate]


def held_ratios(r: Results) -> list[float]:
    """Per round: `--processes 2`'s rate once every process held partitions, over one process's rate."""
    one, two = r.contenders.get(PROJECT, []), r.contenders.get(PROCESSES, [])
    pairs = zip(one, two, strict=False)
    return [y.all_held_rate / x.window_rate for x, y in pairs if x.window_rate and y.all_held_rate]


def free_cores(r: Results) -> float | None:
    """Cores the one-process runs left idle (median): what a second process could have used."""
    busy = median([x.machine_busy for x in r.contenders.get(PROJECT, [])])
    return None if busy is None else (os.cpu_count() or 1) * (1.0 - busy)


def median(xs: Sequence[float]) -> float | None:
    return statistics.median(xs) if xs else None


def spread(xs: Sequence[float], fmt: str = "{:,.0f}") -> str:
    if not xs:
        return "-"
    mid = fmt.format(statistics.median(xs))
    return mid if len(xs) == 1 else f"{mid} [{fmt.format(min(xs))}-{fmt.format(max(xs))}]"


def cpu_us(runs: Sequence[RunResult]) -> float | None:
    return median([run.window_us_per_record for run in runs])


def contenders_table(r: Results) -> str:
    rows: list[list[object]] = []
    for name, runs in r.contenders.items():
        rs = ratios(r, name)
        rows.append([
            name, len(runs), spread([x.window_rate for x in runs]), spread([x.window_us_per_record for x in runs],
                                                                          "{:.1f}"),
            spread([max(x.peak_rss_mb) for x in runs]), sum(x.duplicates for x in runs),
            spread([x.machine_busy * 100 for x in runs], "{:.0f}%"),
            "1.00" if name == PROJECT else spread(rs, "{:.2f}"),
        ])  # fmt: skip
    intro = (
        f"{r.options.records:,} JSON events of ~1 KB, {len(next(iter(r.contenders.values()), []))} interleaved rounds "
        "(every contender once per round, a fresh group and inlet each run), the count-mode emulator as sink. "
        "rec/s: records accepted after the first acceptance / (all offsets committed - first acceptance); CPU: "
        "the contender's processes over that window; RSS: peak of the largest process; ratio: per round, the "
        "connector's rate over the contender's. Median [min-max].\n\n"
    )
    return intro + table(
        ["contender", "runs", "rec/s", "CPU us/record", "peak RSS MB", "duplicates", "machine busy",
         "connector / contender"],
        rows,
    )


def ceiling_table(r: Results) -> str:
    rows = [[c.settings, c.records, c.rate, c.rate_first_last, f"{c.cpu_s * 1e6 / c.records:.1f}",
             f"{c.peak_rss_mb:.0f}"] for c in r.ceilings]  # fmt: skip
    j = r.json_run
    text = table(["consume-only ceiling (plain consumer, records dropped)", "records", "rec/s from assignment",
                  "rec/s first->last record", "CPU us/record", "peak RSS MB"], rows)  # fmt: skip
    if j and r.ceilings:
        shares = ", ".join(f"{j.window_rate / c.rate:.2f} of the one with {c.settings}" for c in r.ceilings if c.rate)
        text += f"\n\nThe connector's median run reads at {shares}."
    return text


def scaling_line(r: Results) -> str:
    two = r.contenders.get(PROCESSES, [])
    rs = ratios(r, PROJECT, PROCESSES)
    if not two or not rs:
        return "`--processes 2`: not measured"
    one_cpu, two_cpu = cpu_us(r.contenders.get(PROJECT, [])), cpu_us(two)
    busy = median([x.machine_busy for x in two]) or 0.0
    held, joined = held_ratios(r), median([x.all_held_s for x in two]) or 0.0
    free = free_cores(r)
    return (
        f"`run --processes 2` / one process, same rounds: {spread(rs, '{:.2f}')} x the rate over the whole run; "
        f"{spread(held, '{:.2f}') if held else '- (too short to tell)'} x from the moment both processes held "
        f"partitions ({joined:.1f} s after start, median: under KIP-848 a member that joins learns its share at "
        "its next heartbeat, 5 s by the broker's default, and the partitions it takes over are read by no one "
        f"until then). CPU per record {two_cpu:.1f} us (supervisor and both workers) against {one_cpu or 0:.1f} "
        f"us for one process; the machine was {busy:.0%} busy during the 2-process runs (broker, emulator and "
        f"other work included) and one process left {free if free is not None else 0:.1f} of "
        f"{os.cpu_count() or 1} cores idle, so the factor shows how far the cores were free, not the "
        "supervisor's cost."
    )
