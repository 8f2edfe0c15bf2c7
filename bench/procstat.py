"""Per-process CPU and memory from /proc (no psutil), and a description of the machine."""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int | None) -> float:
    """utime + stime of `pid` (all its threads) in seconds; 0.0 when it is gone."""
    if pid is None:
        return 0.0
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()  # the command name may hold spaces
    return (int(fields[11]) + int(fields[12])) / _TICKS  # fields 14 and 15 of proc(5)


def status_kb(pid: int, key: str) -> int:
    """A `kB` line of /proc/<pid>/status (VmHWM: peak RSS, VmRSS: current); 0 when unavailable."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def peak_rss_mb(pid: int) -> float:
    return status_kb(pid, "VmHWM") / 1024


def tree_pids(pid: int) -> list[int]:
    """`pid` and its descendants (a supervisor and its worker processes), from /proc/*/stat."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(parents.get(p, []))
    return out


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of `pid` and its living descendants."""
    return sum(cpu_seconds(p) for p in tree_pids(pid))


def tree_peak_rss_mb(pid: int) -> list[float]:
    """Peak RSS of each process doing the work: the descendants of a supervisor, else `pid` itself."""
    pids = tree_pids(pid)
    kids = [p for p in pids if p != pid and peak_rss_mb(p) > 0]
    return [peak_rss_mb(p) for p in kids] if kids else [peak_rss_mb(pid)]


@dataclass(frozen=True, slots=True)
class CpuWindow:
    """CPU seconds a set of processes used between `start` and `stop`."""

    pids: dict[str, int | None]
    base: dict[str, float]

    @classmethod
    def start(cls, pids: dict[str, int | None]) -> CpuWindow:
        return cls(dict(pids), {name: cpu_seconds(pid) for name, pid in pids.items()})

    def stop(self) -> dict[str, float]:
        return {name: cpu_seconds(pid) - self.base[name] for name, pid in self.pids.items()}


def machine_jiffies() -> tuple[int, int]:
    """(all, idle + iowait) CPU jiffies of the whole machine since boot."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return sum(fields), fields[3] + fields[4]


def machine_busy_since(start: tuple[int, int]) -> float:
    """Share of the machine's CPU time that was busy (any process) since `start`."""
    total, idle = machine_jiffies()
    spent = total - start[0]
    return 1 - (idle - start[1]) / spent if spent else 0.0


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def _client_version() -> str:
    """confluent-kafka's version: a string in 2.x (`version()[0]` gave its first character), a tuple before."""
    import confluent_kafka

    v = confluent_kafka.version()
    return v if isinstance(v, str) else str(v[0])


def machine() -> dict[str, str]:
    """nproc, CPU model, memory, OS, Python, librdkafka and confluent-kafka versions."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    import confluent_kafka

    from tests.harness.kafka_broker import KAFKA_VERSION

    return {
        "CPUs (nproc)": str(os.cpu_count()),
        "CPU model": model,
        "memory": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "OS": f"{platform.system()} {platform.release()}",
        "Python": sys.version.split()[0],
        "confluent-kafka / librdkafka": f"{_client_version()} / {confluent_kafka.libversion()[0]}",
        "Kafka broker": f"Apache Kafka {KAFKA_VERSION} (KRaft, single node, same host)",
    }
