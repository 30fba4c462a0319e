"""Loopback helpers the tests that start servers share."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now, for a server a test is about to start."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_call(url: str, data: bytes | None = None, method: str | None = None, timeout: float = 10) -> tuple[int, bytes]:
    """Status and body of one request; HTTP errors are answers too, not exceptions."""
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - the tests' own local servers
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - as above
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
