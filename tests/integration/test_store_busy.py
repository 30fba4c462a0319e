"""A write through the API that cannot get its lock within LEDGER_API_WRITE_WAIT_SECONDS answers 503 with
Retry-After (nothing written), on SQLite and PostgreSQL; once the lock is free the same request succeeds."""

from __future__ import annotations

import json
import time
from contextlib import contextmanager

from sqlalchemy import create_engine

from shared.api.handler import handle
from shared.api.http import ApiRequest
from tests.conftest import make_context

QUOTA = json.dumps({"period": "month", "limitTokens": 1000}).encode()


@contextmanager
def _lock_held_elsewhere(store):
    """Another process's transaction holding what a quota write needs, as a long ingest batch would."""
    other = create_engine(store.engine.url, isolation_level="AUTOCOMMIT")
    with other.connect() as conn:
        if store.dialect == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")
            conn.exec_driver_sql("LOCK TABLE quotas IN ACCESS EXCLUSIVE MODE")
        try:
            yield
        finally:
            conn.exec_driver_sql("ROLLBACK")
    other.dispose()


def _put(context):
    request = ApiRequest(
        "PUT", "/api/quotas/user/oid-ana", route_params={"scopeType": "user", "scopeId": "oid-ana"}, body=QUOTA
    )
    return handle("quota_put", request, context)


def test_a_quota_write_blocked_past_its_budget_is_a_503_with_retry_after_and_then_succeeds(any_store):
    context = make_context(any_store, LEDGER_API_WRITE_WAIT_SECONDS="0.3")
    with _lock_held_elsewhere(any_store):
        started = time.monotonic()
        busy = _put(context)
        waited = time.monotonic() - started
    assert busy.status == 503 and busy.headers["Retry-After"] == "1" and busy.content_type == "application/problem+json"
    problem = json.loads(busy.body)
    assert problem["status"] == 503 and "locked for more than 0.3 s" in problem["detail"]
    assert 0.25 < waited < 5  # its own budget, not the store's 30 s
    assert _put(context).status == 201  # nothing was written by the refused attempt
    assert _put(context).status == 200
