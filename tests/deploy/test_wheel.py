"""The wheel users `pip install` (and the Dockerfile installs) runs `demo` and `check` on its own."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.deploy.context import ROOT, assert_demo_summary, copy_build_context

pytestmark = pytest.mark.deploy


def _build_wheel(tmp: Path) -> Path:
    """Build the wheel from a copy of the image build context (no stale build/ of the work tree)."""
    source = copy_build_context(tmp / "src")
    args = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp / "dist"), str(source)]
    built = _run(args, tmp, 600)
    assert built.returncode == 0, built.stderr
    [wheel] = (tmp / "dist").glob("aep_connector-*.whl")
    return wheel


def _run(args: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built from a copy of the image build context."""
    return _build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean virtualenv with the built wheel installed (not editable); returns its bin/."""
    tmp = tmp_path_factory.mktemp("venv")
    venv = _run([sys.executable, "-m", "venv", str(tmp / "venv")], tmp, 300)
    assert venv.returncode == 0, venv.stderr
    bin_dir = tmp / "venv" / "bin"
    pip = _run([str(bin_dir / "python"), "-m", "pip", "install", "-q", str(wheel)], tmp, 900)
    assert pip.returncode == 0, pip.stderr
    return bin_dir


def test_wheel_carries_the_demo_data_and_no_tests(wheel: Path) -> None:
    """The wheel holds the demo config, its mappings and the sample data; not the tests or the chart."""
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("connector/demo/demo.yaml", "connector/samples/loyalty-event.avsc",
                   "connector/samples/loyalty-profiles.json", "connector/py.typed"):
        assert needed in names, needed
    for mapping in (ROOT / "config" / "mappings").glob("*.yaml"):
        assert f"connector/demo/mappings/{mapping.name}" in names, mapping.name
    assert not [n for n in names if n.startswith(("tests/", "deploy/", "config/"))]


def test_installed_package_is_the_wheel_not_the_source_tree(installed: Path, tmp_path: Path) -> None:
    """The clean virtualenv imports connector from its site-packages."""
    proc = _run([str(installed / "python"), "-c", "import connector; print(connector.__file__)"], tmp_path, 60)
    assert proc.returncode == 0, proc.stderr
    assert Path(proc.stdout.strip()).is_relative_to(installed.parent), proc.stdout


def test_demo_runs_from_the_installed_wheel(installed: Path, tmp_path: Path) -> None:
    """`aep-connector demo` from the wheel delivers the samples and dead-letters the broken records."""
    proc = _run([str(installed / "aep-connector"), "demo", "--timeout", "90"], tmp_path, 240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert_demo_summary(proc.stdout)


def test_check_runs_from_the_installed_wheel(installed: Path, tmp_path: Path) -> None:
    """`aep-connector check` from the wheel validates the example config and its mappings."""
    config = ROOT / "config" / "connector.example.yaml"
    proc = _run([str(installed / "aep-connector"), "check", "-c", str(config)], tmp_path, 120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[0] == f"{config}: OK"
