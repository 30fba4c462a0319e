"""Provisioned throughput in usage reports: a provisioned call's per-token cost is taken out of `costUsd`, and
each provisioned hour's price (`hourlyUsd`) is shared among that hour's calls on the deployment by `totalTokens`.

A row's `ptuCostUsd` is, over the hours h of each provisioned entry (`ptu.Provisioned`),
    hourlyUsd x (the row's tokens on the entry in h) / (all tokens on the entry in h)
and `chargebackUsd` is `costUsd + ptuCostUsd`. An hour whose calls on the entry used no tokens (or that has no
calls) is idle: nobody is charged, and the report's totals carry it as `ptuIdleCostUsd`.

A range that cuts an hour: a call's share is its share of its whole hour (the denominator is always the whole
hour, from the hourly rollup), so shares add up across ranges and a partial range shows the calls inside it; an
hour's idle cost counts in the range where the hour starts. A range of whole hours is exact.

Applied when a report is read, never at ingest: the report's own statement is unchanged, and statements per
provisioned entry, restricted to the entry's deployment and window, give each report key its adjustment: the
range's fresh closed weeks and days from the read model (`ptu_days`, the same sums made once), the rest live
(whole hours from the rollups, the range's partial hours from the raw calls). Money is rounded once, at the end.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Float, and_, case, cast, func, literal, or_, select

from shared.reports.figures import FIGURES, HIDDEN_SUMS, row_with_sums, sums_of_row
from shared.reports.ptu import Provisioned, PtuPlan, ceil_hour
from shared.reports.ptu_days import Cover, Runs, days_summary, fresh_cover, outside_runs, shares_statement
from shared.reports.usage import choose_cut, plan_range
from shared.reports.usage_query import TIME_KEYS, UsageQuery, key_column, key_conditions
from shared.store.expressions import day_of, round_half_up
from shared.store.schema import calls, usage_hourly, usage_hourly_cuts
from shared.store.times import hour_of, naive_utc, stored_time

_HOUR = timedelta(hours=1)
_DENOMINATOR_CUT = "service"  # the narrowest cut with deployment and backend_id
_PTU_CHANGES = frozenset({"cost_usd", "priced_requests"})  # what a share changes of a report row's sums


@dataclass
class KeyShare:
    """What the provisioned calls of one report key change: their per-token cost goes, their hours' share comes."""

    ptu_usd: float = 0.0
    token_cost_usd: float = 0.0  # their per-token cost, taken out of costUsd
    unpriced: int = 0  # their calls without a per-token price: priced at 0 now


@dataclass
class PtuAdjustment:
    """The PTU figures of one report: per row (by position), and the totals'."""

    shares: list[float] = field(default_factory=list)
    idle_usd: float | None = 0.0  # None: a report limited to one caller's own rows (idle hours are everyone's)


def admits(filters: Any, key: str, value: str | None) -> bool:
    """Whether a report's filter on `key` (absent, a value or a tuple of values) lets calls with `value` in."""
    wanted = filters.get(key)
    if wanted is None or value is None:
        return True
    return value in wanted if isinstance(wanted, tuple) else value == wanted


def entry_query(query: UsageQuery, entry: Provisioned, keys: Sequence[str]) -> UsageQuery | None:
    """The query's calls on `entry`, grouped by `keys` and hour; None when its filters exclude the entry."""
    if not (admits(query.filters, "deployment", entry.deployment) and admits(query.filters, "backend", entry.backend)):
        return None
    filters = {**query.filters, "deployment": entry.deployment}
    if entry.backend is not None:
        filters["backend"] = entry.backend
    return replace(query, group_by=(*keys, "hour"), filters=filters)


def entry_statements(conn: Connection, entry: Provisioned, query: UsageQuery, bucket: str | None) -> list:
    """Per key of the query (and `bucket`: "hour", "day" or None), the share of the entry's hours its calls in the
    query's range hold, their per-token cost, unpriced calls and tokens: a statement for the range's fresh whole
    days from the read model (`ptu_days`) when the query fits a cut, one for the rest computed live. A key may
    have a row in each: the caller adds them. Empty when nothing of the range is provisioned."""
    keys = [k for k in query.group_by if k not in TIME_KEYS]
    window = entry.calls_in(naive_utc(query.start), naive_utc(query.end))
    scoped = entry_query(query, entry, keys)
    if window is None or scoped is None:
        return []
    cut = choose_cut(query) if bucket != "hour" else None
    cover = fresh_cover(conn, entry, *window, weeks=bucket is None) if cut is not None else Cover([], ())
    statements = [shares_statement(entry, query, keys, cut, cover, bucket == "day")] if cut and cover else []
    live = live_statement(entry, scoped, keys, bucket, outside_runs(*window, cover.runs))
    return statements if live is None else [*statements, live]


