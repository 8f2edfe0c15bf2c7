"""A mapping's own `sandbox`: checked, carried on its route, sent as x-sandbox-name on its DCS and Platform calls."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import pytest
import requests
import yaml

from connector.aep.dcs import DcsSink
from connector.aep.ims import TokenProvider
from connector.config import AuthSettings, MappingSource, Secret
from connector.errors import ConfigError
from connector.mapping import compile_mappings
from connector.ops.platform import PlatformClient
from connector.ops.provision import dataset_sandbox
from tests.unit.aep.fakes import FakeAdapter, Reply, delivery_settings, messages, ok_207, session_with, token_reply
from tests.unit.mapping.helpers import AEP, BASE, clock, inline

FIELDS = "fields:\n  timestamp: value.ts\n"


def _session(adapter: FakeAdapter) -> requests.Session:
    """Every request, https included, goes to the fake adapter: nothing leaves the process."""
    session = session_with(adapter)
    session.mount("https://", adapter)
    return session


EDGE = """
name: web
topics: [web]
xdm_class: experienceevent
destination: edge
datastream_id: ds-1
sandbox: marketing
identities:
  - {namespace: Email, value: value.email, primary: true}
fields:
  timestamp: value.ts
"""


def test_mapping_sandbox_overrides_aep_sandbox_on_the_route() -> None:
    """`sandbox: marketing` routes that mapping to marketing; a mapping without one keeps aep.sandbox."""
    own = MappingSource("own", yaml.safe_load(BASE + "sandbox: marketing\n" + FIELDS), "<test>", Path("."))
    default = MappingSource("default", yaml.safe_load(BASE.replace("[t]", "[u]") + FIELDS), "<test>", Path("."))
    compiled, problems = compile_mappings([own, default], AEP, clock=clock)
    assert problems == []
    assert [m.route.sandbox for m in compiled] == ["marketing", "dev"]


def test_dcs_requests_of_a_mapping_carry_its_sandbox() -> None:
    """The DCS batch request for the mapping's route has x-sandbox-name: <the mapping's sandbox>."""
    compiled, problems = inline(BASE + "sandbox: marketing\n" + FIELDS)
    assert problems == []
    adapter = FakeAdapter()
    inlet = AEP.inlet_url.rsplit("/", 1)[1]
    adapter.queue(f"collection/batch/{inlet}", ok_207(2))
    sink = DcsSink(AEP, delivery_settings(), session=_session(adapter))
    sink.deliver(compiled[0].route, messages(2), threading.Event())
    (seen,) = adapter.seen
    assert seen.headers["x-sandbox-name"] == "marketing"


@pytest.mark.parametrize("name", ["Marketing", "dev sandbox", "dev\nx", "-dev"])
def test_sandbox_that_is_not_an_aep_sandbox_name_is_a_problem(name: str) -> None:
    """Sandbox names are lowercase letters, digits and hyphens: anything else is reported at check time."""
    _, problems = inline({**yaml.safe_load(BASE + FIELDS), "sandbox": name})
    assert any("sandbox: an AEP sandbox name is lowercase letters, digits and hyphens" in p for p in problems)


def test_sandbox_on_an_edge_mapping_is_a_problem_saying_the_datastream_decides() -> None:
    """The Edge Network takes no sandbox header; `sandbox` on an edge mapping would be silently ignored."""
    _, problems = inline(EDGE)
    assert problems == [
        "mapping inline (<test>): sandbox: only used with destination dcs "
        "(the Edge Network takes no sandbox header: the datastream's sandbox applies)"
    ]


def test_provision_takes_the_sandbox_of_the_mappings_writing_the_dataset() -> None:
    """provision's default sandbox is the one the dataset's mappings name; disagreeing mappings are refused."""

    def source(name: str, dataset: str, sandbox: str | None) -> MappingSource:
        spec = {"dataset_id": dataset, **({"sandbox": sandbox} if sandbox else {})}
        return MappingSource(name, spec, "<test>", Path("."))

    mappings = [source("a", "ds1", "marketing"), source("b", "ds1", None), source("c", "ds2", "dev")]
    assert dataset_sandbox(mappings, "ds1") == "marketing"
    assert dataset_sandbox(mappings, "ds3") is None
    with pytest.raises(ConfigError, match="differ in sandbox \\(dev, marketing\\)"):
        dataset_sandbox([*mappings, source("d", "ds2", "marketing")], "ds2")


def test_platform_calls_send_the_given_sandbox() -> None:
    """A PlatformClient for a mapping's sandbox sends it as x-sandbox-name instead of aep.sandbox."""
    adapter = FakeAdapter()
    adapter.queue("ims/token/v3", token_reply("t-1"), token_reply("t-2"))
    adapter.queue("data/foundation/flowservice/flows", Reply(200, {"items": []}))
    auth = AuthSettings(True, "https://ims.example/ims/token/v3", "client", Secret("secret-value-1"))
    aep = replace(AEP, auth=auth, platform_url="https://platform.example")
    session = _session(adapter)
    client = PlatformClient(aep, session, TokenProvider(auth, session), sandbox="marketing")
    client.get("/data/foundation/flowservice/flows")
    assert adapter.requests_to("data/foundation/flowservice/flows")[0].headers["x-sandbox-name"] == "marketing"
    assert PlatformClient(aep, session, TokenProvider(auth, session)).headers()["x-sandbox-name"] == "dev"
