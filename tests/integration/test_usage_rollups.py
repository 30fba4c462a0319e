"""Rollups answer exactly what a scan of the raw calls answers, for any range, grouping, filter and caller.

Calls go through the real write path (new, duplicate and merged deliveries), then `query_usage` (narrow
rollups, and the wide rollup alone) is held to an independent count over the raw rows in Python.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from shared.ingest.calls import record_calls
from shared.reports.teams import TEAM_KEYS
from shared.reports.usage import GROUP_KEYS, KEY_COLUMNS, UsageQuery, choose_cut, query_timeseries, query_usage
from shared.store.records import CallRecord
from shared.store.schema import DAY_TO_HOUR, MONTH_TO_DATE, ROLLUP_CUTS, calls
from shared.store.sql import SqlStore
from shared.store.times import aware_utc
from tests.usage_oracle import report_key

BASE = datetime(2026, 10, 30, tzinfo=UTC)  # the span crosses a month: cumulative cuts restart
SPAN_MINUTES = 3 * 24 * 60
VALUES = {
    "user_id": ["u1", "u2", "u3", None],
    "subscription_id": ["s1", "s2"],
    "product_id": ["gold", None],
    "app_id": ["a1", "a2", None],
    "ip": ["10.0.0.1", "10.0.0.2"],
    "model": ["gpt-4o", "gpt-4o-mini", None],
    "deployment": ["chat", "mini"],
    "backend_id": ["east", "west", None],
}
KEY_OF_COLUMN = {column: key for key, column in KEY_COLUMNS.items()}


@st.composite
def call_records(draw) -> list[CallRecord]:
    records = []
    for i in range(draw(st.integers(1, 40))):
        prompt, completion = draw(st.integers(0, 500)), draw(st.integers(0, 500))
        records.append(
            CallRecord(
                call_id=f"c{i}",
                time=BASE + timedelta(minutes=draw(st.integers(0, SPAN_MINUTES - 1)), seconds=draw(st.integers(0, 59))),
                source="capture/v1",
                operation=draw(st.sampled_from(["chat.completions", "embeddings"])),
                status=draw(st.sampled_from([200, 200, 429, 500, 0])),
                duration_ms=draw(st.one_of(st.none(), st.integers(1, 5000).map(float))),
                prompt_tokens=prompt,
                completion_tokens=completion,
                total_tokens=prompt + completion,
                cached_tokens=draw(st.integers(0, prompt)),
                reasoning_tokens=draw(st.integers(0, completion)),
                tokens_estimated=draw(st.booleans()),
                cost_usd=draw(st.one_of(st.none(), st.integers(0, 10_000).map(lambda c: c / 1e6))),
                **{column: draw(st.sampled_from(values)) for column, values in VALUES.items()},
            )
        )
    return records


def _redeliveries(records: list[CallRecord], draw) -> list[CallRecord]:
    """Some calls again: the same view (a duplicate) or the gateway's log with real tokens (a merge)."""
    again = []
    for record in records:
        kind = draw(st.sampled_from(["none", "none", "duplicate", "monitor"]))
        if kind == "duplicate":
            again.append(replace(record))
        elif kind == "monitor":
            again.append(
                replace(
                    record,
                    source="azure-monitor",
                    prompt_tokens=record.prompt_tokens + 7,
                    total_tokens=record.total_tokens + 7,
                    tokens_estimated=False,
                    app_id=record.app_id or "a9",
                )
            )
    return again