def live_statement(entry: Provisioned, scoped: UsageQuery, keys: Sequence[str], bucket: str | None, spans: Runs):
    """`entry_statements` computed from the rollups (whole hours) and the raw calls (the partial hours at the
    spans' edges), over the spans ([from, to) pieces of the entry's window); None without spans."""
    if not spans:
        return None
    pieces = [
        _rows(kind, s, e, scoped, keys) for span in spans for kind, s, e in plan_range(*span, daily_allowed=False)
    ]
    numerator = (pieces[0] if len(pieces) == 1 else pieces[0].union_all(*pieces[1:])).subquery("num")
    denominator = hour_tokens(entry, [(hour_of(s), ceil_hour(e)) for s, e in spans]).subquery("den")
    tokens = numerator.c.total_tokens
    share = case(
        (
            denominator.c.tokens > 0,
            cast(tokens, Float) * literal(entry.hourly_usd, Float) / cast(denominator.c.tokens, Float),
        ),
        else_=literal(0.0, Float),
    )
    grouped = [numerator.c[k] if k == "status" else func.nullif(numerator.c[k], "") for k in keys]
    if bucket is not None:
        grouped.append(numerator.c.bucket if bucket == "hour" else day_of(numerator.c.bucket))
    columns = [column.label(name) for column, name in zip(grouped, [*keys, "bucket"], strict=False)]
    statement = select(
        *columns,
        func.sum(share).label("ptu_usd"),
        func.sum(numerator.c.cost_usd).label("token_cost_usd"),
        func.sum(numerator.c.requests - numerator.c.priced_requests).label("unpriced"),
        func.sum(tokens).label("total_tokens"),
    ).select_from(numerator.outerjoin(denominator, numerator.c.bucket == denominator.c.hour))
    return statement.group_by(*grouped) if grouped else statement


def _rows(kind: str, start: datetime, end: datetime, scoped: UsageQuery, keys: Sequence[str]):
    """The rows of one piece of the range, ungrouped: a share is linear in tokens, so the one GROUP BY of
    `live_statement` does all the adding (whole hours: rollup rows, the narrowest cut that fits; the range's
    partial hours: raw calls, through the (deployment, time) index)."""
    if kind == "raw":
        columns = [
            (calls.c.status if k == "status" else func.coalesce(key_column(calls, k, scoped), "")).label(k)
            for k in keys
        ]
        measures = [
            calls.c.hour.label("bucket"),
            calls.c.total_tokens,
            func.coalesce(calls.c.cost_usd, 0.0).label("cost_usd"),
            literal(1).label("requests"),
            case((calls.c.cost_usd.is_(None), 0), else_=1).label("priced_requests"),
        ]
        conditions = [calls.c.time >= start, calls.c.time < end, *key_conditions(calls, scoped)]
        return select(*columns, *measures).where(and_(*conditions))
    cut = choose_cut(scoped)
    table = usage_hourly if cut is None else usage_hourly_cuts
    columns = [key_column(table, k, scoped).label(k) for k in keys]
    measures = [
        table.c.hour.label("bucket"),
        table.c.total_tokens,
        table.c.cost_usd,
        table.c.requests,
        table.c.priced_requests,
    ]
    conditions = [table.c.hour >= start, table.c.hour < end, *key_conditions(table, scoped)]
    if cut is not None:
        conditions.insert(0, table.c.cut == cut)
    return select(*columns, *measures).where(and_(*conditions))


def hour_tokens(entry: Provisioned, spans: Runs):
    """All tokens of the entry's calls per hour in the spans ([first, last) of whole hours), from the hourly
    service cut."""
    table = usage_hourly_cuts
    conditions = [
        table.c.cut == _DENOMINATOR_CUT,
        or_(*(and_(table.c.hour >= first, table.c.hour < last) for first, last in spans)),
        table.c.deployment == entry.deployment,
    ]
    if entry.backend is not None:
        conditions.append(table.c.backend_id == entry.backend)
    return (
        select(table.c.hour, func.sum(table.c.total_tokens).label("tokens"))
        .where(and_(*conditions))
        .group_by(table.c.hour)
    )


