"""A real Apicurio Registry 3.x speaking Confluent's Schema Registry API, for tests and CI.

The Quarkus app comes from Maven Central (``fetch``) and is unpacked under ``.cache/``;
``SchemaRegistry`` runs it as a child JVM on free loopback ports. Storage is H2 in a file in
the registry's temp dir, so schemas (and their ids) survive ``stop()``/``restart()``.

    python -m tests.harness.schema_registry fetch   # download only
    python -m tests.harness.schema_registry run     # start, print SCHEMA_REGISTRY_URL=..., wait
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import tarfile
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import requests
import structlog

from tests.harness.kafka_broker import (
    DEPENDENCY_PLUGIN,
    MARKER,
    HarnessError,
    JavaProcess,
    JavaService,
    cache_lock,
    default_cache_dir,
    java_executable,
    run_mvn,
    run_until_signal,
)
from tests.harness.ports import LOOPBACK, free_ports, is_listening

log = structlog.get_logger(__name__)

APICURIO_VERSION = "3.0.9"  # newest 3.x on Maven Central that runs on Java 17 (3.3.x needs 21)
CCOMPAT_PATH = "/apis/ccompat/v7"
CENTRAL = "https://repo.maven.apache.org/maven2"

# Registry settings passed as -D system properties.
_REGISTRY_SETTINGS = {
    # ids in the Confluent wire format are content ids, resolvable via GET /schemas/ids/{id}
    "apicurio.ccompat.legacy-id-mode.enabled": "false",
    # identical schemas that differ only in whitespace/field order map to one id
    "apicurio.ccompat.use-canonical-hash": "true",
    "apicurio.rest.deletion.group.enabled": "true",
    "apicurio.rest.deletion.artifact.enabled": "true",
    "apicurio.rest.deletion.artifact-version.enabled": "true",
    "apicurio.datasource.jdbc.initial-size": "2",
    "apicurio.datasource.jdbc.min-size": "2",
    "apicurio.datasource.jdbc.max-size": "10",
    "quarkus.log.level": "INFO",
}


def fetch(cache_dir: Path | None = None, version: str = APICURIO_VERSION) -> Path:
    """Download and unpack ``apicurio-registry-app:<version>:tar.gz:all``; return the unpacked app dir."""
    cache = default_cache_dir() if cache_dir is None else cache_dir
    home = cache / f"apicurio-{version}"
    if (home / MARKER).exists():
        return home
    with cache_lock(cache, f"apicurio-{version}"):
        if (home / MARKER).exists():
            return home
        started = time.monotonic()
        shutil.rmtree(home, ignore_errors=True)
        download = cache / f"apicurio-{version}-download"
        shutil.rmtree(download, ignore_errors=True)
        download.mkdir(parents=True)
        artifact = f"io.apicurio:apicurio-registry-app:{version}:tar.gz:all"
        try:
            run_mvn(
                [f"{DEPENDENCY_PLUGIN}:copy", f"-Dartifact={artifact}", f"-DoutputDirectory={download}"], cwd=download
            )
        except HarnessError as exc:
            # 3.0.9's parent POM is missing from Central, so mvn cannot read the descriptor.
            if "Failed to read artifact descriptor" not in str(exc):
                raise
            log.warning("apicurio_mvn_descriptor_missing", artifact=artifact, fallback=CENTRAL)
            _download_verified(_central_url(version), download / f"apicurio-registry-app-{version}-all.tar.gz")
        archives = list(download.glob("*.tar.gz"))
        if len(archives) != 1:
            raise HarnessError(f"expected one apicurio tar.gz in {download}, found {archives}")
        with tarfile.open(archives[0], "r:gz") as archive:
            archive.extractall(home, filter="data")
        shutil.rmtree(download)
        launcher(home)
        (home / MARKER).write_text(version)
        log.info("apicurio_fetched", version=version, home=str(home), s=round(time.monotonic() - started, 1))
    return home


def launcher(home: Path) -> Path:
    """The jar to ``java -jar``: ``quarkus-run.jar`` (fast-jar, 3.1+) or ``*-runner.jar`` (3.0.x)."""
    candidates = [home / "quarkus-run.jar", *sorted(home.glob("*-runner.jar"))]
    for jar in candidates:
        if jar.exists():
            return jar
    raise HarnessError(f"{home} holds neither quarkus-run.jar nor *-runner.jar")


def _central_url(version: str) -> str:
    name = f"apicurio-registry-app-{version}-all.tar.gz"
    return f"{CENTRAL}/io/apicurio/apicurio-registry-app/{version}/{name}"


def _download_verified(url: str, target: Path) -> None:
    """Stream ``url`` to ``target`` and check it against Central's ``.sha1``."""
    expected = requests.get(f"{url}.sha1", timeout=30)
    expected.raise_for_status()
    digest = hashlib.sha1(usedforsecurity=False)
    with requests.get(url, stream=True, timeout=60) as response, open(target, "wb") as out:
        response.raise_for_status()
        for chunk in response.iter_content(chunk_size=1 << 20):
            digest.update(chunk)
            out.write(chunk)
    if digest.hexdigest() != expected.text.split()[0].strip():
        target.unlink()
        raise HarnessError(f"sha1 mismatch for {url}")


