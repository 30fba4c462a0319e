"""Azurite (the Azure Storage emulator, npm package `azurite`), started by the tests on loopback.

`make test` installs it (`npm install` when node_modules is missing). The fixture starts the blob service
on a free port with in-memory persistence, waits for it to answer, and stops it at the end; `azurite_queue`
adds the queue service (the Kusto queued-ingestion tests) beside the same blob service.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.net import free_port

ROOT = Path(__file__).resolve().parents[1]
ACCOUNT = "devstoreaccount1"
# Azurite's well-known development account key (public, documented; it only opens the local emulator).
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def connection_string(port: int) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
        f"BlobEndpoint=http://127.0.0.1:{port}/{ACCOUNT};"
    )


def queue_connection_string(blob_port: int, queue_port: int) -> str:
    return connection_string(blob_port) + f"QueueEndpoint=http://127.0.0.1:{queue_port}/{ACCOUNT};"


def blob_port(conn_str: str) -> int:
    """The port of the blob endpoint in a connection string of `connection_string`."""
    endpoint = next(p for p in conn_str.split(";") if p.startswith("BlobEndpoint="))
    return int(endpoint.split(":")[-1].split("/")[0])


@contextmanager
def _run(service: str) -> Iterator[int]:
    """Start one Azurite service (`blob`, `queue`) on a free loopback port; yields the port, stops it after."""
    binary = ROOT / "node_modules" / ".bin" / f"azurite-{service}"
    if not binary.exists():
        raise RuntimeError("Azurite is not installed: run `npm install --no-audit --no-fund` (make test does)")
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="ledger-azurite-"))
    process = subprocess.Popen(
        [
            str(binary),
            "--silent",
            "--skipApiVersionCheck",
            "--loose",
            "--inMemoryPersistence",
            f"--{service}Host",
            "127.0.0.1",
            f"--{service}Port",
            str(port),
        ],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"Azurite exited: {process.stderr.read().decode(errors='replace')[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("Azurite did not start listening within 30 s") from None
                time.sleep(0.1)
        yield port
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def azurite() -> Iterator[str]:
    """The connection string of a running Azurite blob service."""
    with _run("blob") as port:
        yield connection_string(port)


@pytest.fixture(scope="session")
def azurite_queue(azurite: str) -> Iterator[str]:
    """A connection string with both the blob service of `azurite` and a running Azurite queue service."""
    with _run("queue") as port:
        yield queue_connection_string(blob_port(azurite), port)


def put_blob(conn_str: str, ref: str, data: bytes) -> None:
    from azure.storage.blob import BlobServiceClient

    container, _, name = ref.partition("/")
    with BlobServiceClient.from_connection_string(conn_str) as service:
        client = service.get_container_client(container)
        if not client.exists():
            client.create_container()
        client.upload_blob(name, data, overwrite=True)
