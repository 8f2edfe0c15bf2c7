"""`aep-connector lag` flags subscribed topics that do not exist (a name, or a ^regex matching nothing)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from connector import cli
from tests.harness.kafka_broker import create_topic, produce
from tests.integration.ops.helpers import profile_messages, write_config

pytestmark = pytest.mark.integration


def test_lag_names_missing_subscriptions(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Rows for the existing topic; the missing name and the empty ^regex listed in JSON and as MISSING lines."""
    topic = f"{unique_name}-profiles"
    create_topic(kafka_bootstrap, topic)
    produce(kafka_bootstrap, topic, profile_messages(3))
    config = write_config(tmp_path / "c.yaml", bootstrap=kafka_bootstrap, group=f"{unique_name}-g", topic=topic,
                          dlq=f"{unique_name}-dlq", aep={"inlet_url": "http://127.0.0.1:9/collection/x"})  # fmt: skip
    doc = yaml.safe_load(config.read_text())
    doc["kafka"]["topics"] += [f"{unique_name}-nope", f"^{unique_name}-none-.*"]
    config.write_text(yaml.safe_dump(doc))
    capsys.readouterr()
    assert cli.main(["lag", "-c", str(config), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["missing_topics"] == [f"{unique_name}-nope", f"^{unique_name}-none-.*"]
    assert report["total_lag"] == 3
    assert cli.main(["lag", "-c", str(config)]) == 0
    table = capsys.readouterr().out
    assert f"MISSING {unique_name}-nope: subscribed in kafka.topics but does not exist" in table
    assert f"MISSING ^{unique_name}-none-.*: subscribed in kafka.topics but matches no topic" in table
