"""Pre-create clients, inlets, field groups, schemas, descriptors and datasets from a seed mapping."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from connector.emulator.registry import DATASETS, DATATYPES, DESCRIPTORS, FIELDGROUPS, SCHEMAS

if TYPE_CHECKING:
    from connector.emulator.app import EmulatorApp


def apply_seed(app: EmulatorApp, data: dict[str, Any]) -> None:
    """Seed keys: clients[{client_id, client_secret, org}], inlets[{inletId?, name, authenticated, org,
    data_type}], datatypes/fieldgroups/schemas/descriptors[documents with their `$id`/`@id`], datasets[{id, ...}],
    datastreams[{id, name, dataset_id, ...}], edge_options{...} (connector.emulator.edge.EdgeOptions)."""
    org_default = app.options.default_org
    for client in data.get("clients", []):
        app.ims.add_client(str(client["client_id"]), str(client["client_secret"]), str(client.get("org", org_default)))
    for inlet in data.get("inlets", []):
        app.platform.flows.create_streaming_connection(
            str(inlet.get("name", "Seeded inlet")),
            bool(inlet.get("authenticated", False)),
            str(inlet.get("org", org_default)),
            str(inlet.get("data_type", "xdm")),
            inlet_id=inlet.get("inletId"),
        )
    kinds = ((DATATYPES, "$id"), (FIELDGROUPS, "$id"), (SCHEMAS, "$id"), (DESCRIPTORS, "@id"), (DATASETS, "id"))
    for kind, key_name in kinds:
        for doc in data.get(kind, []):
            app.registry.put(kind, str(doc[key_name]), dict(doc))
    if data.get("edge_options"):
        app.edge.set_options(dict(data["edge_options"]))
    for ds in data.get("datastreams", []):  # {id?, name, dataset_id, org, authenticated_only, override_datasets}
        app.edge.create_datastream(
            dataset_id=ds.get("dataset_id"),
            datastream_id=ds.get("id"),
            name=str(ds.get("name", "Seeded datastream")),
            org=ds.get("org"),
            authenticated_only=bool(ds.get("authenticated_only", False)),
            override_datasets=ds.get("override_datasets"),
        )
