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
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, func, or_, select

from shared.reports.ptu import Provisioned
from shared.reports.usage_query import UsageQuery, key_column, key_conditions
from shared.store.schema_ptu import ptu_day_shares, ptu_days, usage_day_changes
from shared.store.times import day_start, stored_time

DAY, WEEK = timedelta(days=1), timedelta(days=7)
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


def current_changes(conn: Connection, entry: Provisioned, first: datetime, last: datetime) -> dict[datetime, int]:
    """The change count now of each day in [first, last) of the entry's deployment (absent: 0, never changed)."""
    table = usage_day_changes
    rows = conn.execute(
        select(table.c.day, table.c.changes).where(
            table.c.deployment == entry.deployment, table.c.day >= first, table.c.day < last
        )
    )
    return {stored_time(day): int(changes) for day, changes in rows}


def built(conn: Connection, entry: Provisioned, first: datetime, last: datetime) -> dict[tuple[int, datetime], int]:
    """{(days, day): the change count it was built from} of the entry's built days and weeks starting in [first, last)."""
    rows = conn.execute(
        select(ptu_days.c.days, ptu_days.c.day, ptu_days.c.changes).where(
            ptu_days.c.entry_key == entry_key(entry), ptu_days.c.day >= first, ptu_days.c.day < last
        )
    )
    return {(int(days), stored_time(day)): int(changes) for days, day, changes in rows}


def is_fresh(stored: int | None, day: datetime, days: int, now: dict[datetime, int]) -> bool:
    """Whether a day or week built from `stored` changes is fresh: counts only grow, so an equal sum means every
    day's count is the one it was built from."""
    return stored is not None and stored == sum(now.get(day + i * DAY, 0) for i in range(days))


@dataclass(frozen=True)
class Cover:
    """The fresh built weeks and days that cover whole days of a range (weeks where they can: 7x fewer rows)."""

    days: Runs  # runs of single days
    weeks: tuple[datetime, ...]  # Mondays

    @property
    def runs(self) -> Runs:
        """All the days covered, as runs."""
        spans = sorted([*self.days, *((monday, monday + WEEK) for monday in self.weeks)])
        runs: Runs = []
        for first, last in spans:
            if runs and runs[-1][1] == first:
                runs[-1] = (runs[-1][0], last)
            else:
                runs.append((first, last))
        return runs

    def __bool__(self) -> bool:
        return bool(self.days or self.weeks)


def fresh_cover(conn: Connection, entry: Provisioned, start: datetime, end: datetime, *, weeks: bool = True) -> Cover:
    """The fresh built weeks (unless not `weeks`: a report by day) and days among the whole days in [start, end)
    (naive UTC)."""
    whole = whole_days(start, end)
    if whole is None:
        return Cover([], ())
    first, last = whole
    stored, now = built(conn, entry, first, last), current_changes(conn, entry, first, last)
    days: Runs = []
    mondays: list[datetime] = []
    day = first
    while day < last:
        if weeks and day.weekday() == 0 and day + WEEK <= last and is_fresh(stored.get((7, day)), day, 7, now):
            mondays.append(day)
            day += WEEK
            continue
        if is_fresh(stored.get((1, day)), day, 1, now):
            if days and days[-1][1] == day:
                days[-1] = (days[-1][0], day + DAY)
            else:
                days.append((day, day + DAY))
        day += DAY
    return Cover(days, tuple(mondays))


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


def _in_cover(table, cover: Cover):
    days = [and_(table.c.days == 1, table.c.day >= first, table.c.day < last) for first, last in cover.days]
    weeks = [and_(table.c.days == 7, table.c.day.in_(cover.weeks))] if cover.weeks else []
    return or_(*days, *weeks)


def shares_statement(entry: Provisioned, query: UsageQuery, keys: Sequence[str], cut: str, cover: Cover, by_day: bool):
    """Per key of the query (and day when `by_day`: days only, never weeks), the covered days' shares, per-token cost, unpriced calls and
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
        _in_cover(table, cover),
        *key_conditions(table, query),
    )
    return statement.group_by(*grouped) if grouped else statement


def days_summary(conn: Connection, entry: Provisioned, cover: Cover) -> tuple[int, float, int, int]:
    """The covered days' (tokens, allocated dollars, busy hours, peak tokens per minute)."""
    if not cover:
        return 0, 0.0, 0, 0
    row = conn.execute(
        select(
            func.sum(ptu_days.c.total_tokens),
            func.sum(ptu_days.c.ptu_usd),
            func.sum(ptu_days.c.busy_hours),
            func.max(ptu_days.c.peak_tokens_per_minute),
        ).where(ptu_days.c.entry_key == entry_key(entry), _in_cover(ptu_days, cover))
    ).one()
    return int(row[0] or 0), float(row[1] or 0.0), int(row[2] or 0), int(row[3] or 0)
