"""Static checks of the Docker packaging, the compose stack, Prometheus and Grafana files (no Docker here)."""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from connector.commands.check import collect_problems
from connector.observability.metrics import REGISTRY

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "aep-connector.json"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
PROMETHEUS = ROOT / "deploy" / "prometheus" / "prometheus.yml"
CONFIG_TARGET = "/etc/aep-connector/connector.yaml"
_METRIC = re.compile(r"\baep_connector_[A-Za-z0-9_]+")
_SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_count", "_sum", "_created")}


def _compose() -> dict[str, Any]:
    doc = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


def _services() -> dict[str, dict[str, Any]]:
    services = _compose()["services"]
    assert isinstance(services, dict)
    return services


def _bind_mounts(service: dict[str, Any]) -> list[tuple[Path, str]]:
    out = []
    for volume in service.get("volumes", []):
        source, target = str(volume).split(":")[:2]
        if source.startswith((".", "/")):
            out.append(((ROOT / source).resolve(), target))
    return out


def _connector_services() -> dict[str, dict[str, Any]]:
    """Services that run the connector: those with the connector config mounted."""
    return {
        name: svc
        for name, svc in _services().items()
        if any(target == CONFIG_TARGET for _, target in _bind_mounts(svc))
    }


def _compose_connector_config() -> dict[str, Any]:
    doc = yaml.safe_load((ROOT / "deploy" / "connector.compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


def _exported_names() -> set[str]:
    names: set[str] = set()
    for family in REGISTRY.collect():
        names.add(family.name)
        names.update(family.name + s for s in _SUFFIXES.get(family.type, ()))
    return names


def _dashboard_exprs() -> list[str]:
    dash = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]


def _alert_exprs() -> list[str]:
    doc = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return [str(r["expr"]) for g in doc["groups"] for r in g["rules"]]


def test_compose_file_parses_with_the_expected_services() -> None:
    """docker-compose.yml holds Kafka, a registry, the emulator, two connectors, producer, Prometheus, Grafana."""
    services = _services()
    for name in ("kafka", "schema-registry", "aep-emulator", "sample-producer", "prometheus", "grafana"):
        assert name in services, name
    assert sorted(_connector_services()) == ["connector-1", "connector-2"]
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert services["aep-emulator"]["command"][:3] == ["emulator", "--host", "0.0.0.0"]
    assert services["sample-producer"]["entrypoint"][:3] == ["python", "-m", "connector.ops.sample_producer"]


def test_every_mounted_host_file_exists() -> None:
    """Each bind mount of every compose service names a file or folder that is in the repository."""
    for name, svc in _services().items():
        for source, _ in _bind_mounts(svc):
            assert source.exists(), f"{name}: {source} does not exist"
            assert ROOT in source.parents, f"{name}: {source} is outside the repository"


def test_both_connectors_share_one_consumer_group() -> None:
    """The two connector replicas run the same config, so they split the partitions of one group."""
    mounts = [sorted(str(s) for s, _ in _bind_mounts(svc)) for svc in _connector_services().values()]
    assert len(mounts) == 2 and mounts[0] == mounts[1]
    envs = [svc.get("environment", {}) for svc in _connector_services().values()]
    assert all("CONNECTOR_GROUP_ID" not in e for e in envs)


def test_service_hosts_in_the_connector_config_are_compose_services() -> None:
    """Kafka, the inlet and the registry named in the compose config resolve to compose services and ports."""
    cfg, services = _compose_connector_config(), _services()
    env_default = re.compile(r"\$\{[A-Z_]+:-([^}]*)\}")

    def value(text: str) -> str:
        return env_default.sub(r"\1", text)

    host, port = value(cfg["kafka"]["bootstrap_servers"]).split(":")
    assert (
        host in services and f"PLAINTEXT://{host}:{port}" in services[host]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    )
    inlet = re.match(r"http://([^:/]+):(\d+)/collection/", value(cfg["aep"]["inlet_url"]))
    assert inlet is not None and inlet.group(1) == "aep-emulator"
    assert services["aep-emulator"]["command"][-1] == inlet.group(2)
    registry = re.match(r"http://([^:/]+):(\d+)/", value(cfg["schema_registry"]["url"]))
    assert registry is not None and registry.group(1) in services


def test_prometheus_targets_are_the_connector_services_and_metrics_port() -> None:
    """Every scrape target is a connector service on the metrics_port of the compose connector config."""
    prom = yaml.safe_load(PROMETHEUS.read_text(encoding="utf-8"))
    targets = [t for job in prom["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]]
    cfg = _compose_connector_config()["observability"]
    assert cfg["metrics_host"] == "0.0.0.0"
    port = cfg["metrics_port"]
    assert sorted(targets) == sorted(f"{name}:{port}" for name in _connector_services())
    for svc in _connector_services().values():
        assert any(str(p).endswith(f":{port}") for p in svc.get("ports", []))
    prom_svc = _services()["prometheus"]
    mounted = {target for _, target in _bind_mounts(prom_svc)}
    assert "/etc/prometheus/prometheus.yml" in mounted
    assert all(f in mounted for f in prom.get("rule_files", []))


def test_grafana_provisioning_points_at_prometheus_and_the_dashboard_mount() -> None:
    """The datasource URL is the prometheus service; the dashboard provider reads the mounted dashboards folder."""
    base = ROOT / "deploy" / "grafana" / "provisioning"
    ds = yaml.safe_load((base / "datasources" / "prometheus.yml").read_text(encoding="utf-8"))
    url = ds["datasources"][0]["url"]
    assert url == "http://prometheus:9090"
    assert any(str(p).endswith(":9090") for p in _services()["prometheus"]["ports"])
    provider = yaml.safe_load((base / "dashboards" / "aep-connector.yml").read_text(encoding="utf-8"))
    path = provider["providers"][0]["options"]["path"]
    mounts = {t: s for s, t in _bind_mounts(_services()["grafana"])}
    assert mounts[path] == DASHBOARD.parent
    uids = {p["datasource"]["uid"] for p in json.loads(DASHBOARD.read_text(encoding="utf-8"))["panels"]}
    assert uids == {ds["datasources"][0]["uid"]}


@pytest.mark.parametrize("source", ["dashboard", "alerts"])
def test_queries_use_only_exported_metric_names(source: str) -> None:
    """Every aep_connector_* name in the dashboard and alert PromQL is registered (with its type's suffixes)."""
    exprs = _dashboard_exprs() if source == "dashboard" else _alert_exprs()
    used = {name for e in exprs for name in _METRIC.findall(e)}
    assert used, "no aep_connector_* metric used"
    assert used - _exported_names() == set()


def test_dashboard_covers_the_operations_panels() -> None:
    """The dashboard shows lag per partition, throughput, dead letters by reason, DCS percentiles, paused partitions."""
    exprs = " ".join(_dashboard_exprs())
    for needle in (
        "max by (topic, partition) (aep_connector_consumer_lag)",
        "rate(aep_connector_records_consumed_total",
        "sum by (reason) (rate(aep_connector_records_dead_lettered_total",
        "histogram_quantile(0.99, sum by (le) (rate(aep_connector_dcs_request_seconds_bucket",
        "aep_connector_paused_partitions",
    ):
        assert needle in exprs, needle


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    out = []
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile_copies_only_files_that_exist_and_are_not_dockerignored() -> None:
    """Every COPY source (except from a build stage) exists and is re-included by .dockerignore."""
    ignore = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    allowed = {p.lstrip("!").rstrip("/") for p in ignore if p.startswith("!")}
    copies = [shlex.split(rest) for word, rest in _dockerfile_instructions() if word == "COPY"]
    assert copies
    for args in copies:
        if any(a.startswith("--from=") for a in args):
            continue
        for source in [a for a in args if not a.startswith("--")][:-1]:
            assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
            assert source.rstrip("/") in allowed, f"COPY {source}: excluded by .dockerignore"


def test_dockerfile_runtime_shape() -> None:
    """Multi-stage slim images, non-root, aep-connector entrypoint, mounted config, /healthz check, metrics port."""
    ins = _dockerfile_instructions()
    froms = [rest for word, rest in ins if word == "FROM"]
    assert len(froms) == 2 and all(f.startswith("python:3.11-slim") for f in froms)
    assert [rest for word, rest in ins if word == "USER"] == ["10001:10001"]
    assert json.loads(next(rest for word, rest in ins if word == "ENTRYPOINT")) == ["aep-connector"]
    assert json.loads(next(rest for word, rest in ins if word == "CMD")) == ["run", "-c", CONFIG_TARGET]
    health = next(rest for word, rest in ins if word == "HEALTHCHECK")
    assert "/healthz" in health and "urllib" in health and "curl" not in health
    port = _compose_connector_config()["observability"]["metrics_port"]
    assert [rest for word, rest in ins if word == "EXPOSE"] == [str(port)]
    assert f"AEP_CONNECTOR_METRICS_PORT={port}" in " ".join(rest for word, rest in ins if word == "ENV")
    runtime = ins[[i for i, (w, _) in enumerate(ins) if w == "FROM"][1] :]
    installs = [rest for word, rest in runtime if word == "RUN" and "pip install" in rest]
    assert installs and "--no-index" in installs[0]


def test_compose_connector_config_passes_check(tmp_path: Path) -> None:
    """The connector config, laid out as the container sees /etc/aep-connector, passes `aep-connector check`."""
    etc = tmp_path / "etc" / "aep-connector"
    etc.mkdir(parents=True)
    for source, target in _bind_mounts(_connector_services()["connector-1"]):
        dest = etc / Path(target).relative_to("/etc/aep-connector")
        if source.is_dir():
            shutil.copytree(source, dest)
        else:
            shutil.copy(source, dest)
    assert collect_problems(str(etc / "connector.yaml")) == []


def test_compose_kafka_is_the_version_the_tests_run() -> None:
    """The compose broker image is the Apache Kafka release the test harness runs."""
    from tests.harness.kafka_broker import KAFKA_VERSION

    assert _services()["kafka"]["image"] == f"apache/kafka:{KAFKA_VERSION}"


def test_connectors_wait_for_healthy_dependencies() -> None:
    """Connectors (and the producer) start only when Kafka, the registry and the emulator pass health checks."""
    services = _services()
    dependants = {**_connector_services(), "sample-producer": services["sample-producer"]}
    for name, svc in dependants.items():
        for dep, rule in svc["depends_on"].items():
            assert rule == {"condition": "service_healthy"}, f"{name} waits for {dep} only as {rule}"
            health = services[dep].get("healthcheck", {})
            assert health.get("test") and not health.get("disable"), f"{dep} has no healthcheck"
    for svc in _connector_services().values():
        assert {"kafka", "schema-registry", "aep-emulator"} <= set(svc["depends_on"])


def test_schema_registry_healthcheck_probes_readiness_on_its_port() -> None:
    """The registry's healthcheck asks Apicurio's /health/ready on the container port compose publishes."""
    registry = _services()["schema-registry"]
    test = " ".join(registry["healthcheck"]["test"])
    container_port = str(registry["ports"][0]).split(":")[-1]
    assert f"http://127.0.0.1:{container_port}/health/ready" in test


def test_compose_avro_mapping_reads_through_the_registry() -> None:
    """An Avro mapping of the compose config decodes via the registry the sample producer registers with."""
    cfg = _compose_connector_config()
    specs = [yaml.safe_load((ROOT / "config" / m["file"]).read_text(encoding="utf-8")) for m in cfg["mappings"]]
    avro = [s for s in specs if s["format"] == "avro"]
    assert avro, "no mapping of the compose stack uses the schema registry"
    producer = _services()["sample-producer"]["command"]
    avro_topic = producer[producer.index("--avro-topic") + 1]
    assert any(avro_topic in s["topics"] for s in avro) and avro_topic in cfg["kafka"]["topics"]
    registry_url = producer[producer.index("--schema-registry") + 1]
    configured = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", cfg["schema_registry"]["url"])
    assert registry_url == configured
    assert re.match(r"http://schema-registry:\d+/", registry_url)


def test_helm_chart_monitoring_files_are_the_repository_ones() -> None:
    """The chart's alert rules and dashboard are links to deploy/prometheus and deploy/grafana (one copy)."""
    files = ROOT / "deploy" / "helm" / "aep-connector" / "files"
    assert (files / "alerts.yml").resolve() == ALERTS.resolve()
    assert (files / "dashboard.json").resolve() == DASHBOARD.resolve()


def test_demo_mappings_in_the_package_are_the_example_mappings() -> None:
    """connector/demo/mappings (packaged for the demo) links to config/mappings, inside the build context."""
    link = ROOT / "connector" / "demo" / "mappings"
    assert link.is_symlink() and link.resolve() == (ROOT / "config" / "mappings").resolve()
    ignore = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert "!config/mappings/" in ignore
