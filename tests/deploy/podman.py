"""Build and run the repository's Dockerfile with Debian's podman and runc (root, no Docker engine).

Public registries cannot be reached from these machines, so the Dockerfile's base image is
replaced by a stand-in made from Debian packages: `debootstrap --variant=minbase` of bookworm
with python3, pip and venv (Python 3.11, as in python:3.11-slim), imported under the base
image's name. Only the base is replaced; the Dockerfile is built as it is. The stand-in's root
filesystem is cached as a tarball under the test cache (`$CONNECTOR_TEST_CACHE` or `.cache/`).

Every failure raises HarnessError: the image tests fail loudly, never skip.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import structlog

from tests.deploy.context import ROOT
from tests.harness.kafka_broker import HarnessError, cache_lock, default_cache_dir

log = structlog.get_logger(__name__)

DOCKERFILE = ROOT / "Dockerfile"
IMAGE = "localhost/aep-connector:test"
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
PACKAGES = ("python3", "python3-pip", "python3-venv", "python-is-python3", "ca-certificates")
# Bump when the stand-in recipe changes: an image or tarball with another recipe is rebuilt.
RECIPE = "1"
STAND_IN_LABEL = "org.aep-connector.test.stand-in"
# crun fails on this machine kind's cgroups; runc works as root. Limits keep runc inside the sandbox's.
PODMAN = ("podman", "--runtime", "runc")
LIMITS = ("--network=host", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024")
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def podman(args: Sequence[str], *, timeout: float = 600.0, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run podman with runc; raise HarnessError with its output when `check` and it fails."""
    if shutil.which("podman") is None:
        raise HarnessError("podman not found: run `bash scripts/ensure-podman.sh` (make test-image does)")
    cmd = [*PODMAN, *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise HarnessError(f"{' '.join(cmd)} timed out after {timeout:.0f}s") from exc
    if check and proc.returncode != 0:
        raise HarnessError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def base_images() -> list[str]:
    """The Dockerfile's external FROM images (build stages named with AS are not images)."""
    stages: set[str] = set()
    images: list[str] = []
    for line in DOCKERFILE.read_text().splitlines():
        words = line.split()
        if words and words[0].upper() == "FROM":
            image = next(w for w in words[1:] if not w.startswith("--"))
            if image not in stages and image not in images:
                images.append(image)
            if len(words) >= 4 and words[-2].upper() == "AS":
                stages.add(words[-1])
    return images


def qualified(image: str) -> str:
    """docker.io/library/NAME:TAG for a Docker Hub short name, as Docker resolves it."""
    parts = image.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        return image
    return "docker.io/" + ("library/" + image if len(parts) == 1 else image)


def _label(image: str) -> str | None:
    """The stand-in label of a local image; '' for an image without it; None when there is no such image."""
    proc = podman(["image", "inspect", image], check=False)
    if proc.returncode != 0:
        return None
    labels = json.loads(proc.stdout)[0].get("Labels") or {}
    return str(labels.get(STAND_IN_LABEL, ""))


def _debootstrap(rootfs: Path) -> None:
    debootstrap = shutil.which("debootstrap") or shutil.which("/usr/sbin/debootstrap")
    if debootstrap is None:
        raise HarnessError("debootstrap not found: run `bash scripts/ensure-podman.sh` (make test-image does)")
    cmd = [debootstrap, "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE, str(rootfs), MIRROR]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, check=False)
    if proc.returncode != 0:
        raise HarnessError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}")


def _make_like_python_slim(rootfs: Path) -> None:
    """What python:3.11-slim has and Debian's python3 has not: pip allowed to install system-wide."""
    for marker in rootfs.glob("usr/lib/python3*/EXTERNALLY-MANAGED"):
        marker.unlink()
    # The build stage's pip downloads from PyPI through this machine's network, whose egress
    # re-signs TLS: the stand-in trusts what the host trusts (the real image trusts PyPI directly).
    if HOST_CA_BUNDLE.exists():
        shutil.copy(HOST_CA_BUNDLE, rootfs / "etc" / "ssl" / "certs" / "ca-certificates.crt")
    for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
        shutil.rmtree(rootfs / cache, ignore_errors=True)
        (rootfs / cache).mkdir(parents=True)


def _rootfs_tarball(cache_dir: Path) -> Path:
    """The stand-in's root filesystem as a tarball in the cache, made with debootstrap once."""
    home = cache_dir / f"image-base-{SUITE}-r{RECIPE}"
    tarball = home / "rootfs.tar"
    if tarball.exists():
        return tarball
    with cache_lock(cache_dir, home.name):
        if tarball.exists():
            return tarball
        started = time.monotonic()
        home.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=home, prefix=".rootfs-") as tmp:
            rootfs = Path(tmp) / "rootfs"
            _debootstrap(rootfs)
            _make_like_python_slim(rootfs)
            partial = Path(tmp) / "rootfs.tar"
            proc = subprocess.run(["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(partial), "."],
                                  capture_output=True, text=True, timeout=600, check=False)
            if proc.returncode != 0:
                raise HarnessError(f"tar of the stand-in root filesystem failed:\n{proc.stderr[-2000:]}")
            partial.replace(tarball)
        log.info("stand_in_rootfs_built", suite=SUITE, s=round(time.monotonic() - started, 1))
    return tarball


def ensure_base_images(cache_dir: Path | None = None) -> list[str]:
    """Make every FROM image of the Dockerfile available locally; return their names.

    A real image already present (a machine that can pull) is used as it is; otherwise the
    Debian stand-in is imported under the image's name.
    """
    cache = default_cache_dir() if cache_dir is None else cache_dir
    names = base_images()
    for image in names:
        name = qualified(image)
        label = _label(name)
        if label in ("", RECIPE):
            continue  # a real base image, or the current stand-in
        tarball = _rootfs_tarball(cache)
        changes = [
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "ENV LANG=C.UTF-8",
            f"LABEL {STAND_IN_LABEL}={RECIPE}",
            'CMD ["python3"]',
        ]
        podman(["import", *(a for c in changes for a in ("--change", c)), str(tarball), name], timeout=900)
        log.info("stand_in_imported", image=name)
    return names


BUILD_LABEL = "org.aep-connector.test.image"


def build_image(tag: str = IMAGE) -> str:
    """`podman build` the Dockerfile (docker format, so HEALTHCHECK is kept); never pulls.

    No layer cache (the context changes with every commit anyway); the image this build
    replaces under `tag` is removed, so repeated runs do not fill the disk.
    """
    ensure_base_images()
    podman(["build", *LIMITS, "--pull=never", "--format", "docker", "--layers=false", "--label", f"{BUILD_LABEL}=1",
            "-t", tag, "-f", str(DOCKERFILE), str(ROOT)], timeout=1800)
    podman(["image", "prune", "-f", "--filter", f"label={BUILD_LABEL}=1"], check=False)
    return tag


def main(argv: list[str]) -> int:
    """`python -m tests.deploy.podman base`: prepare the base images only (make test-image's first step)."""
    if argv != ["base"]:
        print("usage: python -m tests.deploy.podman base", file=sys.stderr)
        return 2
    print("\n".join(qualified(i) for i in ensure_base_images()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
