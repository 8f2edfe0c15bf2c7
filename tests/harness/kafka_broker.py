"""A real single-node Apache Kafka broker (KRaft) for tests, the benchmark and CI.

The broker's jars come from Maven Central (``fetch``) and are cached under ``.cache/``;
``KafkaBroker`` runs ``kafka.Kafka`` as a child JVM on free loopback ports.

    python -m tests.harness.kafka_broker fetch   # download only
    python -m tests.harness.kafka_broker run     # start, print KAFKA_BOOTSTRAP_SERVERS=..., wait
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, TracebackType
from typing import Self

import structlog
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource  # type: ignore[attr-defined]
from confluent_kafka.admin._listoffsets import OffsetSpec  # confluent_kafka.admin re-exports it untyped
from confluent_kafka.cimpl import NewTopic

from tests.harness.ports import LOOPBACK, free_ports, is_listening, wait_port_free

log = structlog.get_logger(__name__)

KAFKA_VERSION = "4.1.2"
LOG4J_VERSION = "2.24.3"
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
MARKER = ".complete"
CACHE_ENV = "CONNECTOR_TEST_CACHE"

_LOG4J2_PROPERTIES = """\
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
logger.authorizer.name = kafka.authorizer.logger
logger.authorizer.level = WARN
"""


class HarnessError(RuntimeError):
    """A test service could not be fetched, started or reached."""


def default_cache_dir() -> Path:
    """``$CONNECTOR_TEST_CACHE`` or ``<repo root>/.cache``."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / ".cache"


def run_mvn(args: Sequence[str], cwd: Path, timeout_s: float = 900.0) -> None:
    """Run ``mvn -B -q <args>``; raise ``HarnessError`` carrying mvn's output on failure."""
    mvn = shutil.which("mvn")
    if mvn is None:
        raise HarnessError("mvn not found on PATH; install Maven (and Java 17) to fetch test services")
    cmd = [mvn, "-B", "-q", *args]
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise HarnessError(f"mvn timed out after {timeout_s:.0f}s: {' '.join(cmd)}") from exc
    if proc.returncode != 0:
        output = (proc.stderr + "\n" + proc.stdout).strip()[-8000:]
        raise HarnessError(f"mvn failed (exit {proc.returncode}): {' '.join(cmd)}\n{output}")


@contextlib.contextmanager
def cache_lock(cache_dir: Path, name: str) -> Iterator[None]:
    """Hold an exclusive file lock so parallel test processes fetch an artifact once."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / f"{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _kafka_pom(version: str) -> str:
    deps = [("org.apache.kafka", "kafka_2.13", version)] + [
        ("org.apache.logging.log4j", artifact, LOG4J_VERSION)
        for artifact in ("log4j-slf4j-impl", "log4j-core", "log4j-1.2-api")
    ]
    body = "".join(
        f"<dependency><groupId>{g}</groupId><artifactId>{a}</artifactId><version>{v}</version></dependency>"
        for g, a, v in deps
    )
    return (
        '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
        "<groupId>local.connector.testing</groupId><artifactId>kafka-runtime</artifactId>"
        f"<version>1</version><packaging>pom</packaging><dependencies>{body}</dependencies></project>"
    )


def fetch(cache_dir: Path | None = None, version: str = KAFKA_VERSION) -> Path:
    """Resolve the broker's runtime jars into ``<cache_dir>/kafka-<version>/libs``; return that home."""
    cache = default_cache_dir() if cache_dir is None else cache_dir
    home = cache / f"kafka-{version}"
    if (home / MARKER).exists():
        return home
    with cache_lock(cache, f"kafka-{version}"):
        if (home / MARKER).exists():
            return home
        started = time.monotonic()
        shutil.rmtree(home, ignore_errors=True)
        work = home / "build"
        work.mkdir(parents=True)
        (work / "pom.xml").write_text(_kafka_pom(version))
        libs = home / "libs"
        run_mvn(
            [f"{DEPENDENCY_PLUGIN}:copy-dependencies", "-DincludeScope=runtime", f"-DoutputDirectory={libs}"],
            cwd=work,
        )
        if not any(libs.glob("kafka_2.13-*.jar")):
            raise HarnessError(f"mvn finished but {libs} holds no kafka_2.13 jar")
        (home / "log4j2.properties").write_text(_LOG4J2_PROPERTIES)
        shutil.rmtree(work)
        (home / MARKER).write_text(version)
        log.info("kafka_fetched", version=version, home=str(home), s=round(time.monotonic() - started, 1))
    return home