@st.composite
def usage_queries(draw) -> UsageQuery:
    start_min = draw(st.one_of(st.integers(-60, SPAN_MINUTES), st.integers(0, 72).map(lambda h: h * 60)))
    length = draw(st.one_of(st.integers(1, SPAN_MINUTES + 120), st.integers(1, 3).map(lambda d: d * 1440)))
    start = BASE + timedelta(minutes=start_min, seconds=draw(st.sampled_from([0, 0, 17])))
    keys = [k for k in GROUP_KEYS if k not in TEAM_KEYS]  # teams: test_team_reports
    group_by = tuple(draw(st.lists(st.sampled_from(keys), max_size=3, unique=True)))
    filters = {}
    if draw(st.booleans()):
        column = draw(st.sampled_from(sorted(VALUES)))
        value = draw(st.sampled_from([v for v in VALUES[column] if v is not None]))
        filters[KEY_OF_COLUMN[column]] = value
    if draw(st.booleans()):
        filters["status"] = str(draw(st.sampled_from([200, 429, 0])))
    only_user = draw(st.sampled_from([None, None, "u1"]))
    return UsageQuery(start, start + timedelta(minutes=length), group_by, filters, only_user)


def _oracle(rows: list[dict], query: UsageQuery) -> dict[tuple, dict]:
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        key = report_key(row, query)
        if key is None:
            continue
        groups.setdefault(key, []).append(row)
    out = {}
    for key, members in groups.items():
        costs = [m["cost_usd"] for m in members if m["cost_usd"] is not None]
        durations = [m["duration_ms"] for m in members if m["duration_ms"] is not None]
        out[key] = {
            "requests": len(members),
            "failedRequests": sum(1 for m in members if m["status"] == 0 or m["status"] >= 400),
            "promptTokens": sum(m["prompt_tokens"] for m in members),
            "totalTokens": sum(m["total_tokens"] for m in members),
            "cachedTokens": sum(m["cached_tokens"] for m in members),
            "reasoningTokens": sum(m["reasoning_tokens"] for m in members),
            "estimatedTokensRequests": sum(1 for m in members if m["tokens_estimated"]),
            "unpricedRequests": len(members) - len(costs),
            "costUsd": sum(costs) if costs else None,
            "avgDurationMs": sum(durations) / len(durations) if durations else None,
        }
    return out


def _same(result_rows: list[dict], expected: dict[tuple, dict], group_by: tuple[str, ...]) -> None:
    got = {tuple(row[k] for k in group_by): row for row in result_rows}
    assert len(got) == len(result_rows), "a key appears twice"
    assert set(got) == set(expected)
    for key, figures in expected.items():
        for name, value in figures.items():
            if value is None or isinstance(value, float):
                assert (got[key][name] is None) == (value is None), (key, name)
                if value is not None:
                    assert math.isclose(got[key][name], value, rel_tol=1e-6, abs_tol=0.06), (key, name)
            else:
                assert got[key][name] == value, (key, name, got[key][name], value)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(records=call_records(), queries=st.lists(usage_queries(), min_size=1, max_size=6), data=st.data())
def test_rollups_give_the_raw_scan_figures_for_random_ranges_groupings_and_callers(records, queries, data):
    store = SqlStore.from_url("sqlite://")
    try:
        half = len(records) // 2
        batches = [records[:half], records[half:], _redeliveries(records, data.draw)]
        for batch in batches:
            with store.write() as conn:
                record_calls(store, conn, batch, now=datetime(2026, 12, 1), reprice=lambda _record: None)
        with store.read() as conn:
            raw = [dict(row) for row in conn.execute(select(calls)).mappings()]
            _cumulative_cuts_hold_month_to_date_sums(conn, raw)
            for query in queries:
                expected = _oracle(raw, query)
                _same(query_usage(conn, query).rows, expected, query.group_by)
                _same(query_usage(conn, replace(query, narrow_rollups=False)).rows, expected, query.group_by)
                keys = tuple(k for k in query.group_by if k not in ("day", "hour"))
                series = query_timeseries(conn, replace(query, group_by=keys), "hour")
                assert sum(row["requests"] for row in series.rows) == sum(f["requests"] for f in expected.values())
    finally:
        store.dispose()


