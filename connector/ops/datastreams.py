"""What `provision` can and cannot do for the Edge Network datastreams of a config's `destination: edge` mappings.

Datastreams are configured in the Data Collection UI; Adobe documents no API that creates them,
so provision creates none and prints, per datastream, the UI steps the mappings rely on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from connector.config import Settings
from connector.ops.failures import edge_dataset

CANNOT = (
    "provision cannot create or change datastreams: Adobe configures them in the Data Collection UI "
    "(Data Collection > Datastreams) and documents no API for it."
)


def describe(settings: Settings, compiled: Sequence[Any]) -> str:
    """The datastreams the edge mappings use and what to configure for each; '' when there are none."""
    by_stream: dict[str, list[Any]] = {}
    for mapping in (m for m in compiled if m.route.destination == "edge"):
        by_stream.setdefault(str(mapping.route.datastream_id), []).append(mapping)
    if not by_stream:
        return ""
    lines = [CANNOT, ""]
    for ds, mappings in by_stream.items():
        route = mappings[0].route
        names = ", ".join(f"{m.name} (topics {', '.join(m.topics)})" for m in mappings)
        lines.append(f"datastream {ds}: used by {names}; events go to {route.inlet_url}")
        lines.extend(_steps(settings, route.authenticated, mappings))
        lines.append("")
    lines.append(
        "provision can create what DCS mappings need (Flow Service streaming connection, source, data lake "
        "target, dataflow): aep-connector provision -c CONFIG --name NAME --dataset-id ID --schema-id ID"
    )
    return "\n".join(lines) + "\n"


def _steps(settings: Settings, authenticated: bool, mappings: Sequence[Any]) -> list[str]:
    steps = [
        "an ExperienceEvent schema holding the mapped fields, with identityMap, and a dataset of it "
        "(Schemas, Datasets; enable it for Profile if the events should reach profiles)",
        f"a datastream with that Mapping schema, in the sandbox of org {settings.aep.ims_org or '(aep.ims_org)'}",
        "Add Service > Adobe Experience Platform, Event Dataset: that dataset "
        "(add Adobe Analytics, Target or Event Forwarding here for the other destinations)",
    ]
    if authenticated:
        steps.append(
            "the connector sends authenticated events (server.adobedc.net): you may tick Advanced options > "
            "Accept only authenticated events; the OAuth credentials need the Experience Platform product "
            "profile with write access to the sandbox"
        )
    else:
        steps.append(
            "the connector sends unauthenticated events (edge.adobedc.net): leave Accept only authenticated "
            "events unticked, or enable aep.auth"
        )
    for m in mappings:
        overrides = m.parsed.datastream_overrides
        if overrides:
            steps.append(
                f"mapping {m.name} overrides {', '.join(sorted(overrides))}: add each overriding value "
                "(event dataset, report suite, property token, container id) to the datastream's overrides"
            )
    steps.append("copy the Datastream ID into the mappings' datastream_id")
    unnamed = [
        m.name
        for m in mappings
        if edge_dataset({"dataset_id": m.parsed.dataset_id, "datastream_overrides": m.parsed.datastream_overrides})
        is None
    ]
    if unnamed:
        steps.append(
            f"copy the Event Dataset's id into the dataset_id of {', '.join(unnamed)}: not sent, it tells "
            "`aep-connector failures` where the events AEP fails asynchronously land"
        )
    return [f"  {i}. {s}" for i, s in enumerate(steps, 1)]
