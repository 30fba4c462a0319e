"""`python -m devhost serve` started for a test, and headless Chromium to look at what it serves."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.net import free_port, http_call

ROOT = Path(__file__).resolve().parents[1]


def devhost_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a devhost subprocess over a SQLite file in `tmp_path`, in dev mode, sending no mail."""
    env = dict(os.environ)
    env.update(
        {
            "LEDGER_SQL_URL": f"sqlite:///{tmp_path / 'ledger.db'}",
            "LEDGER_AUTH": "dev",
            "LEDGER_EMAIL_MODE": "off",
            "LEDGER_OUTBOX_DIR": str(tmp_path / "outbox"),
            "PYTHONPATH": str(ROOT),
        }
    )
    env.update(extra)
    return env


def run_devhost(args: list[str], env: dict[str, str], cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """`python -m devhost ARGS` to its end, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "devhost", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


@contextmanager
def local_host(tmp_path: Path, **env: str) -> Iterator[tuple[str, Path]]:
    """The base URL of a running `devhost serve` and the file its output goes to (a file: a pipe nobody reads
    would fill up with access lines and stall the server); stopped on exit."""
    port, log = free_port(), tmp_path / "serve.log"
    with open(log, "wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "devhost", "serve", "--port", str(port), "--no-timers"],
            cwd=tmp_path,
            env=devhost_env(tmp_path, **env),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                http_call(f"{base}/api/openapi.json")
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise AssertionError(f"devhost serve did not start:\n{log.read_text()}") from None
                time.sleep(0.1)
        yield base, log
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def front_door(base: str, headers: dict[str, str]) -> Iterator[str]:
    """The base URL of a proxy to `base` that adds `headers` to every GET, as App Service Authentication adds the
    signed-in caller's X-MS-CLIENT-PRINCIPAL: a browser sent to it is that caller (Chromium sets no headers)."""

    class Forward(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            request = urllib.request.Request(base + self.path, headers=headers)  # noqa: S310 - the test's own host
            try:
                with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310 - as above
                    status, answer_headers, body = answer.status, answer.headers, answer.read()
            except urllib.error.HTTPError as error:
                status, answer_headers, body = error.code, error.headers, error.read()
            self.send_response(status)
            for name in ("Content-Type", "Content-Security-Policy"):
                if answer_headers.get(name):
                    self.send_header(name, answer_headers[name])
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args) -> None:  # quiet: the host behind keeps the access log
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Forward)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium() -> str:
    """Debian's `chromium`; its absence fails the test (.ci/run installs it), it is never a skip."""
    found = shutil.which("chromium")
    if found is None:
        raise AssertionError("chromium not found: install Debian's chromium package (.ci/run does)")
    return found


def rendered_dom(url: str, tmp_path: Path) -> str:
    """The DOM headless Chromium renders for `url`."""
    result = subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-dom'}", "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def screenshot(url: str, path: Path, size: str = "1280,900") -> Path:
    """A PNG of `url` as headless Chromium draws it at `size`, written to `path`."""
    result = subprocess.run(
        [
            chromium(),
            *CHROMIUM_FLAGS,
            f"--user-data-dir={path.parent / 'chromium-shot'}",
            f"--screenshot={path}",
            f"--window-size={size}",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0 and path.exists(), result.stderr[-2000:]
    return path
