"""The Helm chart rendered by a real helm: probes, secrets, security, scaling, selectors, config."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from connector.commands.check import collect_problems
from connector.config import TransportSettings
from connector.worker import WorkerOptions
from tests.deploy.chart import CHART, RELEASE, ROOT, VALUES, Rendered, helm, matches, render, values_args

pytestmark = pytest.mark.deploy

CI_VALUES = sorted(p.name for p in VALUES.glob("*-values.yaml"))
# Worker._shutdown flushes the dead-letter producer for 10 s; the revocation on close flushes up to 5 s.
DLQ_FLUSH_ON_SHUTDOWN_S = 10.0
DLQ_FLUSH_ON_REVOKE_S = 5.0
_SECRET_KEY = re.compile(r"(?i)(password|secret)")
_ENV_REF = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$")


def _files(r: Rendered) -> dict[str, str]:
    """The files the config volume puts in /etc/aep-connector (the chart's ConfigMap)."""
    cm = next(m for m in r.all("ConfigMap") if "connector.yaml" in m["data"])
    data: dict[str, str] = cm["data"]
    return data


def _dockerfile_user() -> tuple[int, int]:
    users = [line.split()[1] for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("USER ")]
    uid, gid = users[-1].split(":")
    return int(uid), int(gid)


def _walk(node: Any, path: str = "") -> list[tuple[str, Any]]:
    if isinstance(node, dict):
        return [kv for k, v in node.items() for kv in _walk(v, f"{path}.{k}")] + [(path, node)]
    if isinstance(node, list):
        return [kv for i, v in enumerate(node) for kv in _walk(v, f"{path}[{i}]")]
    return [(path, node)]


@pytest.mark.parametrize("values", CI_VALUES)
def test_lint_passes_strictly(helm_bin: Path, values: str) -> None:
    """`helm lint --strict` accepts the chart with each values file of ci/."""
    helm(helm_bin, ["lint", "--strict", "--kube-version", "1.31.0", str(CHART), *values_args([values])])


@pytest.mark.parametrize("values", CI_VALUES)
def test_probes_hit_the_health_endpoints_on_the_configured_metrics_port(helm_bin: Path, values: str) -> None:
    """startup and liveness on /healthz, readiness on /readyz, all on the port the connector serves."""
    r = render(helm_bin, [values])
    c = r.container
    assert c["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert c[probe]["httpGet"]["port"] in ports
    # The startup probe gives the worker time to build (Kafka admin, IMS token) before liveness counts.
    startup = c["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 120
    if "existingConfigMap" not in (VALUES / values).read_text():
        observability = yaml.safe_load(_files(r)["connector.yaml"])["observability"]
        assert observability["metrics_host"] == "0.0.0.0"
        assert observability["metrics_port"] == ports["metrics"]
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["AEP_CONNECTOR_METRICS_PORT"] == str(ports["metrics"]), "the image's HEALTHCHECK reads it"


@pytest.mark.parametrize("values", [v for v in CI_VALUES if v != "monitoring-values.yaml"])
def test_config_is_mounted_where_the_container_reads_it_and_passes_check(
    helm_bin: Path, values: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`run -c` names connector.yaml in the config volume's mount; those files pass `aep-connector check`."""
    r = render(helm_bin, [values])
    args = r.container["args"]
    assert args[:2] == ["run", "-c"]
    config_file = Path(args[2])
    mounts = {m["name"]: m for m in r.container["volumeMounts"]}
    volumes = {v["name"]: v for v in r.pod_spec["volumes"]}
    config_mount = next(m for m in mounts.values() if Path(m["mountPath"]) == config_file.parent)
    assert config_mount["readOnly"] is True
    source = volumes[config_mount["name"]]["configMap"]["name"]
    cm = next(m for m in r.all("ConfigMap") if m["metadata"]["name"] == source)
    assert config_file.name in cm["data"]
    # Lay the ConfigMap out as the kubelet does and run the connector's own validation on it.
    for name, text in cm["data"].items():
        (tmp_path / name).write_text(text)
    for name in ("KAFKA_PASSWORD", "AEP_CLIENT_ID", "AEP_CLIENT_SECRET"):
        monkeypatch.setenv(name, "from-the-secret")
    problems = collect_problems(str(tmp_path / config_file.name))
    # Files under the secret mount exist only in the cluster.
    assert [p for p in problems if "/var/run/secrets/" not in p] == []


def test_existing_secret_is_the_only_source_of_credentials(helm_bin: Path) -> None:
    """No Secret and no credential is rendered: the pod takes existingSecret as env and files."""
    r = render(helm_bin, ["existing-secret-values.yaml"])
    assert "Secret" not in r.kinds()
    c = r.container
    assert c["envFrom"] == [{"secretRef": {"name": "aep-connector-credentials"}}]
    secret_volume = next(v for v in r.pod_spec["volumes"] if "secret" in v)
    assert secret_volume["secret"]["secretName"] == "aep-connector-credentials"
    assert any(m["name"] == secret_volume["name"] and m["readOnly"] for m in c["volumeMounts"])
    for e in c["env"]:
        assert not (_SECRET_KEY.search(e["name"]) and "value" in e), e
    config = yaml.safe_load(_files(r)["connector.yaml"])
    secret_values = [(p, v) for p, v in _walk(config) if _SECRET_KEY.search(p.rsplit(".", 1)[-1])]
    assert secret_values, "the example sets credentials (as references)"
    for where, value in secret_values:
        assert isinstance(value, str) and _ENV_REF.match(value), f"{where}: {value!r} is not an ${{ENV}} reference"


def test_minimal_install_renders_no_secret_and_no_env_from(helm_bin: Path) -> None:
    """Without existingSecret nothing secret-related is rendered at all."""
    r = render(helm_bin, ["minimal-values.yaml"])
    assert "Secret" not in r.kinds()
    assert "envFrom" not in r.container
    assert not any("secret" in v for v in r.pod_spec["volumes"])


@pytest.mark.parametrize("values", CI_VALUES)
def test_pod_runs_non_root_read_only_without_capabilities_within_resources(helm_bin: Path, values: str) -> None:
    """Non-root as the image's user, read-only root fs with a writable /tmp, no capabilities, requests and limits."""
    r = render(helm_bin, [values])
    pod, c = r.pod_spec["securityContext"], r.container
    uid, gid = _dockerfile_user()
    assert pod["runAsNonRoot"] is True and pod["runAsUser"] == uid and pod["runAsGroup"] == gid
    assert pod["seccompProfile"]["type"] == "RuntimeDefault"
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"] and "add" not in sc["capabilities"]
    tmp = next(m for m in c["volumeMounts"] if m["mountPath"] == "/tmp")
    assert "emptyDir" in next(v for v in r.pod_spec["volumes"] if v["name"] == tmp["name"])
    assert {"cpu", "memory"} <= set(c["resources"]["requests"]) and "memory" in c["resources"]["limits"]
    assert r.pod_spec["automountServiceAccountToken"] is False


def test_termination_grace_exceeds_the_worker_shutdown_bound(helm_bin: Path) -> None:
    """SIGTERM -> drain, abandon in-flight requests, flush the DLQ, commit, leave the group: all inside the grace."""
    opt, transport = WorkerOptions(), TransportSettings()
    bound = (
        opt.shutdown_timeout_s
        + transport.connect_timeout_s + transport.read_timeout_s  # a request still open when the drain gives up
        + DLQ_FLUSH_ON_SHUTDOWN_S
        + opt.revoke_grace_s + DLQ_FLUSH_ON_REVOKE_S  # close() revokes the partitions once more
    )
    grace = render(helm_bin, ["minimal-values.yaml"]).pod_spec["terminationGracePeriodSeconds"]
    assert grace > bound, f"terminationGracePeriodSeconds {grace} <= worker shutdown bound {bound:.0f}s"


def test_fixed_replicas_without_autoscaling(helm_bin: Path) -> None:
    """Without autoscaling the Deployment owns replicaCount and nothing scales it."""
    r = render(helm_bin, ["minimal-values.yaml"])
    assert r.one("Deployment")["spec"]["replicas"] == 2
    assert not {"ScaledObject", "HorizontalPodAutoscaler"} & r.kinds()
    strategy = r.one("Deployment")["spec"]["strategy"]["rollingUpdate"]
    assert strategy == {"maxSurge": 0, "maxUnavailable": 1}, "a surge replica beyond the partitions never gets ready"


def test_processes_per_pod_reach_the_run_command(helm_bin: Path) -> None:
    """`processes: N` runs `run --processes N`; the default runs one worker and passes no flag."""
    assert "--processes" not in render(helm_bin, ["minimal-values.yaml"]).container["args"]
    args = render(helm_bin, ["minimal-values.yaml"], extra=["--set", "processes=3"]).container["args"]
    assert args[-2:] == ["--processes", "3"] and args[0] == "run"


def test_keda_scales_on_the_groups_lag_capped_at_the_partitions(helm_bin: Path) -> None:
    """KEDA on: the Deployment leaves replicas to KEDA; the Kafka trigger watches the config's group and brokers."""
    r = render(helm_bin, ["keda-values.yaml"])
    deployment = r.one("Deployment")
    assert "replicas" not in deployment["spec"], "helm upgrade would reset KEDA's replica count"
    assert "HorizontalPodAutoscaler" not in r.kinds()
    so = r.one("ScaledObject")
    assert so["apiVersion"] == "keda.sh/v1alpha1"
    assert so["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                           "name": deployment["metadata"]["name"]}
    values = yaml.safe_load((VALUES / "keda-values.yaml").read_text())
    assert so["spec"]["minReplicaCount"] == 2
    assert so["spec"]["maxReplicaCount"] == values["autoscaling"]["partitions"] == 12
    [trigger] = so["spec"]["triggers"]
    meta = trigger["metadata"]
    assert trigger["type"] == "kafka"
    assert meta["bootstrapServers"] == values["config"]["kafka"]["bootstrap_servers"]
    assert meta["consumerGroup"] == values["config"]["kafka"]["group_id"]
    assert meta["lagThreshold"] == "5000"
    assert meta["allowIdleConsumers"] == "false"
    assert meta["excludePersistentLag"] == "true", "an AEP outage stops every partition: no point scaling out"
    assert all(isinstance(v, str) for v in meta.values()), "KEDA trigger metadata is string-valued"
    assert trigger["authenticationRef"] == {"name": "kafka-sasl"}
    scale_down = so["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleDown"]
    assert scale_down["stabilizationWindowSeconds"] >= 300


def test_hpa_alternative_owns_the_replicas(helm_bin: Path) -> None:
    """HPA on: an autoscaling/v2 HPA targets the Deployment, which leaves replicas alone."""
    r = render(helm_bin, ["hpa-values.yaml"])
    assert "replicas" not in r.one("Deployment")["spec"]
    assert "ScaledObject" not in r.kinds()
    hpa = r.one("HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"]["name"] == r.one("Deployment")["metadata"]["name"]
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 6)


@pytest.mark.parametrize("values", CI_VALUES)
def test_labels_and_selectors_agree(helm_bin: Path, values: str) -> None:
    """Deployment, Service, PDB, NetworkPolicy and ServiceMonitor select the replicas, and only them."""
    r = render(helm_bin, [values])
    deployment = r.one("Deployment")
    selector = deployment["spec"]["selector"]["matchLabels"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert matches(selector, pod_labels)
    service = r.one("Service")
    assert service["spec"]["selector"] == selector
    assert service["spec"]["publishNotReadyAddresses"] is True, "scrape replicas that are unready in an AEP outage"
    port_names = {p["name"] for p in r.container["ports"]}
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= port_names
    assert r.one("PodDisruptionBudget")["spec"]["selector"]["matchLabels"] == selector
    for policy in r.all("NetworkPolicy"):
        assert policy["spec"]["podSelector"]["matchLabels"] == selector
    for monitor in r.all("ServiceMonitor"):
        assert matches(monitor["spec"]["selector"]["matchLabels"], service["metadata"]["labels"])
        assert {e["port"] for e in monitor["spec"]["endpoints"]} <= {p["name"] for p in service["spec"]["ports"]}
    for pod in r.all("Pod"):  # the `helm test` pod must not be adopted by the ReplicaSet or counted by the PDB
        assert not matches(selector, pod["metadata"]["labels"])
    for m in r.manifests:
        assert m["metadata"]["name"].startswith(RELEASE), m["metadata"]["name"]


def test_config_change_rolls_the_replicas(helm_bin: Path) -> None:
    """A changed config changes the pod template (checksum), so `helm upgrade` restarts the replicas."""
    a = render(helm_bin, ["minimal-values.yaml"])
    b = render(helm_bin, ["minimal-values.yaml"], extra=["--set", "config.kafka.group_id=another"])
    key = "checksum/config"
    annotations = [x.one("Deployment")["spec"]["template"]["metadata"]["annotations"] for x in (a, b)]
    assert annotations[0][key] != annotations[1][key]


def test_monitoring_objects_carry_the_repository_rules_and_dashboard(helm_bin: Path) -> None:
    """ServiceMonitor (job=aep-connector), PrometheusRule = deploy/prometheus/alerts.yml, dashboard ConfigMap."""
    r = render(helm_bin, ["monitoring-values.yaml"])
    monitor = r.one("ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    job_label = monitor["spec"]["jobLabel"]
    alerts = yaml.safe_load((ROOT / "deploy" / "prometheus" / "alerts.yml").read_text())
    assert any('job="aep-connector"' in str(rule["expr"]) for g in alerts["groups"] for rule in g["rules"])
    assert r.one("Service")["metadata"]["labels"][job_label] == "aep-connector", "the AepConnectorDown rule's job"
    rule = r.one("PrometheusRule")
    assert rule["spec"]["groups"] == alerts["groups"]
    dashboard = next(m for m in r.all("ConfigMap") if m["metadata"]["name"].endswith("-dashboard"))
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert dashboard["metadata"]["namespace"] == "monitoring"
    shipped = json.loads((ROOT / "deploy" / "grafana" / "dashboards" / "aep-connector.json").read_text())
    assert json.loads(dashboard["data"]["aep-connector.json"]) == shipped


def test_existing_config_map_is_mounted_and_none_rendered(helm_bin: Path) -> None:
    """existingConfigMap: the chart renders no config of its own and mounts the operator's."""
    r = render(helm_bin, ["monitoring-values.yaml"])
    assert not any("connector.yaml" in m.get("data", {}) for m in r.all("ConfigMap"))
    config = next(v for v in r.pod_spec["volumes"] if v["name"] == "config")
    assert config["configMap"]["name"] == "aep-connector-config"
    assert "checksum/config" not in (r.one("Deployment")["spec"]["template"]["metadata"].get("annotations") or {})


def test_network_policy_admits_scrapes_and_allows_dns(helm_bin: Path) -> None:
    """Ingress only to the metrics port from the listed peers; egress rules keep DNS open."""
    policy = render(helm_bin, ["monitoring-values.yaml"]).one("NetworkPolicy")
    [ingress] = policy["spec"]["ingress"]
    assert ingress["ports"] == [{"port": "metrics", "protocol": "TCP"}]
    assert ingress["from"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] == "monitoring"
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert {"port": 53, "protocol": "UDP"} in policy["spec"]["egress"][0]["ports"]


def test_repository_mappings_install_with_set_file(helm_bin: Path, tmp_path: Path) -> None:
    """The README's install: mapping files of config/mappings passed with --set-file pass `check` as mounted."""
    names = ["loyalty-profiles.yaml", "loyalty-events.yaml"]
    escaped = {n: n.replace(".", "\\.") for n in names}  # helm --set keys escape dots
    extra = [a for n in names for a in ("--set-file", f"mappingFiles.{escaped[n]}=config/mappings/{n}")]
    extra += ["--set", "config.kafka.topics={loyalty-profiles,loyalty-events}"]
    for i, n in enumerate(names):
        extra += ["--set", f"config.mappings[{i}].file={n}"]
    r = render(helm_bin, ["minimal-values.yaml"], extra=extra)
    files = _files(r)
    for n in names:
        assert yaml.safe_load(files[n]) == yaml.safe_load((ROOT / "config" / "mappings" / n).read_text())
        (tmp_path / n).write_text(files[n])
    (tmp_path / "connector.yaml").write_text(files["connector.yaml"])
    assert collect_problems(str(tmp_path / "connector.yaml")) == []


def _readme_installs() -> list[list[str]]:
    """The `helm upgrade --install` commands of the chart README, continuation lines joined."""
    text = (CHART / "README.md").read_text().replace("\\\n", " ")
    commands = [shlex.split(line.strip()) for line in text.splitlines() if line.strip().startswith("helm upgrade")]
    return [c for c in commands if "--install" in c]


def test_chart_readme_install_commands_render(helm_bin: Path) -> None:
    """Each install command of the chart README renders as written (values files and --set-file paths exist)."""
    commands = _readme_installs()
    assert len(commands) >= 2
    for words in commands:
        chart_at = words.index("deploy/helm/aep-connector")
        flags = words[chart_at + 1 :]
        rendered = render(helm_bin, [], extra=flags)
        assert rendered.one("Deployment")
