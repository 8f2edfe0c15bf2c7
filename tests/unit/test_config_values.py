"""Config values that used to pass `check` and fail later: header values, DLQ loops, double interpolation, overlaps."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.app import compile_plan
from connector.cli import main
from connector.config import load_settings
from connector.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
MAPPINGS = REPO / "config" / "mappings"


def _config(
    tmp_path: Path, aep: str = "", topics: str = "[loyalty-events]", dlq: str = "dlq", mappings: str = ""
) -> Path:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        f"kafka: {{bootstrap_servers: 'k:9092', topics: {topics}}}\n"
        f"aep:\n  inlet_url: 'https://dcs.adobedc.net/collection/abc'\n{aep}"
        f"dead_letter: {{topic: '{dlq}'}}\n"
        f"mappings:\n{mappings or f'  - file: {MAPPINGS}/loyalty-events.yaml'}\n"
    )
    return cfg


def _problems(cfg: Path, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as err:
        load_settings(cfg, environ or {})
    return err.value.problems


# -- defect 3: values that become HTTP headers -------------------------------------------------


def test_flow_id_with_a_trailing_newline_fails_at_start_and_in_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A flow id from an env var holding a Kubernetes Secret's trailing newline fails start and is listed by check."""
    cfg = _config(tmp_path, aep="  flow_id: ${AEP_FLOW_ID}\n")
    problems = _problems(cfg, {"AEP_FLOW_ID": "d1bd0a64-2c3e-4a1e-9bb5-3a6c0b1e2f00\n"})
    assert len(problems) == 1
    assert problems[0].startswith("aep.flow_id: contains a newline (\\n) at the end")
    assert "_file twin" in problems[0]
    monkeypatch.setenv("AEP_FLOW_ID", "d1bd0a64-2c3e-4a1e-9bb5-3a6c0b1e2f00\n")
    assert main(["check", "-c", str(cfg)]) == 2
    assert "aep.flow_id: contains a newline" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("aep", "expected"),
    [
        ("  sandbox: \"prod\\r\\n\"\n", "aep.sandbox: contains a carriage return (\\r)"),
        ("  ims_org: \"ABC@AdobeOrg\\t\"\n", "aep.ims_org: contains a tab (\\t)"),
        ("  api_key: \" key\"\n", "aep.api_key: has leading or trailing spaces"),
        ("  headers: {x-trace: \"a\\nb\"}\n", "aep.headers.x-trace: contains a newline (\\n) at position 1"),
        ("  headers: {\"bad name\": ok}\n", "aep.headers.bad name: is not a valid HTTP header name"),
        ("  headers: {x-org: \"Zürich\"}\n", "aep.headers.x-org: contains non-ASCII characters"),
        ("  auth: {client_id: \"abc\\n\"}\n", "aep.auth.client_id: contains a newline"),
        ("  platform_url: \"https://platform.adobe.io\\n\"\n", "aep.platform_url: contains a newline"),
    ],
)
def test_every_value_that_becomes_a_header_is_checked(tmp_path: Path, aep: str, expected: str) -> None:
    """Sandbox, IMS org, API key, client id, extra header names and values and URLs: one line of ASCII each."""
    problems = _problems(_config(tmp_path, aep=aep))
    assert any(p.startswith(expected) for p in problems), problems


def test_mapping_overrides_of_header_values_are_checked(tmp_path: Path) -> None:
    """A mapping's flow_id / ims_org / inlet_url overrides are checked like the aep section's."""
    mappings = (
        f"  - file: {MAPPINGS}/loyalty-events.yaml\n"
        "    flow_id: \"abc\\n\"\n"
        "    ims_org: \"ORG@AdobeOrg \"\n"
        "    inlet_url: \"https://dcs.adobedc.net/collection/abc\\n\"\n"
    )
    settings = load_settings(_config(tmp_path, mappings=mappings), {})
    with pytest.raises(ConfigError) as err:
        compile_plan(settings)
    text = "\n".join(err.value.problems)
    assert "flow_id: contains a newline (\\n) at the end" in text
    assert "ims_org: has leading or trailing spaces" in text
    assert "inlet_url: contains a newline" in text


