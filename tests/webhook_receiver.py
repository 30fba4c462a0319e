"""A real HTTP server on loopback that receives chat-webhook posts, as Teams, Slack or any JSON receiver would."""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Received:
    """What reached each path: accepted JSON bodies, and how many posts were refused."""

    def __init__(self, failures: dict[str, int]) -> None:
        self.accepted: dict[str, list[Any]] = defaultdict(list)
        self.refused: dict[str, int] = defaultdict(int)
        self.failures = dict(failures)  # path -> posts to answer 500 before accepting
        self.lock = threading.Lock()


@contextmanager
def webhook_receiver(failures: dict[str, int] | None = None) -> Iterator[tuple[str, Received]]:
    """(base URL, Received); a path named in `failures` answers 500 that many times first."""
    received = Received(failures or {})

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with received.lock:
                if received.failures.get(self.path, 0) > 0:
                    received.failures[self.path] -= 1
                    received.refused[self.path] += 1
                    status = 500
                else:
                    received.accepted[self.path].append(json.loads(body))
                    status = 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()
