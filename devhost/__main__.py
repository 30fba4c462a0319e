"""The local stand-in for the Functions host: `python -m devhost serve | replay | sample | send | demo`."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import NoReturn

from devhost.errors import USAGE, CliError, explain, input_files


def _serve(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import DBAPIError

    from devhost.errors import bind_error, explain
    from devhost.functions import load_functions
    from devhost.server import is_loopback, serve
    from shared.app.settings import load_settings
    from shared.app.wiring import app_context

    settings = load_settings()
    dev_mode = settings.auth_mode == "dev"  # as the app reads it: any case, any spaces
    if dev_mode and not is_loopback(args.host):
        raise CliError(
            f"refusing to serve LEDGER_AUTH=dev on {args.host}: dev mode makes every caller an admin; "
            "use --host 127.0.0.1"
        )
    functions = load_functions()
    try:
        server = serve(
            functions,
            host=args.host,
            port=args.port,
            timers=not args.no_timers,
            dev_mode=dev_mode,
            access_log=sys.stderr,
        )
    except OSError as exc:
        raise bind_error(exc, args.host, args.port) from None
    try:
        app_context()  # a bad LEDGER_SQL_URL stops here; a database that is down only warns, as the Functions host would
    except DBAPIError as exc:
        print(
            f"devhost: warning: {explain(exc)[0]}; /api/health answers 503 until it does", file=sys.stderr, flush=True
        )
    http = sorted(f"{', '.join(f.methods)} /api/{f.route}" for f in functions.values() if f.kind == "httpTrigger")
    other = sorted(f"{f.name} ({f.kind})" for f in functions.values() if f.kind != "httpTrigger")
    print(f"aoai-ledger local host on http://{args.host}:{args.port}", flush=True)
    print("  " + "\n  ".join(http), flush=True)
    print("  admin: POST /admin/functions/{" + " | ".join(other) + "}", flush=True)
    if not dev_mode:
        print(
            f"  identity: LEDGER_AUTH={settings.auth_mode}; to call it from this machine without a token, "
            "start it with LEDGER_AUTH=dev",
            flush=True,
        )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.local_host.stop()
        server.server_close()
    return 0


def _replay(args: argparse.Namespace) -> int:
    from devhost.functions import load_functions
    from devhost.replay import replay

    paths = input_files(args.paths)
    functions = load_functions()
    if args.function not in functions or functions[args.function].kind != "eventHubTrigger":
        hubs = ", ".join(sorted(f.name for f in functions.values() if f.kind == "eventHubTrigger"))
        raise CliError(f"--function {args.function!r} is not an Event Hub function of the app; use one of {hubs}")
    report = replay(
        functions[args.function], paths, batch_size=args.batch_size, progress=sys.stderr.isatty() and not args.json
    )
    if args.json:
        print(json.dumps(report.as_json()))
    else:
        print(", ".join(f"{k}: {v:,}" for k, v in report.as_json().items()))
    return 0 if report.complete else 1  # everything readable was replayed; the lines on stderr say what was not


def _sample(args: argparse.Namespace) -> int:
    from devhost.sample import write_sample

    if args.out is not None and not args.out.parent.is_dir():
        raise CliError(f"--out {args.out}: the folder {args.out.parent} does not exist; create it or write elsewhere")
    if args.out is not None and args.out.is_dir():
        raise CliError(f"--out {args.out} is a directory; name a file, e.g. {args.out / 'month.jsonl'}")
    return write_sample(args)


def _send(args: argparse.Namespace) -> int:
    from devhost.send import azure_producer, send_files

    namespace = args.namespace or os.environ.get("EVENTHUB__fullyQualifiedNamespace", "")  # noqa: SIM112 - the Functions host's spelling
    hub = args.hub or os.environ.get("EVENTHUB_NAME", "aoai-capture")
    if not (namespace or args.connection_string):
        raise CliError("send needs --namespace (or EVENTHUB__fullyQualifiedNamespace) or --connection-string")
    sent = send_files(input_files(args.paths), azure_producer(namespace, hub, args.connection_string))
    print(f"sent {sent:,} events to {hub}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from devhost.demo import run_demo

    return run_demo(port=args.port, serve_api=not args.no_serve)


class _Parser(argparse.ArgumentParser):
    """argparse, with its complaint on one line that says where the help is."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE, f"devhost: {message}; see `{self.prog} --help`\n")


def _parser() -> argparse.ArgumentParser:
    from devhost.sample import add_arguments as sample_arguments
    from devhost.sample import positive_int

    common = _Parser(add_help=False)
    common.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show the traceback of a failure instead of one line",
    )
    parser = _Parser(prog="python -m devhost", description=__doc__, parents=[common])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    serve = commands.add_parser("serve", parents=[common], help="serve the app's functions on a real HTTP server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=7071)
    serve.add_argument("--no-timers", action="store_true", help="do not run timers on their schedules")
    serve.set_defaults(run=_serve)
    replay = commands.add_parser(
        "replay", parents=[common], help="feed JSON Lines / Capture Avro files through the ingest function"
    )
    replay.add_argument("paths", nargs="+")
    replay.add_argument("--batch-size", type=positive_int, default=500, help="events per batch (at least 1)")
    replay.add_argument("--json", action="store_true", help="last stdout line is the JSON report")
    replay.add_argument("--function", default="ingest", help="the Event Hub function to feed (default: ingest)")
    replay.set_defaults(run=_replay)
    sample = commands.add_parser(
        "sample", parents=[common], help="write a deterministic sample month of capture/v1 events"
    )
    sample_arguments(sample)
    sample.set_defaults(run=_sample)
    send = commands.add_parser(
        "send", parents=[common], help="send JSON Lines / Capture Avro events to a real Event Hub"
    )
    send.add_argument("paths", nargs="+")
    send.add_argument("--namespace", help="e.g. ehns-ledger.servicebus.windows.net (Entra credentials)")
    send.add_argument("--hub", help="hub name (default: EVENTHUB_NAME)")
    send.add_argument("--connection-string", help="use a connection string instead of Entra credentials")
    send.set_defaults(run=_send)
    demo = commands.add_parser(
        "demo", parents=[common], help="sample month -> replay -> the reports and alerts -> serve the API"
    )
    demo.add_argument("--port", type=int, default=7071)
    demo.add_argument("--no-serve", action="store_true")
    demo.set_defaults(run=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    from devhost.functions import load_local_settings

    logging.basicConfig(level=os.environ.get("DEVHOST_LOG_LEVEL", "WARNING"), format="%(asctime)s %(name)s %(message)s")
    args = _parser().parse_args(argv)
    try:
        load_local_settings()
        return args.run(args)
    except Exception as exc:
        if getattr(args, "debug", False):
            raise
        message, code = explain(exc)
        print(f"devhost {args.command}: {message}", file=sys.stderr, flush=True)
        return code


if __name__ == "__main__":
    sys.exit(main())
