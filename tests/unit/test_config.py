"""Config loading: every problem is reported at once; secrets never show; env interpolation."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.cli import main
from connector.config import Secret, load_settings
from connector.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]

BROKEN = """
kafka:
  bootstrap_servers: 127.0.0.1:9092
  topics: ["^([unclosed"]
  consumer:
    enable.auto.commit: true
aep:
  inlet_url: ftp://nowhere
  auth:
    enabled: true
dead_letter: {}
batching:
  max_records: 0
  max_bytes: 2000000
surprise: 1
mappings:
  - file: mappings/does-not-exist.yaml
"""


def test_check_lists_every_problem_and_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`aep-connector check` on a config with many different mistakes lists all of them, exit 2."""
    cfg = tmp_path / "broken.yaml"
    cfg.write_text(BROKEN)
    assert main(["check", "-c", str(cfg)]) == 2
    err = capsys.readouterr().err
    for expected in (
        "kafka.topics[0]: invalid regex",
        "kafka.consumer.enable.auto.commit: is managed by the connector",
        "aep.inlet_url: must look like",
        "auth.client_id: is required when auth is enabled",
        "auth.client_secret: is required",
        "dead_letter.topic: is required",
        "batching.max_records: must be >= 1",
        "batching.max_bytes: must be <= 1000000",
        "surprise: unknown key",
        "does-not-exist.yaml",
    ):
        assert expected in err, f"missing {expected!r} in:\n{err}"


def test_example_config_passes_check() -> None:
    """The shipped example config and its mappings are valid."""
    assert main(["check", "-c", str(REPO / "config" / "connector.example.yaml")]) == 0


def test_env_interpolation_and_secret_masking(tmp_path: Path) -> None:
    """${VAR} and ${VAR:-default} are substituted; secrets from env or file never show in repr."""
    (tmp_path / "secret.txt").write_text("s3cr3t-from-file\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        """
kafka: {bootstrap_servers: "${BOOT}", topics: [t]}
aep:
  inlet_url: "${INLET:-http://127.0.0.1:1/collection/abc}"
  auth: {enabled: true, client_id: me, client_secret_file: SECRET}
dead_letter: {topic: dlq}
mappings: []
""".replace("SECRET", str(tmp_path / "secret.txt"))
    )
    with pytest.raises(ConfigError) as err:
        load_settings(cfg, {"BOOT": "k:9092"})
    assert err.value.problems == ["mappings: at least one mapping is required"]
    cfg.write_text(cfg.read_text().replace("mappings: []", "mappings: [{name: m, topics: [t]}]"))
    s = load_settings(cfg, {"BOOT": "k:9092"})
    assert s.kafka.bootstrap_servers == "k:9092"
    assert s.aep.inlet_url == "http://127.0.0.1:1/collection/abc"
    assert s.aep.auth.client_secret.reveal() == "s3cr3t-from-file"
    assert "s3cr3t" not in repr(s)
    assert repr(Secret("x")) == "Secret('***')"


def test_unset_env_var_is_a_problem(tmp_path: Path) -> None:
    """A ${VAR} with no value and no default is reported, not silently empty."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text("kafka: {bootstrap_servers: '${NOPE}', topics: [t]}\naep: {inlet_url: 'http://h/collection/x'}\n"
                   "dead_letter: {topic: d}\nmappings: [{name: m}]\n")
    with pytest.raises(ConfigError) as err:
        load_settings(cfg, {})
    assert any("NOPE is not set" in p for p in err.value.problems)


def test_check_reports_all_five_mistakes_of_a_mapping_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`check` on a config whose mapping file has five different mistakes lists all five, exit 2."""
    from tests.unit.mapping.test_spec_problems import FIVE_MISTAKES

    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / "broken.yaml").write_text(FIVE_MISTAKES)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "kafka: {bootstrap_servers: 'k:9092', topics: [orders]}\n"
        "aep: {inlet_url: 'https://dcs.adobedc.net/collection/abc'}\n"
        "dead_letter: {topic: dlq}\n"
        "mappings: [mappings/broken.yaml]\n"
    )
    assert main(["check", "-c", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "5 problem(s)" in err
    for expected in (
        "unknown function lowr()",
        "malformed expression",
        "missing identity",
        "must map timestamp",
        "outside the tenant namespace _acme",
    ):
        assert expected in err, err
