"""`provision` and `lookup` against the emulator's Platform APIs, with the provisioned inlet used by `run`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from connector.commands import lookup as lookup_command
from connector.commands import provision as provision_command
from connector.config import load_settings
from connector.emulator import DEFAULT_ORG
from connector.emulator.registry import CONNECTIONS, FLOWS, SOURCE_CONNECTIONS, TARGET_CONNECTIONS
from connector.emulator.server import EmulatorServer
from tests.harness.kafka_broker import create_topic, produce
from tests.integration.emulator.tutorial import platform_session
from tests.integration.ops.helpers import MAPPINGS, events, profile_messages, start_worker, wait_for, write_config

pytestmark = pytest.mark.integration

CLIENT_ID = "ops-client"
CLIENT_SECRET = "ops-secret-value-123"
SCHEMA_ID = "https://ns.adobe.com/exchangeinternal/schemas/loyalty-profiles"
KINDS = (CONNECTIONS, SOURCE_CONNECTIONS, TARGET_CONNECTIONS, FLOWS)


@pytest.fixture
def emulator(emulator: EmulatorServer) -> EmulatorServer:
    """The shared emulator, with this module's IMS client."""
    emulator.add_client(CLIENT_ID, CLIENT_SECRET)
    return emulator


def _dataset(emulator: EmulatorServer, name: str) -> str:
    response = platform_session(emulator).post(
        f"{emulator.url}/data/foundation/catalog/dataSets", json={"name": name}, timeout=5
    )
    assert response.status_code == 201, response.text
    return str(response.json()[0].rsplit("/", 1)[1])


def _aep(emulator: EmulatorServer, inlet_url: str) -> dict[str, Any]:
    return {
        "inlet_url": inlet_url,
        "platform_url": emulator.url,
        "ims_org": DEFAULT_ORG,
        "sandbox": "prod",
        "auth": {
            "enabled": False,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "token_url": f"{emulator.url}/ims/token/v3",
        },
    }


def _counts(emulator: EmulatorServer) -> dict[str, int]:
    return {kind: len(emulator.store.items(kind)) for kind in KINDS}


def _provision(config: Path, dataset: str, *, write: bool) -> argparse.Namespace:
    return argparse.Namespace(
        config=str(config),
        name="ops-streaming",
        dataset_id=dataset,
        schema_id=SCHEMA_ID,
        authenticated=False,
        data_type="xdm",
        mapping_id=None,
        write=write,
    )