def _cumulative_cuts_hold_month_to_date_sums(conn, raw: list[dict]) -> None:
    """Every cumulative row = the calls of its key from the start of its period (month or day) through its
    bucket (day or hour); and every key called in a period has a row in each bucket from its first call to the
    period's last materialized bucket. Day-to-hour sums start at the first day written (late days before it
    are left to the hourly rollup)."""
    for family in (MONTH_TO_DATE, DAY_TO_HOUR):
        period_column, last_column = family.marks.c
        marks = {
            aware_utc(p).replace(tzinfo=None): aware_utc(last).replace(tzinfo=None)
            for p, last in conn.execute(select(period_column, last_column))
        }
        for cut, table in family.tables.items():
            kept = ROLLUP_CUTS[cut]
            stored = {
                (aware_utc(r[family.bucket]).replace(tzinfo=None), tuple(r[d] for d in kept)): (
                    r["requests"],
                    r["total_tokens"],
                )
                for r in conn.execute(select(table)).mappings()
            }
            expected: dict[tuple, list[int]] = {}
            for row in raw:
                moment = aware_utc(row["time"]).replace(tzinfo=None)
                bucket = moment.replace(
                    minute=0, second=0, microsecond=0, **({"hour": 0} if family.bucket == "day" else {})
                )
                key = tuple(row[d] if row[d] is not None else "" for d in kept)
                if family is DAY_TO_HOUR and family.period_of(bucket) < min(marks):
                    continue  # a day before the first one kept: its hours are read from the hourly rollup
                last = marks[family.period_of(bucket)]
                while bucket <= last:
                    sums = expected.setdefault((bucket, key), [0, 0])
                    sums[0] += 1
                    sums[1] += row["total_tokens"]
                    bucket += family.step
            assert {k: v for k, v in stored.items() if v != (0, 0)} == {k: tuple(v) for k, v in expected.items()}, (
                table.name
            )


def test_a_query_uses_the_narrowest_cut_holding_all_its_keys():
    start, end = BASE, BASE + timedelta(days=30)
    assert choose_cut(UsageQuery(start, end, ("user", "model"))) == "user,model"
    assert choose_cut(UsageQuery(start, end, ("ip", "day"), {"model": "gpt-4o"})) == "ip,model"
    assert choose_cut(UsageQuery(start, end, ("model",), only_user="oid-1")) == "user,model"
    assert choose_cut(UsageQuery(start, end, ("status", "operation"))) == "service"
    assert choose_cut(UsageQuery(start, end, ("user", "ip"))) is None
    assert choose_cut(UsageQuery(start, end, ("user",), narrow_rollups=False)) is None


def test_cumulative_reads_compile_to_tsql_with_bound_values():
    from sqlalchemy.dialects.mssql import pyodbc as mssql_pyodbc  # the dialect only; the driver is not loaded

    from shared.reports.usage_spans import cumulative_query, cumulative_spans, span_parts

    query = UsageQuery(
        BASE + timedelta(days=10), BASE + timedelta(days=40), ("user",), {"model": "gpt-4o"}, only_user="u1"
    )
    statements = [
        cumulative_query(span, query, "user,model") for span in cumulative_spans(query.start, query.end, MONTH_TO_DATE)
    ]
    assert len(statements) == 2  # the range spans two months: each month's sums are read on their own
    for statement in statements:
        tsql = str(statement.compile(dialect=mssql_pyodbc.dialect()))
        assert "usage_cum_user_model" in tsql and "gpt-4o" not in tsql and "u1" not in tsql
    assert "LEFT OUTER JOIN" in str(statements[0].compile(dialect=mssql_pyodbc.dialect()))  # starts mid-month
    # Both months merged by key lookups: the second part keeps only the keys the first month's end lacks.
    first, second = span_parts(cumulative_spans(query.start, query.end, MONTH_TO_DATE), query, "user,model")
    tsql = str(second.compile(dialect=mssql_pyodbc.dialect()))
    assert "NOT (EXISTS (SELECT" in tsql and "e0.dims_key = e1.dims_key" in tsql
    assert "LEFT OUTER JOIN usage_cum_user_model AS e1" in str(first.compile(dialect=mssql_pyodbc.dialect()))