def log_tail(path: Path, lines: int = 60) -> str:
    """The last ``lines`` lines of a log file ('' when it does not exist)."""
    try:
        data = path.read_bytes()[-64_000:]
    except FileNotFoundError:
        return ""
    return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])


class JavaProcess:
    """One child JVM whose stdout and stderr are appended to a log file."""

    def __init__(self, argv: Sequence[str], log_path: Path, cwd: Path) -> None:
        self._argv = list(argv)
        self._log_path = log_path
        self._cwd = cwd
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        if self.running():
            raise HarnessError(f"process already running: pid {self.pid}")
        with open(self._log_path, "ab") as out:
            self._proc = subprocess.Popen(
                self._argv, cwd=self._cwd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )

    def stop(self, grace_s: float) -> None:
        """SIGTERM, then SIGKILL if the JVM is still alive after ``grace_s``."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            log.warning("process_sigkill_after_grace", pid=proc.pid, grace_s=grace_s)
            self.kill()

    def kill(self) -> None:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        proc.kill()
        proc.wait(timeout=30)

    def tail(self, lines: int = 60) -> str:
        return log_tail(self._log_path, lines)


@dataclass(frozen=True, slots=True)
class BrokerPorts:
    broker: int
    controller: int


def _server_properties(ports: BrokerPorts, data_dir: Path) -> str:
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{LOOPBACK}:{ports.controller}",
        "listeners": f"PLAINTEXT://{LOOPBACK}:{ports.broker},CONTROLLER://{LOOPBACK}:{ports.controller}",
        "advertised.listeners": f"PLAINTEXT://{LOOPBACK}:{ports.broker}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(data_dir),
        "num.partitions": "1",
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        "auto.create.topics.enable": "false",
        "delete.topic.enable": "true",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "3",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "3",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        # KIP-848 groups: the broker times sessions out (45 s by default); tests that kill a worker
        # shorten it per group (consumer.session.timeout.ms), which these minimums allow
        "group.consumer.min.session.timeout.ms": "6000",
        "group.consumer.min.heartbeat.interval.ms": "500",
        # after a SIGKILL the restarted broker waits out its old session before it may register
        "broker.session.timeout.ms": "3000",
        "broker.heartbeat.interval.ms": "500",
        "log.segment.bytes": str(16 * 1024 * 1024),
        "log.retention.check.interval.ms": "60000",
        "num.network.threads": "2",
        "num.io.threads": "4",
    }
    return "".join(f"{key}={value}\n" for key, value in settings.items())


def _cluster_id() -> str:
    """22-char url-safe base64 UUID; like Kafka's ``Uuid.randomUuid`` never starting with '-'."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii").rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


class JavaService:
    """A JVM service on loopback ports chosen at first start and kept across restarts.

    The lifecycle the broker and the registry share; subclasses prepare the process, say when it
    answers, and name their ports.
    """

    service = "service"
    log_name = "service.log"

    def __init__(
        self, *, cache_dir: Path | None, version: str, heap_max: str, startup_timeout_s: float, stop_grace_s: float
    ) -> None:
        self._cache_dir = cache_dir
        self._version = version
        self._heap_max = heap_max
        self._startup_timeout_s = startup_timeout_s
        self._stop_grace_s = stop_grace_s
        self._tmp: Path | None = None
        self._process: JavaProcess | None = None

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def log_path(self) -> Path:
        if self._tmp is None:
            raise HarnessError(f"{self.service} not started")
        return self._tmp / self.log_name

    def running(self) -> bool:
        return self._process is not None and self._process.running()

    def start(self) -> None:
        """Fetch (cached), prepare on first start, launch the JVM and wait until it answers."""
        if self._process is None:
            self._prepare()
        assert self._process is not None
        started = time.monotonic()
        self._process.start()
        self._wait_ready(started)
        log.info("service_started", service=self.service, pid=self.pid, s=round(time.monotonic() - started, 1))

    def stop(self) -> None:
        """SIGTERM, SIGKILL after the grace period; the data stays for a restart."""
        if self._process is not None:
            self._process.stop(self._stop_grace_s)
            self._wait_ports_released()

    def kill(self) -> None:
        """SIGKILL; what was already written stays on disk."""
        if self._process is not None:
            self._process.kill()
            self._wait_ports_released()

    def restart(self) -> None:
        """Stop, then start again on the same ports with the same data."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop and delete the temp dir (and with it the data)."""
        try:
            self.stop()
        finally:
            if self._tmp is not None:
                shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
            self._process = None
            self._forget_ports()

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _wait_ports_released(self) -> None:
        for port in self._port_numbers():
            wait_port_free(port)

    def _prepare(self) -> None:
        raise NotImplementedError

    def _wait_ready(self, started: float) -> None:
        raise NotImplementedError

    def _port_numbers(self) -> tuple[int, ...]:
        raise NotImplementedError

    def _forget_ports(self) -> None:
        raise NotImplementedError