@dataclass(frozen=True, slots=True)
class RegistryPorts:
    http: int
    management: int


class SchemaRegistry(JavaService):
    """Apicurio Registry on free loopback ports; ``url`` is its Confluent-compatible API root."""

    service = "apicurio-registry"
    log_name = "registry.log"

    def __init__(
        self,
        *,
        cache_dir: Path | None = None,
        version: str = APICURIO_VERSION,
        heap_max: str = "512m",
        startup_timeout_s: float = 120.0,
        stop_grace_s: float = 20.0,
    ) -> None:
        super().__init__(
            cache_dir=cache_dir, version=version, heap_max=heap_max,
            startup_timeout_s=startup_timeout_s, stop_grace_s=stop_grace_s,
        )
        self._ports: RegistryPorts | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>/apis/ccompat/v7`` — pass as ``url`` to confluent-kafka's client."""
        if self._ports is None:
            raise HarnessError("schema registry not started")
        return f"http://{LOOPBACK}:{self._ports.http}{CCOMPAT_PATH}"

    def _prepare(self) -> None:
        home = fetch(self._cache_dir, self._version)
        self._tmp = Path(tempfile.mkdtemp(prefix="apicurio-"))
        http, management = free_ports(2)
        self._ports = RegistryPorts(http=http, management=management)
        settings = {
            **_REGISTRY_SETTINGS,
            "quarkus.http.host": LOOPBACK,
            "quarkus.http.port": str(http),
            "quarkus.management.host": LOOPBACK,
            "quarkus.management.port": str(management),
            "apicurio.datasource.url": f"jdbc:h2:file:{self._tmp / 'h2' / 'registry'}",
            "apicurio.storage.snapshot.location": str(self._tmp),
            "apicurio.import.work-dir": str(self._tmp),
            "java.io.tmpdir": str(self._tmp),
        }
        argv = [
            java_executable(),
            "-Xms128m",
            f"-Xmx{self._heap_max}",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            *(f"-D{key}={value}" for key, value in settings.items()),
            "-jar",
            str(launcher(home)),
        ]
        self._process = JavaProcess(argv, self._tmp / self.log_name, cwd=self._tmp)

    def _wait_ready(self, started: float) -> None:
        assert self._process is not None and self._ports is not None
        deadline = started + self._startup_timeout_s
        while time.monotonic() < deadline:
            if not self._process.running():
                raise HarnessError(f"apicurio exited during start-up; log tail:\n{self._process.tail()}")
            if is_listening(self._ports.http):
                try:
                    if requests.get(f"{self.url}/subjects", timeout=2).status_code == 200:
                        return
                except requests.RequestException:
                    pass
            time.sleep(0.25)
        tail = self._process.tail()
        self._process.kill()
        raise HarnessError(f"apicurio not ready after {self._startup_timeout_s:.0f}s; log tail:\n{tail}")

    def _port_numbers(self) -> tuple[int, ...]:
        return () if self._ports is None else (self._ports.http, self._ports.management)

    def _forget_ports(self) -> None:
        self._ports = None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.harness.schema_registry")
    parser.add_argument("command", choices=["fetch", "run"])
    parser.add_argument("--cache-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.command == "fetch":
        print(fetch(args.cache_dir))
        return 0
    with SchemaRegistry(cache_dir=args.cache_dir) as registry:
        print(f"SCHEMA_REGISTRY_URL={registry.url}", flush=True)
        run_until_signal(registry.running)
    return 0


if __name__ == "__main__":
    sys.exit(main())