def test_report_expressions_compile_for_each_engine():
    """The day of an hour bucket and the rounded figures are spelled per engine (the tests above run SQLite and
    PostgreSQL; Azure SQL is held to its T-SQL spelling here)."""
    from sqlalchemy import literal_column
    from sqlalchemy.dialects import mssql, postgresql, sqlite

    from shared.reports.usage import _piece_query
    from shared.store.expressions import day_of, round_half_up, rounded

    piece = _piece_query(
        "hourly", BASE, BASE + timedelta(hours=5), UsageQuery(BASE, BASE + timedelta(days=1), ("day", "user"))
    )
    assert "CAST(CAST(usage_hourly_cuts.hour AS DATE) AS DATETIME2)" in str(piece.compile(dialect=mssql.dialect()))
    assert "date_trunc('day', usage_hourly_cuts.hour)" in str(piece.compile(dialect=postgresql.dialect()))
    value = literal_column("x")
    assert str(rounded(value, 6).compile(dialect=mssql.dialect())) == "ROUND(x, 6)"
    assert "round(CAST(x AS numeric), 1)" in str(rounded(value, 1).compile(dialect=postgresql.dialect()))
    assert str(day_of(value).compile(dialect=sqlite.dialect())) == "(substr(x, 1, 10) || ' 00:00:00.000000')"
    assert [round_half_up(v, 1) for v in (358.25, 358.24, 0.05, 0.0)] == [358.3, 358.2, 0.1, 0.0]


def test_a_rolling_30_day_report_reads_cumulative_sums_not_hourly_rows():
    """Ranges that start and end mid-day (the default "last 30 days") read the whole days from the month-to-date
    sums and the edge days' whole hours from the day-to-hour sums: about two rows per key each."""
    from shared.reports.usage import _report_statement

    store = SqlStore.from_url("sqlite://")
    try:
        with store.write() as conn:
            records = [
                CallRecord(
                    call_id=f"c{hours}",
                    time=BASE + timedelta(hours=hours),
                    source="capture/v1",
                    operation="chat.completions",
                    status=200,
                    user_id="u1",
                    model="gpt-4o",
                )
                for hours in (20, 30, 30 * 24 + 2)
            ]  # both edge days and one whole day between
            record_calls(store, conn, records, now=datetime(2026, 12, 1), reprice=lambda _record: None)
        query = UsageQuery(
            BASE + timedelta(hours=13, minutes=27), BASE + timedelta(days=30, hours=13, minutes=27), ("user", "model")
        )
        with store.read() as conn:
            sql = str(_report_statement(conn, query).compile(conn))
            assert query_usage(conn, query).rows[0]["requests"] == 3
    finally:
        store.dispose()
    assert "usage_cumh_user_model" in sql and "usage_cum_user_model" in sql
    assert "usage_hourly_cuts" not in sql and "usage_daily_cuts" not in sql


def test_grouping_by_fewer_keys_than_the_cut_adds_the_cuts_rows_up():
    """`groupBy=user` over whole days from the first of a month is one read of the (user, model) sums: a user
    with two models must still come back as one row."""
    store = SqlStore.from_url("sqlite://")
    november = datetime(2026, 11, 1, tzinfo=UTC)
    try:
        with store.write() as conn:
            record_calls(
                store,
                conn,
                [
                    CallRecord(
                        call_id=f"c{i}",
                        time=november + timedelta(hours=5 + i),
                        source="capture/v1",
                        operation="chat.completions",
                        status=200,
                        user_id="u1",
                        model=f"m{i % 2}",
                        prompt_tokens=10,
                        total_tokens=10,
                    )
                    for i in range(4)
                ],
                now=datetime(2026, 12, 1),
                reprice=lambda _record: None,
            )
        with store.read() as conn:
            rows = query_usage(conn, UsageQuery(november, november + timedelta(days=2), ("user",))).rows
    finally:
        store.dispose()
    assert [(row["user"], row["requests"], row["totalTokens"]) for row in rows] == [("u1", 4, 40)]
