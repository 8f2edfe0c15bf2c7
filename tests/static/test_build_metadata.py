"""The build backend reads pyproject.toml without deprecation warnings and records the SPDX licence."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_BUILD_METADATA = """
import sys
from setuptools import build_meta
out = sys.argv[1]  # build_meta rewrites sys.argv
name = build_meta.prepare_metadata_for_build_wheel(out)
print(open(out + "/" + name + "/METADATA", encoding="utf-8").read())
"""


def test_license_is_an_spdx_string() -> None:
    """project.license is the SPDX string form, not the deprecated TOML table."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == "Apache-2.0"


def test_build_backend_prints_no_deprecation_warning(tmp_path: Path) -> None:
    """Building the metadata (what every `pip install` does first) warns about nothing deprecated."""
    done = subprocess.run(
        [sys.executable, "-c", _BUILD_METADATA, str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    output = done.stdout + done.stderr
    assert "deprecated" not in output.lower(), output
    assert "License-Expression: Apache-2.0" in done.stdout