def busy_hours(conn: Connection, entry: Provisioned, spans: Runs) -> int:
    """How many hours in the spans (whole hours) had tokens on the entry."""
    if not spans:
        return 0
    hours = hour_tokens(entry, spans).having(func.sum(usage_hourly_cuts.c.total_tokens) > 0).subquery()
    return int(conn.execute(select(func.count()).select_from(hours)).scalar_one())


def idle_usd(conn: Connection, entry: Provisioned, start: datetime, end: datetime) -> tuple[int, float]:
    """The entry's provisioned hours starting in [start, end), and the price of those without tokens (the fresh
    whole days' busy hours from the read model, the other hours' from the rollup)."""
    hours = entry.hours_in(naive_utc(start), naive_utc(end))
    if hours is None:
        return 0, 0.0
    count = int((hours[1] - hours[0]) / _HOUR)
    cover = fresh_cover(conn, entry, *hours)
    busy = days_summary(conn, entry, cover)[2] + busy_hours(conn, entry, outside_runs(*hours, cover.runs))
    return count, (count - busy) * entry.hourly_usd


def key_shares(conn: Connection, query: UsageQuery, plan: PtuPlan, bucket: str | None) -> dict[tuple, KeyShare]:
    """Each report key's `KeyShare`, over every entry of the plan (a key's bucket as a datetime)."""
    found: dict[tuple, KeyShare] = {}
    for entry in plan.entries:
        for statement in entry_statements(conn, entry, query, bucket):
            for *key, ptu_usd, token_cost, unpriced, _tokens in conn.execute(statement).all():
                if bucket is not None:
                    key[-1] = stored_time(key[-1])
                share = found.setdefault(tuple(key), KeyShare())
                share.ptu_usd += ptu_usd or 0.0
                share.token_cost_usd += token_cost or 0.0
                share.unpriced += int(unpriced or 0)
    return found


def adjust_rows(
    conn: Connection, query: UsageQuery, rows: Sequence[Sequence[Any]], width: int, bucket: str | None
) -> tuple[list[Sequence[Any]], PtuAdjustment]:
    """The report's rows (keys, figures, hidden sums) with provisioned calls at 0 per token, and their shares."""
    plan = query.ptu
    assert plan is not None
    shares = key_shares(conn, query, plan, bucket)
    adjusted: list[Sequence[Any]] = []
    adjustment = PtuAdjustment()
    for row in rows:
        key = tuple(row[:width]) if bucket is None else (*row[: width - 1], stored_time(row[width - 1]))
        share = shares.get(key)
        if share is None:
            adjusted.append(row)
            adjustment.shares.append(0.0)
            continue
        sums = sums_of_row(row, width)
        sums["cost_usd"] = max(0.0, (sums["cost_usd"] or 0.0) - share.token_cost_usd)  # never -0.0 from rounding
        sums["priced_requests"] += share.unpriced
        adjusted.append(row_with_sums(row, width, sums, _PTU_CHANGES))
        adjustment.shares.append(share.ptu_usd)
    if query.only_user is not None:
        adjustment.idle_usd = None
    else:
        adjustment.idle_usd = sum(
            idle_usd(conn, entry, query.start, query.end)[1]
            for entry in plan.entries
            if admits(query.filters, "deployment", entry.deployment) and admits(query.filters, "backend", entry.backend)
        )
    return adjusted, adjustment


def money(value: float) -> float:
    return round_half_up(value, 6)


def with_ptu_figures(
    items: list[dict[str, Any]],
    totals: dict[str, Any],
    rows: Sequence[Sequence[Any]],
    width: int,
    adjustment: PtuAdjustment,
) -> None:
    """Add `ptuCostUsd` and `chargebackUsd` to each row and the totals (and `ptuIdleCostUsd` to the totals)."""
    cost_at = width + len(FIGURES) + HIDDEN_SUMS.index("cost_usd")
    for item, row, share in zip(items, rows, adjustment.shares, strict=True):
        item["ptuCostUsd"] = money(share) if share else 0.0  # most rows of a report have no provisioned calls
        item["chargebackUsd"] = None if item["costUsd"] is None else money((row[cost_at] or 0.0) + share)
    total_share = sum(adjustment.shares)
    total_cost = sum(row[cost_at] or 0.0 for row in rows)
    totals["ptuCostUsd"] = money(total_share)
    totals["chargebackUsd"] = None if totals["costUsd"] is None else money(total_cost + total_share)
    totals["ptuIdleCostUsd"] = None if adjustment.idle_usd is None else money(adjustment.idle_usd)
