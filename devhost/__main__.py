"""The local stand-in for the Functions host: `python -m devhost serve | replay | sample | send | demo`."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path


def _serve(args: argparse.Namespace) -> int:
    from shared.app.settings import SettingsError, load_settings

    from devhost.functions import load_functions
    from devhost.server import is_loopback, serve

    try:
        dev_mode = load_settings().auth_mode == "dev"  # as the app reads it: any case, any spaces
    except SettingsError as exc:
        print(f"cannot serve: {exc}", file=sys.stderr)
        return 2
    if dev_mode and not is_loopback(args.host):
        print(f"refusing to serve LEDGER_AUTH=dev on {args.host}: dev mode makes every caller an admin; use 127.0.0.1",
              file=sys.stderr)
        return 2
    functions = load_functions()
    server = serve(functions, host=args.host, port=args.port, timers=not args.no_timers, dev_mode=dev_mode)
    http = sorted(f"{', '.join(f.methods)} /api/{f.route}" for f in functions.values() if f.kind == "httpTrigger")
    other = sorted(f"{f.name} ({f.kind})" for f in functions.values() if f.kind != "httpTrigger")
    print(f"aoai-ledger local host on http://{args.host}:{args.port}", flush=True)
    print("  " + "\n  ".join(http), flush=True)
    print("  admin: POST /admin/functions/{" + " | ".join(other) + "}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.local_host.stop()  # type: ignore[attr-defined]
        server.server_close()
    return 0


def _replay(args: argparse.Namespace) -> int:
    from devhost.functions import load_functions
    from devhost.replay import replay

    functions = load_functions()
    report = replay(functions[args.function], [Path(p) for p in args.paths], batch_size=args.batch_size,
                    progress=sys.stderr.isatty() and not args.json)
    if args.json:
        print(json.dumps(report.as_json()))
    else:
        print(", ".join(f"{k}: {v:,}" for k, v in report.as_json().items()))
    return 0 if report.complete else 1  # everything readable was replayed; the lines on stderr say what was not


def _sample(args: argparse.Namespace) -> int:
    from devhost.sample import main as sample_main

    return sample_main(args.rest)


def _send(args: argparse.Namespace) -> int:
    from devhost.send import azure_producer, send_files

    namespace = args.namespace or os.environ.get("EVENTHUB__fullyQualifiedNamespace", "")
    hub = args.hub or os.environ.get("EVENTHUB_NAME", "aoai-capture")
    if not (namespace or args.connection_string):
        print("send needs --namespace (or EVENTHUB__fullyQualifiedNamespace) or --connection-string", file=sys.stderr)
        return 2
    sent = send_files([Path(p) for p in args.paths], azure_producer(namespace, hub, args.connection_string))
    print(f"sent {sent:,} events to {hub}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from devhost.demo import run_demo

    return run_demo(port=args.port, serve_api=not args.no_serve)


def main(argv: list[str] | None = None) -> int:
    from devhost.functions import load_local_settings

    logging.basicConfig(level=os.environ.get("DEVHOST_LOG_LEVEL", "WARNING"), format="%(asctime)s %(name)s %(message)s")
    load_local_settings()
    parser = argparse.ArgumentParser(prog="python -m devhost", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the app's functions on a real HTTP server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=7071)
    serve.add_argument("--no-timers", action="store_true", help="do not run timers on their schedules")
    serve.set_defaults(run=_serve)
    replay = commands.add_parser("replay", help="feed JSON Lines / Capture Avro files through the ingest function")
    replay.add_argument("paths", nargs="+")
    replay.add_argument("--batch-size", type=int, default=500)
    replay.add_argument("--json", action="store_true", help="last stdout line is the JSON report")
    replay.add_argument("--function", default="ingest", help="the Event Hub function to feed (default: ingest)")
    replay.set_defaults(run=_replay)
    sample = commands.add_parser("sample", help="write a deterministic sample month of capture/v1 events")
    sample.add_argument("rest", nargs=argparse.REMAINDER)
    sample.set_defaults(run=_sample)
    send = commands.add_parser("send", help="send JSON Lines / Capture Avro events to a real Event Hub")
    send.add_argument("paths", nargs="+")
    send.add_argument("--namespace", help="e.g. ehns-ledger.servicebus.windows.net (Entra credentials)")
    send.add_argument("--hub", help="hub name (default: EVENTHUB_NAME)")
    send.add_argument("--connection-string", help="use a connection string instead of Entra credentials")
    send.set_defaults(run=_send)
    demo = commands.add_parser("demo", help="sample month -> replay -> the two reports -> serve the API")
    demo.add_argument("--port", type=int, default=7071)
    demo.add_argument("--no-serve", action="store_true")
    demo.set_defaults(run=_demo)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
