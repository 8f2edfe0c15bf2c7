"""Render the Helm chart with a real helm binary and look into the manifests."""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "aep-connector"
VALUES = CHART / "ci"
RELEASE = "rel"
NAMESPACE = "streaming"
# helm built by `go install` carries no cluster version of its own (it assumes 1.20).
KUBE_VERSION = "1.31.0"

Manifest = dict[str, Any]


@dataclass(frozen=True)
class Rendered:
    manifests: list[Manifest]

    def all(self, kind: str) -> list[Manifest]:
        return [m for m in self.manifests if m["kind"] == kind]

    def one(self, kind: str) -> Manifest:
        found = self.all(kind)
        assert len(found) == 1, f"{len(found)} {kind} rendered, expected 1"
        return found[0]

    def kinds(self) -> set[str]:
        return {m["kind"] for m in self.manifests}

    @property
    def pod_spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = self.one("Deployment")["spec"]["template"]["spec"]
        return spec

    @property
    def container(self) -> dict[str, Any]:
        containers = self.pod_spec["containers"]
        assert len(containers) == 1
        container: dict[str, Any] = containers[0]
        return container


class HelmFailed(AssertionError):
    """helm exited non-zero; the message carries its stderr."""

    def __init__(self, message: str, stderr: str) -> None:
        super().__init__(message)
        self.stderr = stderr


def helm(binary: Path, args: Sequence[str]) -> str:
    proc = subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=120, check=False, cwd=ROOT)
    if proc.returncode != 0:
        raise HelmFailed(f"helm {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}", proc.stderr)
    return proc.stdout


def values_args(values_files: Iterable[str | Path] = (), sets: Sequence[str] = ()) -> list[str]:
    args: list[str] = []
    for f in values_files:
        path = Path(f)
        args += ["-f", str(path if path.is_absolute() else VALUES / path)]
    for s in sets:
        args += ["--set", s]
    return args


def render(binary: Path, values_files: Iterable[str | Path] = (), *, extra: Sequence[str] = ()) -> Rendered:
    """`helm template` with the values files (names under the chart's ci/ or paths) and extra flags."""
    out = helm(
        binary,
        ["template", RELEASE, str(CHART), "--namespace", NAMESPACE, "--kube-version", KUBE_VERSION,
         *values_args(values_files), *extra],
    )
    docs = [d for d in yaml.safe_load_all(out) if d]
    return Rendered(docs)


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())
