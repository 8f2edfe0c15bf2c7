"""Test tools that are Go programs or Debian packages, fetched once into the test cache.

Helm is built from source with the Go toolchain (``go install helm.sh/helm/v3/cmd/helm@v3.22.0``)
into ``<cache>/helm-v3.22.0/``, where the cache is ``$CONNECTOR_TEST_CACHE`` or ``.cache/``, as for
the Kafka jars. A missing toolchain or a failed build raises: the chart tests fail, never skip.

    python -m tests.deploy.tools helm    # fetch only (make fetch-helm); prints the binary's path
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.harness.kafka_broker import HarnessError, cache_lock, default_cache_dir

HELM_VERSION = "v3.22.0"
HELM_MODULE = "helm.sh/helm/v3/cmd/helm"
MARKER = ".complete"
GO_INSTALL_TIMEOUT_S = 1800.0


def helm_home(cache_dir: Path | None = None) -> Path:
    return (default_cache_dir() if cache_dir is None else cache_dir) / f"helm-{HELM_VERSION}"


def ensure_helm(cache_dir: Path | None = None) -> Path:
    """The cached helm binary, built with `go install` on first use; raise HarnessError when that fails."""
    home = helm_home(cache_dir)
    binary = home / "helm"
    if (home / MARKER).exists() and binary.exists():
        return binary
    with cache_lock(home.parent, home.name):
        if (home / MARKER).exists() and binary.exists():
            return binary
        go = shutil.which("go")
        if go is None:
            raise HarnessError("go not found on PATH: the chart tests build helm with the Go toolchain")
        started = time.monotonic()
        home.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=home.parent, prefix=f".{home.name}-") as tmp:
            env = {**os.environ, "GOBIN": tmp}
            cmd = [go, "install", f"{HELM_MODULE}@{HELM_VERSION}"]
            try:
                proc = subprocess.run(
                    cmd, env=env, capture_output=True, text=True, timeout=GO_INSTALL_TIMEOUT_S, check=False
                )
            except subprocess.TimeoutExpired as exc:
                raise HarnessError(f"{' '.join(cmd)} took longer than {GO_INSTALL_TIMEOUT_S:.0f}s") from exc
            if proc.returncode != 0:
                raise HarnessError(f"{' '.join(cmd)} failed (exit {proc.returncode}):\n{proc.stderr[-6000:]}")
            os.replace(Path(tmp) / "helm", binary)
        (home / MARKER).write_text(f"{HELM_VERSION} built in {time.monotonic() - started:.0f}s\n")
    return binary


def main(argv: list[str]) -> int:
    if argv != ["helm"]:
        print("usage: python -m tests.deploy.tools helm", file=sys.stderr)
        return 2
    print(ensure_helm())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
