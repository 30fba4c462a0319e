"""`python -m devhost serve`: the app's HTTP functions on a real HTTP server, as `func start` serves them.

Routes come from the registered functions (route prefix `api`), `POST /admin/functions/{name}` invokes
non-HTTP functions with the same body `func start` accepts (`{"input": "..."}`), and timers fire on their
schedules. A dev harness only: production is Azure Functions.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import threading
import time
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO
from urllib.parse import parse_qs, unquote, urlsplit

import azure.functions as func
from azure.functions.timer import TimerRequest

from devhost.cron import Schedule
from devhost.functions import LocalFunction
from shared.api.auth import addresses_loopback

logger = logging.getLogger("devhost")
ROUTE_PREFIX = "/api/"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _route_pattern(route: str) -> re.Pattern[str]:
    pattern = re.sub(r"\\\{(\w+)(?::[^}]*)?\\\}", r"(?P<\1>[^/]+)", re.escape(route))
    return re.compile(f"^{pattern}$")


def invoke_non_http(function: LocalFunction, data: Any) -> None:
    """Run a timer or Event Hub function the way the admin endpoint of the Functions host does (`data`: the
    request's JSON, `{"input": "..."}`)."""
    text = data.get("input", "") if isinstance(data, dict) else ""
    if function.kind == "timerTrigger":
        function.call(TimerRequest(past_due=False))
    elif function.kind == "eventHubTrigger":
        bodies = [text.encode()] if isinstance(text, str) else [json.dumps(item).encode() for item in text]
        events = [func.EventHubEvent(body=body, sequence_number=i) for i, body in enumerate(bodies)]
        many = str(function.trigger.get("cardinality", "one")).lower() == "many"
        function.call(events if many else events[0])
    else:
        raise ValueError(f"{function.name} has a {function.kind}, which the local host cannot invoke")


class LocalHost:
    def __init__(self, functions: dict[str, LocalFunction], *, dev_mode: bool = False) -> None:
        self.functions = functions
        self.dev_mode = dev_mode  # LEDGER_AUTH=dev: only requests addressed to this machine's loopback names
        self.http = [(_route_pattern(f.route), f) for f in functions.values() if f.kind == "httpTrigger"]
        # Literal routes win over parameterised ones, as in the Functions host.
        self.http.sort(key=lambda item: item[1].route.count("{"))
        self.timers = [f for f in functions.values() if f.kind == "timerTrigger"]
        self._stop = threading.Event()

    def match(self, method: str, path: str) -> tuple[LocalFunction, dict[str, str]] | None:
        """The function serving a decoded path, and its route parameters."""
        if not path.startswith(ROUTE_PREFIX):
            return None
        relative = path[len(ROUTE_PREFIX) :]
        for pattern, function in self.http:
            found = pattern.match(relative)
            if found and method in function.methods:
                return function, found.groupdict()
        return None

    def start_timers(self) -> None:
        for function in self.timers:
            threading.Thread(
                target=self._run_timer, args=(function,), name=f"timer-{function.name}", daemon=True
            ).start()

    def _run_timer(self, function: LocalFunction) -> None:
        schedule = Schedule(function.schedule)
        while not self._stop.is_set():
            now = datetime.now(UTC)
            due = schedule.next_after(now)
            if self._stop.wait((due - now).total_seconds()):
                return
            try:
                logger.info("timer %s firing (%s)", function.name, schedule.expression)
                function.call(TimerRequest(past_due=False))
            except Exception:
                logger.exception("timer %s failed", function.name)

    def stop(self) -> None:
        self._stop.set()


MAX_BODY = 64 * 1024 * 1024  # an Event Hubs event is at most 1 MB; a quota body is tiny
_TARGET = re.compile(r"[\x21-\x7e]+")  # a request target is printable ASCII; anything else is percent-encoded
_LENGTH = re.compile(r"[0-9]{1,20}")


class _Refused(Exception):
    """A request the local host answers itself, before any function sees it."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


def make_handler(host: LocalHost, access_log: TextIO | None = None) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        default_request_version = "HTTP/1.1"  # so that even a garbled request line gets a status line with its 400
        started = 0.0

        def log_message(self, fmt: str, *args) -> None:  # http.server's own notes go through logging
            logger.info("%s %s", self.address_string(), fmt % args)

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            pass  # one access line per answer is written by _send, with its size and time

        def _access(self, status: int, size: int) -> None:
            if access_log is None:
                return
            took = (time.monotonic() - self.started) * 1000 if self.started else 0.0
            target = "".join(
                c if c.isprintable() and c != " " else f"\\x{ord(c):02x}"
                for c in (getattr(self, "path", "") or "-")[:300]
            )  # one line, whatever was sent
            line = (
                f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ} {self.client_address[0]} "
                f"{getattr(self, 'command', None) or '-'} {target} {status} {size}B {took:.0f}ms\n"
            )
            access_log.write(line)
            access_log.flush()

        def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
            """http.server's own refusals (request line, headers, version) as problem+json, like ours."""
            self.close_connection = True
            self._problem(code, message or explain or HTTPStatus(code).phrase)

        def _problem(self, status: int, detail: str) -> None:
            title = HTTPStatus(status).phrase
            body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail}).encode()
            self._send(status, body, {"Content-Type": "application/problem+json"})

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self._access(status, len(body))

        def _checked(self) -> tuple[str, dict[str, list[str]], bytes]:
            """The request's decoded path, query and body, or _Refused saying what is wrong with it."""
            if not _TARGET.fullmatch(self.path):
                raise _Refused(400, "the request target must be printable ASCII (percent-encode the rest)")
            if self.headers.defects:  # e.g. a header line without a colon
                raise _Refused(400, f"malformed header lines ({type(self.headers.defects[0]).__name__})")
            host_header = self.headers.get("Host")
            if host_header is None and self.request_version != "HTTP/1.0":
                raise _Refused(400, "an HTTP/1.1 request needs a Host header")
            address = self.server.server_address  # (host, port): a TCP server
            port = address[1] if isinstance(address, tuple) else None
            if host.dev_mode and not addresses_loopback(host_header or "", port):
                raise _Refused(
                    403,
                    f"LEDGER_AUTH=dev answers only requests addressed to 127.0.0.1:{port}, "
                    f"localhost:{port} or [::1]:{port}, not Host {(host_header or '(none)')[:80]!r}",
                )
            target = urlsplit(self.path)
            try:
                path = unquote(target.path, errors="strict")
                query = parse_qs(target.query, keep_blank_values=True, errors="strict")
            except UnicodeDecodeError:
                raise _Refused(400, "the path and query must be UTF-8 once percent-decoded") from None
            return path, query, self._body()

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding") is not None:
                raise _Refused(411, "send the body with a Content-Length; Transfer-Encoding is not supported here")
            lengths = self.headers.get_all("Content-Length") or []
            if len(lengths) > 1:
                raise _Refused(400, "more than one Content-Length header")
            if lengths and not _LENGTH.fullmatch(lengths[0].strip()):
                raise _Refused(400, f"Content-Length must be a number of bytes, got {lengths[0][:40]!r}")
            length = int(lengths[0]) if lengths else 0
            if length > MAX_BODY:
                raise _Refused(413, f"the body may be at most {MAX_BODY:,} bytes")
            return self.rfile.read(length) if length else b""

        def _serve(self) -> None:
            self.started = time.monotonic()
            try:
                path, query, body = self._checked()
            except _Refused as refusal:
                self.close_connection = True  # what follows a refused request cannot be trusted to be one
                return self._problem(refusal.status, refusal.detail)
            if path.startswith("/admin/functions/") and self.command == "POST":
                return self._admin(path.rsplit("/", 1)[-1], body)
            found = host.match(self.command, path)
            if found is None:
                return self._problem(404, f"no function serves {self.command} {path[:200]}")
            function, route_params = found
            request = func.HttpRequest(
                method=self.command,
                url=f"http://{self.headers.get('Host', 'localhost')}{self.path}",
                headers=dict(self.headers.items()),
                params={name: values[-1] for name, values in query.items()},
                route_params=route_params,
                body=body,
            )
            try:
                response: func.HttpResponse = function.call(request)
            except Exception:  # the function's own failure: the host answers 500, as the Functions host does
                logger.exception("function %s failed", function.name)
                return self._problem(500, f"the function {function.name} failed; the error is in the local host's log")
            headers = dict(response.headers.items())
            headers.setdefault("Content-Type", f"{response.mimetype}; charset={response.charset}")
            self._send(response.status_code, response.get_body(), headers)

        def _admin(self, name: str, body: bytes) -> None:
            function = host.functions.get(name)
            if function is None or function.kind == "httpTrigger":
                return self._problem(404, f"no non-HTTP function called {name[:80]!r}")
            try:
                payload = json.loads(body) if body.strip() else {}
            except ValueError:
                return self._problem(400, 'the body must be JSON such as {"input": "..."}')
            try:
                invoke_non_http(function, payload)
            except Exception as exc:
                logger.exception("admin invocation of %s failed", name)
                return self._send(500, json.dumps({"error": str(exc)}).encode(), {"Content-Type": "application/json"})
            self._send(202, b"", {})

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    return Handler


def serve(
    functions: dict[str, LocalFunction],
    *,
    host: str,
    port: int,
    timers: bool,
    dev_mode: bool = False,
    access_log: TextIO | None = None,
) -> LocalServer:
    """A started server (not yet serving); `access_log` gets one line per answer."""
    local = LocalHost(functions, dev_mode=dev_mode)
    server = LocalServer((host, port), make_handler(local, access_log), local)
    server.daemon_threads = True
    if timers:
        local.start_timers()
    return server


class LocalServer(ThreadingHTTPServer):
    """The HTTP server, holding the host of the functions it serves (whose timers stop with it)."""

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], local_host: LocalHost) -> None:
        super().__init__(address, handler)
        self.local_host = local_host
