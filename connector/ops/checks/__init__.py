"""`check --connect`: reach every service the config names, without writing data anywhere.

Each probe returns Findings; the command's exit code comes from the worst of them:
    ok / warn / skipped   exit 0 (a warning is worth reading, not a failure)
    config                exit 2: the services answered and the configuration is wrong (a
                          subscribed topic is missing, credentials refused, no such inlet)
    unreachable           exit 4: a service could not be reached or is not healthy
Config wins over unreachable: it needs a change whatever else happens.

kafka.py     bootstrap, subscribed topics (^regex: what matches), partitions, the group's state,
             the dead-letter topic and whether it takes writes with acks=all (probe_dead_letter)
aep.py       IMS token, the DCS inlet (an empty batch: nothing to ingest), the schema registry
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Status = Literal["ok", "warn", "skipped", "config", "unreachable"]
EXIT_CONFIG = 2
EXIT_UNREACHABLE = 4


@dataclass(frozen=True, slots=True)
class Finding:
    what: str  # kafka, topic, group, dead-letter, ims, dcs, registry
    status: Status
    detail: str


def exit_code(findings: Sequence[Finding]) -> int:
    statuses = {f.status for f in findings}
    if "config" in statuses:
        return EXIT_CONFIG
    if "unreachable" in statuses:
        return EXIT_UNREACHABLE
    return 0


def format_findings(findings: Sequence[Finding]) -> str:
    """One line per finding: what, STATUS (upper case when it fails the check), detail."""
    width = max((len(f.what) for f in findings), default=0)
    lines = []
    for f in findings:
        status = f.status.upper() if f.status in ("config", "unreachable") else f.status
        lines.append(f"{f.what.ljust(width)}  {status.ljust(11)}  {f.detail}")
    return "\n".join(lines)