class KafkaBroker(JavaService):
    """A single-node KRaft broker on free loopback ports; data survives ``restart()``."""

    service = "kafka"
    log_name = "broker.log"

    def __init__(
        self,
        *,
        cache_dir: Path | None = None,
        version: str = KAFKA_VERSION,
        heap_max: str = "768m",
        startup_timeout_s: float = 60.0,
        stop_grace_s: float = 20.0,
    ) -> None:
        super().__init__(
            cache_dir=cache_dir, version=version, heap_max=heap_max,
            startup_timeout_s=startup_timeout_s, stop_grace_s=stop_grace_s,
        )
        self._ports: BrokerPorts | None = None

    @property
    def bootstrap(self) -> str:
        """``127.0.0.1:<port>`` of the PLAINTEXT listener."""
        if self._ports is None:
            raise HarnessError("broker not started")
        return f"{LOOPBACK}:{self._ports.broker}"

    def _prepare(self) -> None:
        home = fetch(self._cache_dir, self._version)
        self._tmp = Path(tempfile.mkdtemp(prefix="kafka-broker-"))
        broker_port, controller_port = free_ports(2)
        self._ports = BrokerPorts(broker=broker_port, controller=controller_port)
        props = self._tmp / "server.properties"
        props.write_text(_server_properties(self._ports, self._tmp / "data"))
        java = java_executable()
        classpath = f"{home / 'libs'}/*"
        base = [java, f"-Dlog4j2.configurationFile={home / 'log4j2.properties'}", "-cp", classpath]
        fmt = subprocess.run(
            [*base, "kafka.tools.StorageTool", "format", "-t", _cluster_id(), "-c", str(props)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if fmt.returncode != 0:
            raise HarnessError(f"kafka StorageTool format failed:\n{fmt.stdout}\n{fmt.stderr}")
        argv = [
            java,
            "-Xms256m",
            f"-Xmx{self._heap_max}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={home / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self._tmp / 'logs'}",
            "-cp",
            classpath,
            "kafka.Kafka",
            str(props),
        ]
        self._process = JavaProcess(argv, self._tmp / self.log_name, cwd=self._tmp)

    def _wait_ready(self, started: float) -> None:
        assert self._process is not None and self._ports is not None
        deadline = started + self._startup_timeout_s
        admin: AdminClient | None = None
        while time.monotonic() < deadline:
            if not self._process.running():
                raise HarnessError(f"kafka broker exited during start-up; log tail:\n{self._process.tail()}")
            if is_listening(self._ports.broker):
                admin = admin or AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0})
                with contextlib.suppress(Exception):
                    if admin.list_topics(timeout=2).brokers:
                        return
            time.sleep(0.2)
        tail = self._process.tail()
        self._process.kill()
        raise HarnessError(f"kafka broker not ready after {self._startup_timeout_s:.0f}s; log tail:\n{tail}")

    def _port_numbers(self) -> tuple[int, ...]:
        return () if self._ports is None else (self._ports.broker, self._ports.controller)

    def _forget_ports(self) -> None:
        self._ports = None


def java_executable() -> str:
    """``$JAVA_HOME/bin/java`` when present, else ``java`` from PATH."""
    java_home = os.environ.get("JAVA_HOME")
    candidate = Path(java_home) / "bin" / "java" if java_home else None
    if candidate is not None and candidate.exists():
        return str(candidate)
    found = shutil.which("java")
    if found is None:
        raise HarnessError("java not found on PATH; Java 17+ is needed to run the test broker")
    return found


def _admin(bootstrap: str) -> AdminClient:
    return AdminClient({"bootstrap.servers": bootstrap})


def set_group_config(bootstrap: str, group: str, config: dict[str, str], timeout_s: float = 30.0) -> None:
    """Set KIP-848 group configs (``consumer.session.timeout.ms``, ``consumer.heartbeat.interval.ms``)."""
    entries = [ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in config.items()]
    resource = ConfigResource(ConfigResource.Type.GROUP, group, incremental_configs=entries)
    admin = _admin(bootstrap)  # kept referenced until the answer is in: a collected client fails the future
    admin.incremental_alter_configs([resource])[resource].result(timeout_s)


