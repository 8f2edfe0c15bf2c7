"""One module per `aep-connector` subcommand (discovered by `connector.cli`)."""
