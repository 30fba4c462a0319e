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
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import azure.functions as func
from azure.functions.timer import TimerRequest

from .cron import Schedule
from .functions import LocalFunction

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


def invoke_non_http(function: LocalFunction, payload: bytes) -> None:
    """Run a timer or Event Hub function the way the admin endpoint of the Functions host does."""
    data = json.loads(payload or b"{}") if payload.strip() else {}
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
    def __init__(self, functions: dict[str, LocalFunction]) -> None:
        self.functions = functions
        self.http = [
            (_route_pattern(f.route), f) for f in functions.values() if f.kind == "httpTrigger"
        ]
        # Literal routes win over parameterised ones, as in the Functions host.
        self.http.sort(key=lambda item: item[1].route.count("{"))
        self.timers = [f for f in functions.values() if f.kind == "timerTrigger"]
        self._stop = threading.Event()

    def match(self, method: str, path: str) -> tuple[LocalFunction, dict[str, str]] | None:
        if not path.startswith(ROUTE_PREFIX):
            return None
        relative = path[len(ROUTE_PREFIX):]
        for pattern, function in self.http:
            found = pattern.match(relative)
            if found and method in function.methods:
                return function, found.groupdict()
        return None

    def start_timers(self) -> None:
        for function in self.timers:
            threading.Thread(target=self._run_timer, args=(function,), name=f"timer-{function.name}", daemon=True).start()

    def _run_timer(self, function: LocalFunction) -> None:
        schedule = Schedule(function.schedule)
        while not self._stop.is_set():
            now = datetime.now(timezone.utc)
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


def make_handler(host: LocalHost) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt: str, *args) -> None:  # route access logs through logging
            logger.info("%s %s", self.address_string(), fmt % args)

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _serve(self) -> None:
            path = urlsplit(self.path).path
            body = self._body()
            if path.startswith("/admin/functions/") and self.command == "POST":
                return self._admin(path.rsplit("/", 1)[-1], body)
            found = host.match(self.command, path)
            if found is None:
                return self._send(404, b'{"title": "Not Found", "status": 404}', {"Content-Type": "application/problem+json"})
            function, route_params = found
            request = func.HttpRequest(
                method=self.command,
                url=f"http://{self.headers.get('Host', 'localhost')}{self.path}",
                headers=dict(self.headers.items()),
                params={},
                route_params=route_params,
                body=body,
            )
            response: func.HttpResponse = function.call(request)
            headers = dict(response.headers.items())
            headers.setdefault("Content-Type", f"{response.mimetype}; charset={response.charset}")
            self._send(response.status_code, response.get_body(), headers)

        def _admin(self, name: str, body: bytes) -> None:
            function = host.functions.get(name)
            if function is None or function.kind == "httpTrigger":
                return self._send(404, b"", {})
            try:
                invoke_non_http(function, body)
            except Exception as exc:
                logger.exception("admin invocation of %s failed", name)
                return self._send(500, json.dumps({"error": str(exc)}).encode(), {"Content-Type": "application/json"})
            self._send(202, b"", {})

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    return Handler


def serve(functions: dict[str, LocalFunction], *, host: str, port: int, timers: bool) -> ThreadingHTTPServer:
    local = LocalHost(functions)
    server = ThreadingHTTPServer((host, port), make_handler(local))
    server.daemon_threads = True
    if timers:
        local.start_timers()
    server.local_host = local  # type: ignore[attr-defined]
    return server
