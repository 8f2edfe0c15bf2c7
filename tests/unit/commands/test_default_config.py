"""`-c` is optional: $AEP_CONNECTOR_CONFIG, else ./connector.yaml; without either, a clear exit 2."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from connector import cli
from connector.commands._common import CONFIG_ENV, resolve_config
from connector.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]


def _args(config: str | None = None) -> argparse.Namespace:
    return argparse.Namespace(config=config, config_required=True)


def test_explicit_config_wins(tmp_path: Path) -> None:
    """-c FILE is kept as given, whatever the environment and the working directory hold."""
    (tmp_path / "connector.yaml").write_text("{}")
    args = _args("mine.yaml")
    resolve_config(args, {CONFIG_ENV: "env.yaml"}, tmp_path)
    assert args.config == "mine.yaml"


def test_environment_then_working_directory(tmp_path: Path) -> None:
    """$AEP_CONNECTOR_CONFIG comes before ./connector.yaml."""
    (tmp_path / "connector.yaml").write_text("{}")
    args = _args()
    resolve_config(args, {CONFIG_ENV: "env.yaml"}, tmp_path)
    assert args.config == "env.yaml"
    args = _args()
    resolve_config(args, {}, tmp_path)
    assert args.config == str(tmp_path / "connector.yaml")


def test_no_config_anywhere_is_a_config_error(tmp_path: Path) -> None:
    """Neither -c, the variable nor ./connector.yaml: the message says all three ways."""
    with pytest.raises(ConfigError, match=r"-c FILE.*AEP_CONNECTOR_CONFIG.*connector\.yaml"):
        resolve_config(_args(), {}, tmp_path)


def test_check_finds_connector_yaml_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`aep-connector check` with no -c validates ./connector.yaml (exit 0), and exits 2 without one."""
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["check"]) == 2
    assert "no config file" in capsys.readouterr().err
    example = (ROOT / "config" / "connector.example.yaml").read_text()
    (tmp_path / "connector.yaml").write_text(example.replace("file: mappings/", f"file: {ROOT}/config/mappings/"))
    assert cli.main(["check"]) == 0
    assert "connector.yaml: OK" in capsys.readouterr().out