def create_topic(
    bootstrap: str,
    name: str,
    partitions: int = 1,
    config: dict[str, str] | None = None,
    timeout_s: float = 30.0,
) -> None:
    """Create ``name`` and wait until metadata shows every partition with a leader."""
    admin = _admin(bootstrap)
    new_topic = NewTopic(name, num_partitions=partitions, replication_factor=1, config=config or {})
    admin.create_topics([new_topic], operation_timeout=timeout_s)[name].result(timeout=timeout_s)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        meta = admin.list_topics(topic=name, timeout=5).topics.get(name)
        if (
            meta is not None
            and meta.error is None
            and len(meta.partitions) == partitions
            and all(p.leader >= 0 and p.error is None for p in meta.partitions.values())
        ):
            return
        time.sleep(0.1)
    raise HarnessError(f"topic {name} has no leader for all {partitions} partitions after {timeout_s}s")


def _partitions(admin: AdminClient, topic: str) -> list[int]:
    meta = admin.list_topics(topic=topic, timeout=10).topics.get(topic)
    if meta is None or meta.error is not None:
        raise HarnessError(f"topic {topic} not found: {None if meta is None else meta.error}")
    return sorted(meta.partitions)


def end_offsets(bootstrap: str, topic: str, timeout_s: float = 10.0) -> dict[int, int]:
    """Log-end offset (next offset to be written) of every partition of ``topic``."""
    admin = _admin(bootstrap)
    latest = OffsetSpec.latest()  # type: ignore[no-untyped-call]
    request = {TopicPartition(topic, p): latest for p in _partitions(admin, topic)}
    futures = admin.list_offsets(request, request_timeout=timeout_s)
    return {tp.partition: future.result(timeout=timeout_s).offset for tp, future in futures.items()}


def committed_offsets(bootstrap: str, group: str, topic: str, timeout_s: float = 10.0) -> dict[int, int]:
    """Offsets ``group`` committed for ``topic``, by partition; partitions without a commit are left out."""
    # Not AdminClient.list_consumer_group_offsets: it can segfault on NOT_COORDINATOR (librdkafka #5040).
    admin = _admin(bootstrap)
    wanted = [TopicPartition(topic, p) for p in _partitions(admin, topic)]
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        result = consumer.committed(wanted, timeout=timeout_s)
    finally:
        consumer.close()
    return {tp.partition: tp.offset for tp in result if tp.error is None and tp.offset >= 0}


def produce(
    bootstrap: str, topic: str, messages: Iterable[tuple[bytes | None, bytes | None]], timeout_s: float = 30.0
) -> int:
    """Produce ``(key, value)`` pairs, wait for every delivery report; return how many were acked."""
    failures: list[str] = []
    acked = 0

    def on_delivery(err: object, _msg: object) -> None:
        nonlocal acked
        if err is None:
            acked += 1
        else:
            failures.append(str(err))

    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5})
    for key, value in messages:
        producer.produce(topic, value=value, key=key, on_delivery=on_delivery)
        producer.poll(0)
    remaining = producer.flush(timeout_s)
    if remaining or failures:
        raise HarnessError(f"produce to {topic}: {remaining} undelivered, errors: {failures[:5]}")
    return acked


def consume_all(
    bootstrap: str, topic: str, expected: int, timeout_s: float = 30.0
) -> list[tuple[bytes | None, bytes | None]]:
    """Read ``expected`` messages from the beginning of ``topic`` with a throwaway group (no commits)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"harness-reader-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    out: list[tuple[bytes | None, bytes | None]] = []
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + timeout_s
        while len(out) < expected and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error() is not None:
                raise HarnessError(f"consume from {topic}: {msg.error()}")
            out.append((msg.key(), msg.value()))
    finally:
        consumer.close()
    return out


def run_until_signal(is_running: Callable[[], bool]) -> None:
    """Block until SIGINT/SIGTERM arrives or ``is_running()`` turns false (CLI ``run`` commands)."""
    stop = threading.Event()

    def handle(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
    while not stop.is_set() and is_running():
        stop.wait(1.0)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.harness.kafka_broker")
    parser.add_argument("command", choices=["fetch", "run"])
    parser.add_argument("--cache-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.command == "fetch":
        print(fetch(args.cache_dir))
        return 0
    with KafkaBroker(cache_dir=args.cache_dir) as broker:
        print(f"KAFKA_BOOTSTRAP_SERVERS={broker.bootstrap}", flush=True)
        run_until_signal(broker.running)
    return 0


if __name__ == "__main__":
    sys.exit(main())
