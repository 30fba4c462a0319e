"""The read model of provisioned hours: whole closed UTC days of each PTU entry, summed once (`ptu_days_build`),
so reports over weeks read a few rows per key and day instead of the wide hourly rollup's row per call.

A day is used only while it is fresh: built for the entry as the plan names it now (`entry_key`: its deployment,
backend and price) and from the rollups as they are now (the day's change count, `usage_day_changes`, is the one
it was built from). Anything else of a range (a stale or unbuilt day, the hours of a day the range or the entry's
window cuts, today) is computed live from the rollups as before: an answer is never stale, only slower.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, func, literal, or_, select

from shared.reports.ptu import Provisioned
from shared.reports.usage_query import UsageQuery, key_column, key_conditions
from shared.store.schema_ptu import ptu_day_shares, ptu_days, usage_day_changes
from shared.store.times import day_start, stored_time

DAY = timedelta(days=1)
Runs = list[tuple[datetime, datetime]]  # [from, to) of consecutive days (naive UTC midnights)


def entry_key(entry: Provisioned) -> str:
    """What a day's read model depends on of the entry: its calls (deployment, backend) and their hours' price.
    Its window is not in it: a day is used only when the window holds all of it."""
    text = "\x1f".join((entry.deployment, entry.backend or "", repr(entry.hourly_usd)))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def whole_days(start: datetime, end: datetime) -> tuple[datetime, datetime] | None:
    """[first, last) of the UTC days all of whose hours are in [start, end) (naive UTC), or None."""
    first = day_start(start)
    first = first if first == start else first + DAY
    last = day_start(end)
    return (first, last) if first < last else None


def current_changes(entry: Provisioned, day):
    """The day's change count of the entry's deployment now (0: never changed since it was generated)."""
    changes = (
        select(usage_day_changes.c.changes)
        .where(usage_day_changes.c.day == day, usage_day_changes.c.deployment == entry.deployment)
        .scalar_subquery()
    )
    return func.coalesce(changes, literal(0))


def fresh_runs(conn: Connection, entry: Provisioned, start: datetime, end: datetime) -> Runs:
    """The runs of fresh built days among the whole days in [start, end) (naive UTC)."""
    days = whole_days(start, end)
    if days is None:
        return []
    fresh = select(ptu_days.c.day).where(
        ptu_days.c.entry_key == entry_key(entry),
        ptu_days.c.day >= days[0],
        ptu_days.c.day < days[1],
        ptu_days.c.changes == current_changes(entry, ptu_days.c.day),
    )
    runs: Runs = []
    for (value,) in conn.execute(fresh.order_by(ptu_days.c.day)):
        day = stored_time(value)
        if runs and runs[-1][1] == day:
            runs[-1] = (runs[-1][0], day + DAY)
        else:
            runs.append((day, day + DAY))
    return runs


def outside_runs(start: datetime, end: datetime, runs: Runs) -> Runs:
    """[start, end) less the runs (which lie within it): what is left to compute live."""
    left, moment = [], start
    for first, last in runs:
        if moment < first:
            left.append((moment, first))
        moment = last
    if moment < end:
        left.append((moment, end))
    return left


def _in_runs(column, runs: Runs):
    return or_(*(and_(column >= first, column < last) for first, last in runs))


def shares_statement(entry: Provisioned, query: UsageQuery, keys: Sequence[str], cut: str, runs: Runs, by_day: bool):
    """Per key of the query (and day when `by_day`), the fresh days' shares, per-token cost, unpriced calls and
    tokens: the same columns as `ptu_costs.live_statement`."""
    table = ptu_day_shares
    grouped = [
        key_column(table, k, query) if k == "status" else func.nullif(key_column(table, k, query), "") for k in keys
    ]
    if by_day:
        grouped.append(table.c.day)
    columns = [column.label(name) for column, name in zip(grouped, [*keys, "bucket"], strict=False)]
    statement = select(
        *columns,
        func.sum(table.c.ptu_usd).label("ptu_usd"),
        func.sum(table.c.token_cost_usd).label("token_cost_usd"),
        func.sum(table.c.unpriced).label("unpriced"),
        func.sum(table.c.total_tokens).label("total_tokens"),
    ).where(
        table.c.entry_key == entry_key(entry),
        table.c.cut == cut,
        _in_runs(table.c.day, runs),
        *key_conditions(table, query),
    )
    return statement.group_by(*grouped) if grouped else statement


def days_summary(conn: Connection, entry: Provisioned, runs: Runs) -> tuple[int, float, int, int]:
    """The fresh days' (tokens, allocated dollars, busy hours, peak tokens per minute)."""
    if not runs:
        return 0, 0.0, 0, 0
    row = conn.execute(
        select(
            func.sum(ptu_days.c.total_tokens),
            func.sum(ptu_days.c.ptu_usd),
            func.sum(ptu_days.c.busy_hours),
            func.max(ptu_days.c.peak_tokens_per_minute),
        ).where(ptu_days.c.entry_key == entry_key(entry), _in_runs(ptu_days.c.day, runs))
    ).one()
    return int(row[0] or 0), float(row[1] or 0.0), int(row[2] or 0), int(row[3] or 0)