def test_provision_is_idempotent_and_its_config_runs(
    kafka_bootstrap: str, unique_name: str, emulator: EmulatorServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """provision creates connection, source, target and flow once; a rerun creates nothing; run uses the result."""
    topic = f"{unique_name}-profiles"
    create_topic(kafka_bootstrap, topic, partitions=1)
    dataset = _dataset(emulator, f"{unique_name} profiles")
    config = write_config(
        tmp_path / "connector.yaml",
        bootstrap=kafka_bootstrap,
        group=f"{unique_name}-group",
        topic=topic,
        dlq=f"{unique_name}-dlq",
        aep=_aep(emulator, "https://dcs.adobedc.net/collection/placeholder"),
        mapping_overrides={"dataset_id": dataset, "schema_id": SCHEMA_ID},
    )
    before = _counts(emulator)
    capsys.readouterr()
    assert provision_command.main(_provision(config, dataset, write=False)) == 0
    out = capsys.readouterr()
    snippet = yaml.safe_load(out.out)["aep"]
    assert "created: base connection, source, target, dataflow" in out.err
    after_first = _counts(emulator)
    assert {k: after_first[k] - before[k] for k in KINDS} == dict.fromkeys(KINDS, 1)
    flow = emulator.store.get(FLOWS, snippet["flow_id"])
    assert flow is not None and flow["flowSpec"]["id"] == "d8a6f005-7eaf-4153-983e-e8574508b877"
    target = emulator.store.get(TARGET_CONNECTIONS, flow["targetConnectionIds"][0])
    assert target is not None and target["params"]["dataSetId"] == dataset
    assert target["data"]["schema"]["id"] == SCHEMA_ID

    assert provision_command.main(_provision(config, dataset, write=True)) == 0
    out = capsys.readouterr()
    assert "created: nothing" in out.err
    assert _counts(emulator) == after_first
    written = yaml.safe_load(config.read_text(encoding="utf-8"))["aep"]
    assert (written["inlet_url"], written["flow_id"]) == (snippet["inlet_url"], snippet["flow_id"])
    assert snippet["inlet_url"].startswith(f"{emulator.url}/collection/")

    produce(kafka_bootstrap, topic, profile_messages(3))
    running = start_worker(config)
    try:
        wait_for(lambda: running.worker.status.delivered == 3, 60, "3 records delivered to the provisioned inlet")
    finally:
        running.stop()
    inlet_id = snippet["inlet_url"].rsplit("/", 1)[1]
    stats = json.dumps(emulator.store.stats())
    assert inlet_id in stats, stats
    assert len(emulator.store.records(dataset)) == 3


def test_lookup_prints_a_profile_and_events_streamed_by_the_worker(
    kafka_bootstrap: str, unique_name: str, emulator: EmulatorServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Profiles and events streamed through the worker are shown by lookup, as text and as JSON."""
    profiles_topic, events_topic = f"{unique_name}-profiles", f"{unique_name}-events"
    create_topic(kafka_bootstrap, profiles_topic, partitions=1)
    create_topic(kafka_bootstrap, events_topic, partitions=1)
    create_topic(kafka_bootstrap, f"{unique_name}-dlq", partitions=1)
    config = write_config(
        tmp_path / "connector.yaml",
        bootstrap=kafka_bootstrap,
        group=f"{unique_name}-group",
        topic=profiles_topic,
        dlq=f"{unique_name}-dlq",
        aep=_aep(emulator, emulator.inlet_url(emulator.create_inlet())),
        extra_mappings=[{"file": str(MAPPINGS / "loyalty-events.yaml"), "topics": [events_topic]}],
    )
    samples = events()
    produce(kafka_bootstrap, profiles_topic, profile_messages(25))
    produce(kafka_bootstrap, events_topic, [(None, json.dumps(e).encode()) for e in samples])
    running = start_worker(config)
    try:
        try:
            wait_for(lambda: running.worker.status.delivered == 25 + len(samples), 60, "profiles and events delivered")
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {running.worker.status}") from None
    finally:
        running.stop()
    who = samples[0]["_exchangeinternal"]["loyaltyID"].lower()
    expected_events = [e for e in samples if e["_exchangeinternal"]["loyaltyID"].lower() == who]
    person = next(p for p in profile_messages(25) if p[0] == who.encode())
    first_name = json.loads(person[1] or b"{}")["person"]["name"]["firstName"]

    args = argparse.Namespace(config=str(config), namespace="Email", identity=who, events=True, json=False)
    capsys.readouterr()
    assert lookup_command.main(args) == 0
    text = capsys.readouterr().out
    assert text.startswith("profile ") and f"(Email:{who})" in text
    assert f'"firstName": "{first_name}"' in text
    assert f"experience events: {len(expected_events)}" in text
    assert all(f"_id={e['_id']}" in text for e in expected_events)

    args.json = True
    assert lookup_command.main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["profile"]["entity"]["person"]["name"]["firstName"] == first_name
    assert sorted(c["entityId"] for c in doc["events"]) == sorted(str(e["_id"]) for e in expected_events)

    args.identity, args.json = "nobody@example.com", False
    assert lookup_command.main(args) == 1
    assert "no profile for Email:nobody@example.com" in capsys.readouterr().out


def _offline_config(
    tmp_path: Path, unique_name: str, emulator: EmulatorServer, overrides: dict[str, Any] | None = None
) -> Path:
    """A config provision can use (Kafka is never reached) with a placeholder inlet URL."""
    return write_config(
        tmp_path / "connector.yaml",
        bootstrap="127.0.0.1:9",
        group=f"{unique_name}-group",
        topic=f"{unique_name}-t",
        dlq=f"{unique_name}-dlq",
        aep=_aep(emulator, "https://dcs.adobedc.net/collection/placeholder"),
        mapping_overrides=overrides,
    )


def test_provision_write_keeps_comments_and_env_indirections(
    unique_name: str,
    emulator: EmulatorServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """--write edits the default of `${VAR:-...}` and keeps comments; with VAR set it refuses and says what to set."""
    dataset = _dataset(emulator, f"{unique_name} write")
    config = _offline_config(tmp_path, unique_name, emulator)
    placeholder = "inlet_url: https://dcs.adobedc.net/collection/placeholder\n"
    text = config.read_text(encoding="utf-8")
    assert placeholder in text
    text = "# the team's connector\n" + text.replace(
        placeholder,
        "# the DCS inlet, per environment\n  inlet_url: ${OPS2_INLET_URL:-" + placeholder[11:-1] + "}  # AEP\n",
    )
    config.write_text(text, encoding="utf-8")
    monkeypatch.delenv("OPS2_INLET_URL", raising=False)

    assert provision_command.main(_provision(config, dataset, write=True)) == 0
    out = capsys.readouterr()
    written = config.read_text(encoding="utf-8")
    flow_id = yaml.safe_load(written)["aep"]["flow_id"]
    inlet_url = load_settings(config).aep.inlet_url
    assert inlet_url.startswith(f"{emulator.url}/collection/"), inlet_url
    assert "  inlet_url: ${OPS2_INLET_URL:-" + inlet_url + "}  # AEP\n" in written
    assert written.startswith("# the team's connector\n") and "# the DCS inlet, per environment\n" in written
    assert (
        written.replace("${OPS2_INLET_URL:-" + inlet_url, "${OPS2_INLET_URL:-" + placeholder[11:-1]).replace(
            f"  flow_id: {flow_id}\n", ""
        )
        == text
    )
    assert "note: aep.inlet_url: wrote the default of ${OPS2_INLET_URL:-...}" in out.err

    monkeypatch.setenv("OPS2_INLET_URL", inlet_url)
    assert provision_command.main(_provision(config, dataset, write=True)) == 2
    out = capsys.readouterr()
    assert f"OPS2_INLET_URL is set in this environment: set OPS2_INLET_URL={inlet_url}" in out.err
    assert yaml.safe_load(out.out)["aep"] == {"inlet_url": inlet_url, "flow_id": flow_id}
    assert config.read_text(encoding="utf-8") == written


def test_provision_creates_resources_in_the_sandbox_of_the_datasets_mapping(
    unique_name: str, emulator: EmulatorServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The mapping writing --dataset-id names `sandbox: marketing`: every Flow Service call goes to marketing."""
    dataset = _dataset(emulator, f"{unique_name} marketing")
    config = _offline_config(
        tmp_path, unique_name, emulator, {"dataset_id": dataset, "schema_id": SCHEMA_ID, "sandbox": "marketing"}
    )
    args = _provision(config, dataset, write=False)
    args.name = f"{unique_name}-streaming"
    assert provision_command.main(args) == 0
    out = capsys.readouterr()
    assert "sandbox: marketing" in out.err
    mine = [
        item
        for kind in KINDS
        for _, item in emulator.store.items(kind)
        if str(item.get("name", "")).startswith(args.name)
    ]
    assert len(mine) == 4
    assert {item["sandboxName"] for item in mine} == {"marketing"}
