"""Usage totals over a time range, grouped by up to three keys: the read side of chargeback.

A range is answered from the daily rollup for whole days, the hourly rollup for whole hours and the raw calls
only for the partial hours at its edges, then the pieces are summed per key. Where all group and filter keys
fit a narrow rollup ("cut", see `schema.ROLLUP_CUTS`) the pieces read that instead of the wide one, and whole
days and hours come from its cumulative sums (`usage_spans`). The result is the same as a scan of the raw
calls (a test holds it to that) at a fraction of the cost. The whole report is one statement: the database
merges the pieces, finishes the figures and orders the rows, because every Python operation per row is paid
~10,000 times. The query vocabulary (keys, figures, `UsageQuery`) is in `usage_query`.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import lru_cache
from itertools import starmap
from typing import Any

from sqlalchemy import Connection, Select, Subquery, Table, and_, func, literal, select, union_all

from shared.reports.figures import FIGURE_NAMES, FIGURES, figure_columns, figures_of, totals_of_rows
from shared.reports.names import add_names, resolve_name_filters, with_name_keys
from shared.reports.ptu import PTU_FIGURE_NAMES
from shared.reports.teams import with_ids_of_names
from shared.reports.usage_query import (
    FILTER_KEYS,
    GROUP_KEYS,
    INTERVALS,
    KEY_COLUMNS,
    TIME_KEYS,
    UsageQuery,
    key_column,
    key_columns,
    key_conditions,
)
from shared.reports.usage_spans import CumulativeSpan, cumulative_query, cumulative_spans, periods_with_rows, span_parts
from shared.store.expressions import day_of
from shared.store.measures import MEASURE_NAMES, sums_over_calls
from shared.store.rollups import first_period
from shared.store.schema import (
    DAY_TO_HOUR,
    MONTH_TO_DATE,
    ROLLUP_CUTS,
    calls,
    usage_daily,
    usage_daily_cuts,
    usage_hourly,
    usage_hourly_cuts,
)
from shared.store.times import day_start, hour_of, in_utc, naive_utc, stored_time

__all__ = [  # the query vocabulary is re-exported: callers import it from here
    "FIGURES",
    "FILTER_KEYS",
    "GROUP_KEYS",
    "INTERVALS",
    "KEY_COLUMNS",
    "MAX_SERIES_ROWS",
    "TIME_KEYS",
    "SeriesTooLarge",
    "UsageQuery",
    "UsageResult",
    "choose_cut",
    "plan_range",
    "query_timeseries",
    "query_top",
    "query_usage",
    "timeseries_csv_columns",
    "usage_csv_columns",
]
HOUR, DAY = timedelta(hours=1), timedelta(days=1)
_LOOKUP_SPANS = 4  # a 30-day range has at most 4 spans: edge day, month, month, edge day


@dataclass
class UsageResult:
    rows: list[dict[str, Any]]
    totals: dict[str, Any]


def _ceil(moment: datetime, step: timedelta) -> datetime:
    floor = hour_of(moment) if step == HOUR else day_start(moment)
    return floor if floor == moment else floor + step


def plan_range(start: datetime, end: datetime, *, daily_allowed: bool) -> list[tuple[str, datetime, datetime]]:
    """Split [start, end) into ("raw" | "hourly" | "daily", from, to) pieces, coarsest where possible."""
    pieces: list[tuple[str, datetime, datetime]] = []
    # Rollup buckets are UTC hours and days: a range given in another zone (a quota period in Europe/Paris)
    # must be cut on UTC boundaries, or whole buckets straddling its edges would be dropped.
    start, end = in_utc(start), in_utc(end)
    if start >= end:
        return pieces
    first_hour, last_hour = _ceil(start, HOUR), hour_of(end)
    if first_hour >= last_hour:
        return [("raw", start, end)]
    if start < first_hour:
        pieces.append(("raw", start, first_hour))
    first_day, last_day = _ceil(first_hour, DAY), last_hour.replace(hour=0)
    if daily_allowed and first_day < last_day:
        if first_hour < first_day:
            pieces.append(("hourly", first_hour, first_day))
        pieces.append(("daily", first_day, last_day))
        if last_day < last_hour:
            pieces.append(("hourly", last_day, last_hour))
    else:
        pieces.append(("hourly", first_hour, last_hour))
    if last_hour < end:
        pieces.append(("raw", last_hour, end))
    return pieces


def choose_cut(query: UsageQuery) -> str | None:
    """The narrowest cut holding every key the query groups or filters by, or None (use the wide rollup)."""
    if not query.narrow_rollups:
        return None
    needed = key_columns(k for k in (*query.group_by, *query.filters) if k not in TIME_KEYS)
    if query.only_user is not None:
        needed.add("user_id")
    fitting = [(len(dims), name) for name, dims in ROLLUP_CUTS.items() if needed <= set(dims)]
    return min(fitting)[1] if fitting else None


def _piece_query(kind: str, start: datetime, end: datetime, query: UsageQuery):
    """One piece's sums per key: key columns as the rollups store them ('' or 0 for unknown), then `bucket` when
    grouping by time, then the sums of `MEASURES`. Every piece has the same columns, so pieces can be stacked and merged."""
    keys = [k for k in query.group_by if k not in TIME_KEYS]
    cut = choose_cut(query) if kind != "raw" else None
    if kind == "raw":
        table: Table = calls
        time_column, bucket_column = calls.c.time, calls.c.hour
        measures = sums_over_calls(calls)
        columns = [_blank_as_rollups(key_column(calls, k, query)).label(k) for k in keys]
    else:
        if cut is None:
            table = usage_hourly if kind == "hourly" else usage_daily
        else:
            table = usage_hourly_cuts if kind == "hourly" else usage_daily_cuts
        time_column = bucket_column = table.c.hour if kind == "hourly" else table.c.day
        measures = [func.sum(table.c[name]).label(name) for name in MEASURE_NAMES]
        columns = [key_column(table, k, query).label(k) for k in keys]
    bucket = _bucket(query)
    if bucket is not None:
        columns.append(
            (day_of(bucket_column) if bucket == "day" and kind != "daily" else bucket_column).label("bucket")
        )
    conditions = [time_column >= naive_utc(start), time_column < naive_utc(end), *key_conditions(table, query)]
    if cut is not None:
        conditions.insert(0, table.c.cut == cut)
    statement = select(*columns, *measures).where(and_(*conditions))
    if kind == "raw" and not {"user", "subscription"} & {*query.filters} and query.only_user is None:
        # The edges are minutes of calls: walk the time index. SQLite's planner otherwise skip-scans the
        # (user, time) index once per user (5x slower at 10M calls).
        statement = statement.with_hint(calls, "INDEXED BY ix_calls_time", "sqlite")
    return statement.group_by(*[c.element for c in columns]) if columns else statement


def _blank_as_rollups(column):
    """Unknown as the rollups store it: '' (a status is always known)."""
    return column if getattr(column, "name", None) == "status" else func.coalesce(column, "")


def _bucket(query: UsageQuery) -> str | None:
    """The time bucket the pieces carry: the finest time key grouped by (an hour also gives its day)."""
    return "hour" if "hour" in query.group_by else "day" if "day" in query.group_by else None


def _leading(query: UsageQuery) -> list[str]:
    """The columns before the sums in every piece and in the report: the non-time keys, then the bucket."""
    return [*(k for k in query.group_by if k not in TIME_KEYS), *(["bucket"] if _bucket(query) else [])]


def _time_key(bucket: Any, key: str) -> str | None:
    if bucket is None:
        return None
    moment = stored_time(bucket)
    if key == "day":
        return moment.strftime("%Y-%m-%d")
    return moment.strftime("%Y-%m-%dT%H:00:00Z")


def query_usage(conn: Connection, query: UsageQuery) -> UsageResult:
    """One statement: the pieces of the range, merged per key, with the report's figures and order computed by
    the database. Python only names the columns (a 13,000-row report is ~3 us a row, mostly the driver)."""
    # Thousands of short-lived, acyclic dicts: without the pause the cyclic collector runs full passes over
    # every object of the process in the middle (~20 ms each, measured).
    paused = gc.isenabled()
    gc.disable()
    try:
        return _query_usage(conn, query)
    finally:
        if paused:
            gc.enable()


def _query_usage(conn: Connection, query: UsageQuery) -> UsageResult:
    query = resolve_name_filters(conn, query)  # a filter on a named key accepts the id or the name
    if query.teams is not None:  # so do the teams' lists
        query = replace(query, teams=with_ids_of_names(conn, query.teams))
    rows = _fetch(conn, _report_statement(conn, query), raw=conn.dialect.name == "sqlite")
    leading = _leading(query)
    if query.ptu is not None:  # provisioned calls: no per-token cost, a share of their hours instead
        from shared.reports.ptu_costs import adjust_rows, with_ptu_figures

        rows, ptu = adjust_rows(conn, query, rows, len(leading), _bucket(query))
    items = list(starmap(_row_builder((*leading, *FIGURE_NAMES)), rows))
    for i, item in enumerate(items if _bucket(query) else ()):  # keys in the order asked for, times as text
        moment = item.pop("bucket")
        items[i] = {k: _time_key(moment, k) if k in TIME_KEYS else item.pop(k) for k in query.group_by} | item
    result = UsageResult(rows=add_names(conn, items, query.group_by), totals=totals_of_rows(rows, len(leading)))
    if query.ptu is not None:
        with_ptu_figures(result.rows, result.totals, rows, len(leading), ptu)
    return result


def query_top(conn: Connection, query: UsageQuery, limit: int) -> list[dict[str, Any]]:
    """The `limit` rows of `query_usage` that cost most (unpriced last, then most tokens): the database orders and
    cuts, so only those rows are built and named (a dashboard's top 10 of 2,000 users)."""
    query = resolve_name_filters(conn, query)
    statement = _report_statement(conn, query)
    columns = statement.selected_columns
    keys = [columns[k] for k in query.group_by if k not in TIME_KEYS]
    # No NULLS LAST: SQL Server has none. A cost is never negative, so -1 sorts the unpriced rows last.
    order = [func.coalesce(columns.costUsd, literal(-1)).desc(), columns.totalTokens.desc(), *keys]
    rows = _fetch(conn, statement.order_by(None).order_by(*order).limit(limit), raw=conn.dialect.name == "sqlite")
    items = list(starmap(_row_builder((*_leading(query), *FIGURE_NAMES)), rows))
    return add_names(conn, items, query.group_by)


@lru_cache(maxsize=64)
def _row_builder(names: tuple[str, ...]) -> Callable[..., dict[str, Any]]:
    """A function from a report row's values to {name: value}, ignoring the hidden sums past the names.

    A dict display builds the dict in one step: 7.7 ms for 13,000 rows against 12.0 for dict(zip(...)).
    The names are this module's own (group keys are checked against GROUP_KEYS before a query is built).
    """
    if not all(name.isidentifier() for name in names):
        raise ValueError(f"not a column name: {names!r}")
    values = [f"v{i}" for i in range(len(names))]
    source = f"def build({', '.join(values)}, *hidden):\n    return {{{', '.join(f'{n!r}: {v}' for n, v in zip(names, values, strict=True))}}}\n"
    namespace: dict[str, Any] = {}
    exec(source, namespace)  # noqa: S102 - generated from the fixed names above, like collections.namedtuple
    return namespace["build"]


def _report_statement(conn: Connection, query: UsageQuery):
    keys = [k for k in query.group_by if k not in TIME_KEYS]
    bucket = _bucket(query)
    cut = choose_cut(query)
    cumulative_cut = cut if bucket is None else None  # whole days and hours from the cumulative cuts
    pieces: list[Select[Any]] = []
    spans: list[CumulativeSpan] = []
    plan = plan_range(query.start, query.end, daily_allowed="hour" not in query.group_by)
    # Hour-level sums are kept for recent days only: an older day's hours come from the hourly rollup.
    hours_from = (
        first_period(conn, DAY_TO_HOUR) if cumulative_cut and any(kind == "hourly" for kind, _, _ in plan) else None
    )
    for kind, start, end in plan:
        hours_kept = kind == "hourly" and hours_from is not None and naive_utc(start) >= hours_from
        if cumulative_cut is not None and (kind == "daily" or hours_kept):
            family = MONTH_TO_DATE if kind == "daily" else DAY_TO_HOUR
            periods = periods_with_rows(conn, family, cumulative_cut, start, end)
            spans.extend(cumulative_spans(*periods, family) if periods else ())
        else:
            pieces.append(_piece_query(kind, start, end, query))
    # Raw or hourly rows carry no dims_key, so everything is grouped anyway: lookups would add work. Lookups also
    # join each span's part to every later span (quadratic; SQLite joins at most 64 tables): a range over years of
    # months stacks one small part per span instead, so its cost grows with the months that hold calls.
    by_lookups = not pieces and len(spans) <= _LOOKUP_SPANS
    parts: list[Select[Any]] = []
    one_row_per_key = False
    if spans:
        assert cut is not None  # spans are made only from a cumulative cut
        if by_lookups:  # month-to-date spans first: their ends hold the most keys, leaving fewer for the later parts
            parts = span_parts(sorted(spans, key=lambda span: span.family is not MONTH_TO_DATE), query, cut)
            # Pieces are grouped by the query's keys, and the parts of the spans have a row per key of the cut
            # (merged by lookups, across all spans): a row per group key when the query groups by all its keys.
            one_row_per_key = {KEY_COLUMNS.get(k) for k in keys} == set(ROLLUP_CUTS[cut])  # a team is many keys
        else:
            parts = [cumulative_query(span, query, cut) for span in spans]
    if not pieces and not parts:  # an empty range, or only periods without calls
        pieces.append(_piece_query("raw", query.end, query.end, query))
    group = _leading(query)
    if parts and one_row_per_key:
        merged = _stacked(parts, "merged")
    elif len(pieces) == 1 and not parts:
        merged = pieces[0].subquery("merged")
    else:  # the sum per key adds the pieces (and a cut's finer keys) up
        stacked = _stacked([*parts, *pieces], "stacked")
        sum_by_key = select(
            *[stacked.c[name] for name in group], *[func.sum(stacked.c[m]).label(m) for m in MEASURE_NAMES]
        )
        merged = sum_by_key.group_by(*[stacked.c[name] for name in group]).subquery("merged")
    sums = {m: merged.c[m] for m in MEASURE_NAMES}
    # Sums of integers come back as Decimal from PostgreSQL (numeric): cast there, not on SQLite (~4 ms a report).
    columns = [
        *[(merged.c[k] if k == "status" else func.nullif(merged.c[k], "")).label(k) for k in keys],
        *([merged.c.bucket.label("bucket")] if bucket else []),
        *figure_columns(sums, exact=conn.dialect.name == "sqlite"),  # the figures, then the sums they do not show
    ]
    # Time first, then most tokens first, then the keys.
    order = [*([merged.c.bucket] if bucket else []), sums["total_tokens"].desc(), *[merged.c[k] for k in keys]]
    return select(*columns).where(sums["requests"] != 0).order_by(*order)


def _stacked(selects: list[Select[Any]], name: str) -> Subquery:
    """One select, or the UNION ALL of several, as a named subquery. Typed on purpose: mypy (1.20, 2.4) crashes
    inferring `union_all(*parts)` over an unannotated list."""
    return (union_all(*selects) if len(selects) > 1 else selects[0]).subquery(name)


def _fetch(conn: Connection, statement, raw: bool) -> Sequence[Any]:
    """All rows as tuples. On SQLite straight from the driver's cursor: SQLAlchemy's per-row processing would
    cost more than the query (the values are already what we need: text, numbers, and times as ISO text)."""
    result = conn.execute(statement)
    if not raw:
        return result.all()
    try:
        return result.cursor.fetchall()
    finally:
        result.close()


def usage_csv_columns(group_by: Iterable[str], ptu: bool = False) -> list[str]:
    return [*with_name_keys(group_by), *FIGURE_NAMES, *(PTU_FIGURE_NAMES if ptu else ())]


class SeriesTooLarge(ValueError):
    """A series whose buckets times key combinations would be more rows than one answer should carry."""


MAX_SERIES_ROWS = 100_000


def query_timeseries(conn: Connection, query: UsageQuery, interval: str) -> UsageResult:
    """`query_usage` per hour or day: rows carry `time` (the bucket's start, ISO UTC) before their keys.

    Every bucket of the range is present, a bucket without calls with zero figures (null cost and duration, as an
    empty report's totals): a gap in a chart must mean no calls, not a missing point. With group keys, each key
    combination seen in the range has a row in every bucket, so each series is continuous.
    """
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {INTERVALS}, got {interval!r}")
    keys = tuple(k for k in query.group_by if k not in TIME_KEYS)
    per_bucket = replace(query, group_by=(interval, *keys))
    result = query_usage(conn, per_bucket)
    by_bucket: dict[str, list[dict[str, Any]]] = {}
    for row in result.rows:
        bucket = row.pop(interval)
        by_bucket.setdefault(bucket + "T00:00:00Z" if interval == "day" else bucket, []).append(row)
    zero = _ZERO_FIGURES | (dict.fromkeys(PTU_FIGURE_NAMES, 0.0) | {"chargebackUsd": None} if query.ptu else {})
    return UsageResult(rows=_every_bucket(by_bucket, query, interval, zero), totals=result.totals)


def _every_bucket(
    by_bucket: dict[str, list[dict[str, Any]]], query: UsageQuery, interval: str, zero: dict[str, Any]
) -> list[dict[str, Any]]:
    """The rows per bucket with the missing (bucket, key combination) rows added as zeros, in time order."""
    step = HOUR if interval == "hour" else DAY
    moment = hour_of(in_utc(query.start)) if interval == "hour" else day_start(in_utc(query.start))
    buckets = []
    while moment < in_utc(query.end):
        buckets.append(moment.strftime("%Y-%m-%dT%H:00:00Z"))
        moment += step
    # A key combination is everything of a row but its time and figures (names beside ids come with their ids).
    combos = list(
        dict.fromkeys(
            tuple((k, v) for k, v in row.items() if k not in _FIGURE_SET) for rows in by_bucket.values() for row in rows
        )
    ) or [()]
    if len(buckets) * len(combos) > MAX_SERIES_ROWS:
        raise SeriesTooLarge(
            f"{len(buckets):,} buckets x {len(combos):,} key combinations is more than "
            f"{MAX_SERIES_ROWS:,} rows; narrow the range, use day buckets, group by fewer keys or filter"
        )
    rows: list[dict[str, Any]] = []
    for bucket in buckets:
        present = by_bucket.get(bucket, [])
        seen = {tuple((k, v) for k, v in row.items() if k not in _FIGURE_SET) for row in present}
        rows.extend({"time": bucket, **row} for row in present)
        rows.extend({"time": bucket, **dict(combo), **zero} for combo in combos if combo not in seen)
    return rows


_FIGURE_SET = frozenset((*FIGURE_NAMES, *PTU_FIGURE_NAMES))
_ZERO_FIGURES = figures_of(dict.fromkeys(MEASURE_NAMES, 0))


def timeseries_csv_columns(group_by: Iterable[str], ptu: bool = False) -> list[str]:
    return [
        "time",
        *with_name_keys(k for k in group_by if k not in TIME_KEYS),
        *FIGURE_NAMES,
        *(PTU_FIGURE_NAMES if ptu else ()),
    ]
