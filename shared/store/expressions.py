"""Two SQL expressions that each engine spells its own way, so report queries can finish their figures in SQL.

- `day_of(hour_column)`: the UTC day holding an hour bucket, comparable with the daily rollups' `day`.
- `rounded(value, digits)`: a float rounded half away from zero, as a float (never a Decimal).
- `minute_of(time_column)`: the UTC minute holding a time (a provisioned deployment's peak tokens per minute).
"""

from __future__ import annotations

from sqlalchemy import Float
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import DateTime


class day_of(FunctionElement):  # lower case: reads as a SQL function at the call site
    type = DateTime()
    inherit_cache = True
    name = "day_of"


@compiles(day_of, "sqlite")
def _day_of_sqlite(element, compiler, **kw) -> str:
    # Times are stored as 'YYYY-MM-DD HH:MM:SS.ffffff' text: keep the date, as the daily rollups spell a day.
    return f"(substr({compiler.process(element.clauses, **kw)}, 1, 10) || ' 00:00:00.000000')"


@compiles(day_of, "postgresql")
def _day_of_postgresql(element, compiler, **kw) -> str:
    return f"date_trunc('day', {compiler.process(element.clauses, **kw)})"


@compiles(day_of, "mssql")
def _day_of_mssql(element, compiler, **kw) -> str:
    return f"CAST(CAST({compiler.process(element.clauses, **kw)} AS DATE) AS DATETIME2)"


class minute_of(FunctionElement):  # lower case, like day_of
    type = DateTime()
    inherit_cache = True
    name = "minute_of"


@compiles(minute_of, "sqlite")
def _minute_of_sqlite(element, compiler, **kw) -> str:
    return f"substr({compiler.process(element.clauses, **kw)}, 1, 16)"  # 'YYYY-MM-DD HH:MM', compared only


@compiles(minute_of, "postgresql")
def _minute_of_postgresql(element, compiler, **kw) -> str:
    return f"date_trunc('minute', {compiler.process(element.clauses, **kw)})"


@compiles(minute_of, "mssql")
def _minute_of_mssql(element, compiler, **kw) -> str:
    # DATETRUNC needs SQL Server 2022 / Azure SQL: https://learn.microsoft.com/sql/t-sql/functions/datetrunc-transact-sql
    return f"DATETRUNC(minute, {compiler.process(element.clauses, **kw)})"


class rounded(FunctionElement):  # lower case, like day_of
    type = Float()
    inherit_cache = True
    name = "rounded"


def _operands(element, compiler, **kw) -> tuple[str, int]:
    value, digits = list(element.clauses)
    return compiler.process(value, **kw), int(digits.value)  # digits are a constant of the query, not a parameter


@compiles(rounded)
def _rounded_default(element, compiler, **kw) -> str:
    value, digits = _operands(element, compiler, **kw)
    return f"ROUND({value}, {digits})"


@compiles(rounded, "sqlite")
def _rounded_sqlite(element, compiler, **kw) -> str:
    # SQLite's round() formats and re-parses text; this is the same for the non-negative figures it serves,
    # at a fraction of the cost per row (a 13,000-row report spends ~5 ms less).
    value, digits = _operands(element, compiler, **kw)
    return f"(CAST({value} * {10**digits} + 0.5 AS INTEGER) / {10**digits}.0)"


@compiles(rounded, "postgresql")
def _rounded_postgresql(element, compiler, **kw) -> str:
    value, digits = _operands(element, compiler, **kw)  # round(double precision, int) does not exist there
    return f"CAST(round(CAST({value} AS numeric), {digits}) AS double precision)"


def round_half_up(value: float, digits: int) -> float:
    """What `rounded` computes, for figures finished in Python (the totals)."""
    scale = 10**digits
    return int(value * scale + 0.5) / scale if value >= 0 else -int(-value * scale + 0.5) / scale
