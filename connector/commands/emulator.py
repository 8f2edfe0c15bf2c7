"""`aep-connector emulator`: run the local AEP emulator until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import dataclasses
import secrets
import signal
import threading
from pathlib import Path
from typing import Any

from connector.errors import ConfigError

NAME = "emulator"
HELP = "run the local AEP emulator (DCS inlets, IMS, Flow Service, Catalog, Schema Registry, Profile access)"
DEFAULT_PORT = 8765
DEV_CLIENT_ID = "aep-connector-dev"
# The inlet of config/connector.example.yaml, registered at start so the example works as is.
QUICKSTART_INLET = "9b0cb233972f3b0092992284c7353f5eead496218e8441a79b25e9421ea127f5"

FAULT_HELP = (
    "inject faults on DCS and Edge paths: KIND[:RATE][:key=value...], KIND = HTTP status, reset, latency or "
    "expire_tokens; "
    "keys retry_after=N|http-date|http-date+N|none, ms=N, seq=101 (exact per-request pattern), repeat=true, "
    "paths=/collection/,/ims/. Examples: 503:0.2:retry_after=1  429:0.1:retry_after=http-date  reset:0.05  "
    "latency:0.02:ms=3000  500:seq=101. Repeatable."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 = any free)")
    parser.add_argument("--data-dir", default=None, metavar="DIR", help="directory of the sqlite store")
    parser.add_argument(
        "--store",
        choices=("sqlite", "memory", "count"),
        default=None,
        help="memory (default), sqlite (default when --data-dir is given; survives restarts) or count "
        "(counters only, for benchmarks)",
    )
    parser.add_argument(
        "--strict-inlets", action="store_true", help="accept only inlets created through Flow Service or the seed"
    )
    parser.add_argument(
        "--failure-shape",
        choices=("statusCode", "status", "both"),
        default="statusCode",
        help="failed entries of a 207: documented statusCode, Adobe connector's status+xactionId, or both",
    )
    parser.add_argument(
        "--client",
        action="append",
        default=[],
        metavar="ID:SECRET[:ORG]",
        help="IMS OAuth server-to-server credentials to accept (repeatable)",
    )
    parser.add_argument("--seed-file", default=None, metavar="FILE", help="YAML with clients/inlets/schemas/datasets")
    parser.add_argument("--fault", action="append", default=[], metavar="RULE", help=FAULT_HELP)
    parser.add_argument("--fault-seed", type=int, default=None, metavar="N", help="seed of the fault random draws")
    parser.add_argument("--require-sandbox-header", action="store_true", help="require x-sandbox-name on DCS")
    parser.add_argument("--token-ttl", type=int, default=86399, metavar="SECONDS", help="IMS token lifetime")
    parser.add_argument("--max-request-bytes", type=int, default=1_000_000, help="413 above this (default 1 MB)")
    parser.add_argument("--tenant", default=None, help="Schema Registry tenant id (default acme)")
    parser.add_argument("--org", default=None, help="default IMS org of inlets and clients")
    parser.add_argument(
        "--async-validation-failures",
        choices=("failed-batch", "reject"),
        default="failed-batch",
        help="what a message that fails XDM validation without syncValidation gets: failed-batch (default, like "
        "production: a success entry, then a failed record of its streaming batch, retrievable through the Data "
        "Access API) or reject (strict, not like production: a per-message 400)",
    )
    parser.add_argument("--accept-invalid", action="store_true", help=argparse.SUPPRESS)  # the old opt-in, now default
    parser.add_argument(
        "--batch-window",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="how long a streaming batch stays open per dataset before it closes (default 1)",
    )
    parser.add_argument(
        "--no-sync-validation",
        action="store_true",
        help="answer syncValidation=true with 501, as an edge without synchronous validation does",
    )
    parser.add_argument(
        "--failed-record-content",
        choices=("message", "errors-only"),
        default="message",
        help="what a failed-batch file holds per record: the message plus _validationErrors (default), or the "
        "errors only",
    )
    parser.add_argument(
        "--unknown-merge-policy",
        choices=("reject", "default"),
        default="reject",
        help="an unknown mergePolicyId on Profile access: 422 (default) or use the default merge policy",
    )
    parser.add_argument("--no-platform-auth", action="store_true", help="skip token/api-key checks on Platform APIs")


def _clients(args: argparse.Namespace, problems: list[str]) -> list[tuple[str, str, str | None]]:
    clients = []
    for spec in args.client:
        client_id, sep, rest = spec.partition(":")
        secret, _, org = rest.partition(":")
        if not sep or not client_id or not secret:
            problems.append(f"--client {spec!r}: expected ID:SECRET[:ORG]")
        clients.append((client_id, secret, org or None))
    return clients


def _rules(args: argparse.Namespace, problems: list[str]) -> list[dict[str, object]]:
    from connector.emulator.faults import parse_cli_rule

    rules = []
    for spec in args.fault:
        try:
            rules.append(parse_cli_rule(spec))
        except ValueError as exc:
            problems.append(str(exc))
    return rules


def main(args: argparse.Namespace) -> int:
    from connector.emulator import EmulatorOptions, EmulatorServer

    problems: list[str] = []
    rules = _rules(args, problems)
    clients = _clients(args, problems)
    store = args.store or ("sqlite" if args.data_dir else "memory")
    if store == "sqlite" and not args.data_dir:
        problems.append("--store sqlite needs --data-dir")
    if args.batch_window <= 0:
        problems.append(f"--batch-window {args.batch_window}: must be > 0")
    if problems:
        raise ConfigError(problems)
    options = EmulatorOptions(
        failure_shape=args.failure_shape,
        strict_inlets=args.strict_inlets,
        require_sandbox_header=args.require_sandbox_header,
        token_ttl_s=args.token_ttl,
        max_request_bytes=args.max_request_bytes,
        seed_file=Path(args.seed_file) if args.seed_file else None,
        fault_seed=args.fault_seed,
        fault_rules=tuple(rules),
        async_validation_failures=args.async_validation_failures,
        sync_validation_supported=not args.no_sync_validation,
        batch_window_s=args.batch_window,
        failed_record_content=args.failed_record_content,
        unknown_merge_policy=args.unknown_merge_policy,
        platform_auth=not args.no_platform_auth,
    )
    if args.tenant:
        options = dataclasses.replace(options, tenant_id=args.tenant)
    if args.org:
        options = dataclasses.replace(options, default_org=args.org)
    server = EmulatorServer(
        args.host, args.port, store=store, data_dir=Path(args.data_dir) if args.data_dir else None, options=options
    )
    for client_id, secret, org in clients:
        server.add_client(client_id, secret, org or options.default_org)
    dev_id, dev_secret, note = _dev_client(server, clients, options.default_org)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    server.start()
    print(f"AEP emulator listening on {server.url} (store={store})", flush=True)
    print(quickstart(server, dev_id, dev_secret, note), flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


def _dev_client(server: Any, clients: list[tuple[str, str, str | None]], org: str) -> tuple[str, str, str]:
    """(client id, secret, where it came from): the first --client, else a new one for this run."""
    if clients:
        return clients[0][0], clients[0][1], "as given with --client"
    secret = secrets.token_urlsafe(18)
    server.add_client(DEV_CLIENT_ID, secret, org)
    return DEV_CLIENT_ID, secret, "new for this run; --client ID:SECRET to fix one"


def quickstart(server: Any, client_id: str, secret: str, note: str) -> str:
    """The IMS URL, the client credentials and a config snippet for this emulator (its quick-start inlet)."""
    app = server.app
    if app.registry.inlet(QUICKSTART_INLET) is None:
        app.platform.flows.create_streaming_connection(
            "aep-connector quick start", False, server.options.default_org, "xdm", inlet_id=QUICKSTART_INLET
        )
    url, org = server.url, server.options.default_org
    return f"""
IMS token URL  {url}/ims/token/v3
client id      {client_id}
client secret  {secret}   ({note})
inlet          {server.inlet_url(QUICKSTART_INLET)} (unauthenticated)

Paste into connector.yaml, after: export AEP_CLIENT_SECRET='{secret}'
aep:
  inlet_url: {server.inlet_url(QUICKSTART_INLET)}
  ims_org: {org}
  sandbox: prod
  platform_url: {url}          # Flow Service, Catalog, Profile access (provision, lookup)
  auth:
    enabled: false             # the quick-start inlet takes no token; true for inlets made with --authenticated
    token_url: {url}/ims/token/v3
    client_id: {client_id}
    client_secret: ${{AEP_CLIENT_SECRET}}
"""
