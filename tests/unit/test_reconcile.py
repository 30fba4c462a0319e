"""Reconciliation of APIM's hourly counts with the ledger's, on query-result rows."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from shared.adapters.monitor_query import gateway_hourly_kql
from shared.jobs.reconcile import compare, run_reconcile
from shared.store.sql import SqlStore
from tests.conftest import make_context

H0 = datetime(2026, 11, 20, 9, tzinfo=UTC)
H1 = H0 + timedelta(hours=1)


def test_hours_where_apim_saw_more_calls_are_gaps():
    rows = [{"hour": "2026-11-20T09:00:00Z", "calls": 120}, {"hour": H1, "calls": 80}]
    gaps = compare(rows, {H0: 117, H1: 80})
    assert [(g.hour, g.apim_calls, g.ledger_calls, g.missing) for g in gaps] == [(H0, 120, 117, 3)]


def test_an_hour_missing_from_the_ledger_entirely_is_a_gap_and_extra_ledger_calls_are_not():
    gaps = compare([{"hour": H0, "calls": 5}], {H1: 40})
    assert [(g.hour, g.missing) for g in gaps] == [(H0, 5)]


def test_kql_counts_llm_operations_per_hour_case_insensitively():
    kql = gateway_hourly_kql(["ChatCompletions_Create", "embeddings_create"])
    assert (
        kql.startswith("ApiManagementGatewayLogs")
        and '"chatcompletions_create"' in kql
        and "bin(TimeGenerated, 1h)" in kql
    )


def test_reconcile_without_a_workspace_is_skipped_with_one_log_line(tmp_path, caplog):
    store = SqlStore.from_url(f"sqlite:///{tmp_path / 'l.db'}")
    with caplog.at_level(logging.INFO, logger="shared.jobs.reconcile"):
        assert run_reconcile(make_context(store)) == {"skipped": True}
    assert [r.message for r in caplog.records] == ["reconcile skipped: LEDGER_LOG_ANALYTICS_WORKSPACE_ID is empty"]


def test_a_gap_is_alerted_once(tmp_path):
    store = SqlStore.from_url(f"sqlite:///{tmp_path / 'l.db'}")
    context = make_context(store)
    now = datetime.now(UTC)
    hour = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    rows = [{"hour": hour, "calls": 10}]
    first = run_reconcile(context, now=now, query=lambda start, end: rows)
    second = run_reconcile(context, now=now, query=lambda start, end: rows)
    assert first["gaps"] == [(hour.isoformat(), 10)] and len(first["raised"]) == 1 and second["raised"] == []
