"""Schemathesis against `/api/openapi.json` served by the real local host: no 500s, responses as documented.

The host runs as a developer runs it (`python -m devhost serve`, LEDGER_AUTH=dev on loopback) over a seeded
SQLite ledger; every operation of the document gets a bounded number of generated requests.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from shared.ingest.types import IncomingEvent
from shared.store.sql import SqlStore
from tests.builders import capture_event, encode
from tests.conftest import make_context
from tests.net import free_port

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES_PER_OPERATION = 60


def _seed(url: str) -> None:
    store = SqlStore.from_url(url)
    now = datetime.now(UTC)
    events = [
        encode(
            capture_event(
                call_id=f"seed-{i}",
                time=(now - timedelta(hours=5 * i)).isoformat(),
                user_id=f"oid-{i % 3}",
                status=200 if i % 7 else 429,
            )
        )
        for i in range(40)
    ]
    make_context(store).ingestor.ingest_batch([IncomingEvent(body=b) for b in [*events, b"not json", b"[1, 2]"]])
    store.dispose()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("contract")
    url = f"sqlite:///{workdir / 'ledger.db'}"
    _seed(url)
    port = free_port()
    env = {
        **os.environ,
        "LEDGER_SQL_URL": url,
        "LEDGER_AUTH": "dev",
        "LEDGER_EMAIL_MODE": "off",
        "LEDGER_OUTBOX_DIR": str(workdir / "outbox"),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "devhost", "serve", "--port", str(port), "--no-timers"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{base}/api/health", timeout=2):  # noqa: S310 - http://127.0.0.1, built above
                break
        except OSError as exc:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise AssertionError(process.stdout.read()) from exc
            time.sleep(0.1)
    yield base
    process.terminate()
    process.wait(timeout=10)


CHECKS = [status_code_conformance, content_type_conformance, response_headers_conformance, response_schema_conformance]


def test_every_documented_operation_answers_as_documented_and_never_500(served):
    schema = schemathesis.openapi.from_url(f"{served}/api/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8
    statuses: dict[str, set[int]] = {}
    for operation in operations:
        label = f"{operation.method.upper()} {operation.path}"

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
        def exercise(case) -> None:
            response = case.call_and_validate(base_url=served, checks=CHECKS, timeout=10)
            assert response.status_code < 500, (label, response.status_code, response.text[:300])  # noqa: B023 - called at once, within this iteration
            statuses.setdefault(label, set()).add(response.status_code)  # noqa: B023 - called at once, within this iteration

        exercise()
    assert statuses["GET /api/usage"] & {200}, statuses
    assert statuses["GET /api/requests"] & {200}, statuses


def test_values_outside_the_document_are_problems_never_500(served):
    # Negative generation: every parameter and body drawn to violate its schema (wrong types, out of range,
    # past maxLength, missing required), sent over real HTTP to the local host.
    schema = schemathesis.openapi.from_url(f"{served}/api/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    operations = [op for op in operations if op.definition.raw.get("parameters") or "requestBody" in op.definition.raw]
    assert len(operations) >= 7
    for operation in operations:  # an operation without inputs has nothing to get wrong
        label = f"{operation.method.upper()} {operation.path}"

        @settings(
            max_examples=EXAMPLES_PER_OPERATION // 2,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
        def exercise(case) -> None:
            response = case.call(base_url=served, timeout=10)
            assert response.status_code < 500, (label, response.status_code, response.text[:300])  # noqa: B023 - called at once, within this iteration
            if response.status_code >= 400:
                content_type = response.headers.get("content-type", [""])[0]
                assert content_type.startswith("application/problem+json"), (
                    label,  # noqa: B023 - called at once, within this iteration
                    response.status_code,
                    response.text[:200],
                )

        exercise()
