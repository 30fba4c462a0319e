"""The schema is defined once: Azure's T-SQL file is what the schema module renders, and it compiles."""

from datetime import UTC
from pathlib import Path

from shared.store.ddl import render_tsql

ROOT = Path(__file__).resolve().parents[2]


def test_committed_schema_sql_is_what_the_schema_module_renders():
    committed = (ROOT / "infra" / "sql" / "schema.sql").read_text()
    assert committed == render_tsql(), "infra/sql/schema.sql is stale: run `make schema`"


def test_tsql_uses_azure_sql_types_and_creates_every_table_once():
    tsql = render_tsql()
    assert "NVARCHAR(max)" in tsql and "DATETIME2" in tsql and "NTEXT" not in tsql
    for table in ("calls", "call_payloads", "dead_letters", "pending_parts", "usage_hourly", "usage_daily"):
        assert f"IF OBJECT_ID(N'dbo.{table}', N'U') IS NULL" in tsql


def test_the_statements_ingest_and_queries_run_compile_to_tsql():
    from datetime import datetime

    from sqlalchemy.dialects.mssql import pyodbc as mssql_pyodbc  # the dialect only; the driver is not loaded

    from shared.reports.usage import UsageQuery, _piece_query
    from shared.store.rollups import rollup_update
    from shared.store.schema import calls, usage_daily, usage_hourly

    dialect = mssql_pyodbc.dialect()
    update = rollup_update(usage_hourly, "hour").compile(dialect=dialect)
    assert "UPDATE usage_hourly SET requests=(usage_hourly.requests +" in str(update)
    assert "WHERE usage_hourly.hour =" in str(update)
    assert "usage_daily" in str(rollup_update(usage_daily, "day").compile(dialect=dialect))
    query = UsageQuery(
        datetime(2026, 11, 1, tzinfo=UTC),
        datetime(2026, 11, 2, tzinfo=UTC),
        ("user", "day"),
        {"model": "gpt-4o"},
    )
    for kind in ("raw", "hourly", "daily"):
        tsql = str(_piece_query(kind, query.start, query.end, query).compile(dialect=dialect))
        assert "GROUP BY" in tsql and "gpt-4o" not in tsql  # bound parameters, never inlined request values
    assert "INSERT INTO calls" in str(calls.insert().compile(dialect=dialect))
