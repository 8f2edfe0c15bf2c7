"""values.schema.json and the chart's own checks turn bad values away at install, naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.deploy.chart import HelmFailed, render

pytestmark = pytest.mark.deploy

BAD = {
    "inline Kafka password": (["config.kafka.consumer.sasl\\.password=hunter2"], "sasl.password"),
    "inline AEP client secret": (["config.aep.auth.client_secret=s3cr3t"], "client_secret"),
    "inline registry password": (["config.schema_registry.basic_auth_password=pw"], "basic_auth_password"),
    "secret with an inline default": (["config.aep.auth.client_secret=${AEP_SECRET:-s3cr3t}"], "client_secret"),
    "secret as a plain env value": (["extraEnv[0].name=AEP_CLIENT_SECRET", "extraEnv[0].value=s3cr3t"], "extraEnv"),
    "unknown top-level key": (["replicas=3"], "replicas"),
    "misspelt nested key": (["metrics.serviceMonitor.enable=true"], "enable"),
    "replicaCount not a number": (["replicaCount=two"], "replicaCount"),
    "no bootstrap servers": (["config.kafka.bootstrap_servers="], "bootstrap_servers"),
    "root allowed": (["securityContext.runAsNonRoot=false"], "runAsNonRoot"),
    "privilege escalation": (["securityContext.allowPrivilegeEscalation=true"], "allowPrivilegeEscalation"),
    "grace below the shutdown bound": (["terminationGracePeriodSeconds=10"], "terminationGracePeriodSeconds"),
    "KEDA and HPA together": (
        ["autoscaling.partitions=6", "autoscaling.keda.enabled=true", "autoscaling.hpa.enabled=true"], "autoscaling",
    ),
    "autoscaling without the partition count": (["autoscaling.keda.enabled=true"], "autoscaling.partitions"),
    "KEDA max above the partitions": (
        ["autoscaling.partitions=4", "autoscaling.keda.enabled=true", "autoscaling.keda.maxReplicas=8"], "exceeds",
    ),
    "replicaCount above the partitions": (["autoscaling.partitions=2", "replicaCount=3"], "exceeds"),
    "replicas x processes above the partitions": (
        ["autoscaling.partitions=4", "replicaCount=2", "processes=3"], "processes 3 exceeds",
    ),
    "processes zero": (["processes=0"], "processes"),
    "secret mount without a secret": (["secretMount.enabled=true"], "existingSecret"),
    "KEDA trigger credentials inline": (
        ["autoscaling.partitions=6", "autoscaling.keda.enabled=true", "autoscaling.keda.extraMetadata.password=pw"],
        "password",
    ),
    "mapping file shadowing connector.yaml": (["mappingFiles.connector\\.yaml.name=x"], "connector.yaml"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_values_fail_at_install(helm_bin: Path, case: str) -> None:
    """Each bad setting makes `helm template` (as `helm install`) fail with a message naming it."""
    sets, needle = BAD[case]
    extra = [a for s in sets for a in ("--set", s)]
    with pytest.raises(HelmFailed) as failed:
        render(helm_bin, ["minimal-values.yaml"], extra=extra)
    message = failed.value.stderr
    assert needle in message, message
    for secret in ("hunter2", "s3cr3t"):
        assert secret not in message, "the error echoes the credential"


def test_minimal_values_pass(helm_bin: Path) -> None:
    """The control: the same values without the bad setting render."""
    assert render(helm_bin, ["minimal-values.yaml"]).one("Deployment")


def test_secret_references_files_and_xdm_field_names_pass(helm_bin: Path) -> None:
    """${ENV} references, `_file` paths and mapping fields that merely sound secret are not credentials."""
    sets = [
        "config.kafka.consumer.sasl\\.password=${KAFKA_PASSWORD}",
        "config.aep.auth.client_secret_file=/var/run/secrets/aep-connector/client-secret",
        "mappingFiles.orders\\.yaml.fields.passwordResetAt=value.reset_at",
        "extraEnv[0].name=AEP_CLIENT_SECRET",
        "extraEnv[0].valueFrom.secretKeyRef.name=aep",
        "extraEnv[0].valueFrom.secretKeyRef.key=client-secret",
    ]
    r = render(helm_bin, ["minimal-values.yaml"], extra=[a for s in sets for a in ("--set", s)])
    assert r.container["env"][-1]["valueFrom"]["secretKeyRef"]["name"] == "aep"


def test_defaults_alone_list_every_missing_setting(helm_bin: Path) -> None:
    """Without any values the install fails, listing all the required settings at once."""
    with pytest.raises(HelmFailed) as failed:
        render(helm_bin, [])
    for needle in ("bootstrap_servers", "topics", "inlet_url", "ims_org", "mappings"):
        assert needle in failed.value.stderr, needle