def test_values_from_files_lose_exactly_one_trailing_newline(tmp_path: Path) -> None:
    """`flow_id_file` / `*_file` secrets: one trailing \\n or \\r\\n is dropped, anything else stays and is checked."""
    from connector.config import read_value_file

    one, crlf, two = tmp_path / "one", tmp_path / "crlf", tmp_path / "two"
    one.write_bytes(b"flow-1\n")
    crlf.write_bytes(b"flow-2\r\n")
    two.write_bytes(b"flow-3\n\n")
    assert (read_value_file(one), read_value_file(crlf), read_value_file(two)) == ("flow-1", "flow-2", "flow-3\n")
    s = load_settings(_config(tmp_path, aep=f"  flow_id_file: {one}\n  ims_org_file: {crlf}\n"), {})
    assert (s.aep.flow_id, s.aep.ims_org) == ("flow-1", "flow-2")
    problems = _problems(_config(tmp_path, aep=f"  flow_id_file: {two}\n"))
    assert problems == [
        "aep.flow_id_file: contains a newline (\\n) at the end (values from environment variables are used as "
        "they are: a Kubernetes Secret written with a trailing newline keeps it; remove it, or use the key's "
        "_file twin, which drops one trailing newline); an HTTP header value must be one line"
    ]
    secret = tmp_path / "secret"
    secret.write_bytes(b"s3cr3t\n")
    auth = f"  auth: {{enabled: true, client_id: me, client_secret_file: {secret}}}\n"
    assert load_settings(_config(tmp_path, aep=auth), {}).aep.auth.client_secret.reveal() == "s3cr3t"


def test_a_header_problem_never_shows_a_secret(tmp_path: Path) -> None:
    """A registry bearer token with a newline is reported by key and position, never by value."""
    cfg = _config(tmp_path)
    cfg.write_text(cfg.read_text() + "schema_registry: {url: 'http://r:8081', bearer_token: \"tok-SECRET\\nx\"}\n")
    problems = _problems(cfg)
    assert problems == [
        "schema_registry.bearer_token: contains a newline (\\n) at position 10; an HTTP header value must be one line"
    ]
    assert "SECRET" not in "".join(problems)


# -- defect 8: the dead-letter topic and ^regex subscriptions ----------------------------------


def test_dead_letter_topic_matched_by_a_regex_subscription_is_a_problem(tmp_path: Path) -> None:
    """dead_letter.topic `events-dlq` under kafka.topics `^events.*` would loop: reported at start and by check."""
    cfg = _config(tmp_path, topics="['^events.*', loyalty-events]", dlq="events-dlq")
    problems = _problems(cfg)
    assert problems == [
        "dead_letter.topic: 'events-dlq' matches the subscription '^events.*' of kafka.topics (the worker would "
        "consume its own dead letters): rename the dead-letter topic or narrow the pattern"
    ]
    assert load_settings(_config(tmp_path, topics="['^events\\.', loyalty-events]", dlq="events-dlq"), {})


# -- defect 9: mapping-file overrides are interpolated once -------------------------------------


def test_mapping_file_override_is_interpolated_once(tmp_path: Path) -> None:
    """An override `${DS}` whose value contains `${...}` keeps that text: it is not expanded a second time."""
    mappings = f"  - file: {MAPPINGS}/loyalty-events.yaml\n    dataset_id: ${{DS}}\n"
    cfg = _config(tmp_path, mappings=mappings)
    s = load_settings(cfg, {"DS": "ds-${HOME}-$${X}", "HOME": "/root"})
    assert s.mappings[0].spec["dataset_id"] == "ds-${HOME}-$${X}"


# -- defect 12: one topic, one mapping ------------------------------------------------------------


def _two_mappings(tmp_path: Path, second_topics: str) -> Path:
    mappings = (
        f"  - file: {MAPPINGS}/loyalty-events.yaml\n"
        f"  - file: {MAPPINGS}/loyalty-events.yaml\n    name: second\n    topics: {second_topics}\n"
    )
    return _config(tmp_path, topics="['^loyalty-.*']", mappings=mappings)


def test_two_mappings_on_one_topic_fail_check_and_start(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two mappings naming one topic: check exits 2 and start refuses, saying how to fan out instead."""
    cfg = _two_mappings(tmp_path, "[loyalty-events]")
    assert main(["check", "-c", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "topic 'loyalty-events' is handled by 2 mappings (loyalty-events, second)" in err
    assert "run a second connector with its own config and kafka.group_id" in err
    with pytest.raises(ConfigError):
        compile_plan(load_settings(cfg, {}))


def test_a_regex_mapping_overlapping_a_named_topic_is_refused(tmp_path: Path) -> None:
    """A ^regex of one mapping that matches a topic named by another is refused at start, not resolved by order."""
    with pytest.raises(ConfigError) as err:
        compile_plan(load_settings(_two_mappings(tmp_path, "['^loyalty-.*']"), {}))
    assert err.value.problems[0].startswith("topic 'loyalty-events' is handled by 2 mappings (loyalty-events, second)")
    narrowed = load_settings(_two_mappings(tmp_path, "['^loyalty-(?!events$).*']"), {})
    assert compile_plan(narrowed).router.pipeline_for("loyalty-profiles") is not None
