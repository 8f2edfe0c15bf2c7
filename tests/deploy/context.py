"""The Docker build context as .dockerignore defines it, copied out for builds outside Docker."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def included_paths() -> list[str]:
    """The `!path` re-inclusions of .dockerignore, which must start by excluding everything (`*`)."""
    lines = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    patterns = [line for line in lines if line and not line.startswith("#")]
    assert patterns[0] == "*", ".dockerignore is expected to be an allow-list starting with '*'"
    return [p[1:].rstrip("/") for p in patterns if p.startswith("!")]


def copy_build_context(dest: Path) -> Path:
    """Copy what the image build sees into `dest` (links kept as links, no bytecode); return `dest`."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for rel in included_paths():
        source, target = ROOT / rel, dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, symlinks=True, ignore=ignore)
        else:
            shutil.copy2(source, target)
    return dest


def assert_demo_summary(out: str) -> None:
    """The demo's summary: every record final, some delivered to AEP and the broken ones dead-lettered."""
    assert "DEMO FAILED" not in out, out
    delivered = re.search(r"^delivered\s+(\d+) records accepted by AEP", out, re.MULTILINE)
    dead = re.search(r"^dead-letter\s+(\d+) records", out, re.MULTILINE)
    assert delivered and int(delivered.group(1)) > 0, out
    assert dead and int(dead.group(1)) > 0, out
