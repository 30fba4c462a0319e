"""Building the PTU read model (`ptu_days`): each closed whole UTC day of each provisioned entry, from the rollups.

A day's row per key of a cut holds the money its calls owe the day's hours, sum over hours h of
    tokens(key, h) x hourlyUsd / tokens(entry, h)
(the same formula as the live path, summed over the day's 24 hours), with their per-token cost, unpriced calls and
tokens; the day's own row holds its tokens, the hours' allocated price, busy hours and peak tokens per minute,
and the change count of the deployment's day it was built from. A day is (re)built when it has no row for the
entry as the plan prices it now, or its change count moved (a late call, a merge: `usage_day_changes`).

The count is read before and after the day is computed, each statement seeing the committed rollups of its own
moment (READ COMMITTED on PostgreSQL and SQL Server): the day is stored only when no writer touched it in
between, since every rollup change moves the count in the same transaction. Otherwise the next refresh retries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Float, and_, case, cast, delete, func, insert, literal, select

from shared.reports.ptu import Provisioned, PtuPlan
from shared.reports.ptu_costs import hour_tokens
from shared.reports.ptu_days import DAY, WEEK, built, current_changes, entry_key, is_fresh, whole_days
from shared.reports.ptu_report import peak_tokens_per_minute
from shared.store.rollups import BLANK_DIMENSIONS, dims_key
from shared.store.schema import ROLLUP_CUTS, ROLLUP_DIMENSIONS, usage_hourly
from shared.store.schema_ptu import ptu_day_shares, ptu_days
from shared.store.times import day_start, naive_utc, stored_time

_BLANKS = dict(zip(ROLLUP_DIMENSIONS, BLANK_DIMENSIONS, strict=True))


@dataclass
class Refreshed:
    built: int = 0  # days (re)built now
    fresh: int = 0  # days already fresh
    moved: int = 0  # days a writer changed while they were built: left for the next refresh
    weeks: int = 0  # weeks (re)built from their days

    def as_json(self) -> dict[str, int]:
        return {"built": self.built, "fresh": self.fresh, "moved": self.moved, "weeks": self.weeks}


def closed_days(entry: Provisioned, now: datetime) -> tuple[datetime, datetime] | None:
    """[first, last) of the entry's whole days that ended by `now`."""
    end = min(entry.end, day_start(naive_utc(now))) if entry.end is not None else day_start(naive_utc(now))
    return whole_days(entry.start, end) if entry.start < end else None


def stale_days(conn: Connection, entry: Provisioned, now: datetime) -> tuple[list[datetime], list[datetime], int]:
    """The entry's closed days that are not fresh, the Mondays of its closed weeks that are not (oldest first), and
    how many days are fresh."""
    closed = closed_days(entry, now)
    if closed is None:
        return [], [], 0
    first, last = closed
    stored, counts = built(conn, entry, first, last), current_changes(conn, entry, first, last)
    days, weeks, fresh, day = [], [], 0, first
    while day < last:
        if is_fresh(stored.get((1, day)), day, 1, counts):
            fresh += 1
        else:
            days.append(day)
        if day.weekday() == 0 and day + WEEK <= last and not is_fresh(stored.get((7, day)), day, 7, counts):
            weeks.append(day)
        day += DAY
    return days, weeks, fresh


def drop_other_entries(conn: Connection, plan: PtuPlan) -> None:
    """Forget the days of entries the plan no longer has (or prices differently)."""
    kept = sorted({entry_key(entry) for entry in plan.entries})
    for table in (ptu_days, ptu_day_shares):
        conn.execute(delete(table).where(table.c.entry_key.not_in(kept)) if kept else delete(table))


def build_day(conn: Connection, entry: Provisioned, day: datetime) -> bool:
    """(Re)build one whole day of the entry; False when a writer changed the day meanwhile (nothing stored)."""
    changes = _changes(conn, entry, day)
    key = entry_key(entry)
    spans = [(day, day + DAY)]
    hours = [(stored_time(hour), int(tokens or 0)) for hour, tokens in conn.execute(hour_tokens(entry, spans))]
    busy = sum(1 for _, tokens in hours if tokens > 0)
    shares = [row for cut in ROLLUP_CUTS for row in _cut_rows(conn, entry, key, cut, day)]
    summary = {
        "entry_key": key,
        "days": 1,
        "day": day,
        "changes": changes,
        "total_tokens": sum(tokens for _, tokens in hours),
        "ptu_usd": busy * entry.hourly_usd,
        "busy_hours": busy,
        "peak_tokens_per_minute": peak_tokens_per_minute(conn, entry, day, day + DAY),
    }
    if _changes(conn, entry, day) != changes:
        return False
    _forget(conn, key, 1, day)
    conn.execute(insert(ptu_days), summary)
    if shares:
        conn.execute(insert(ptu_day_shares), shares)
    return True


def build_week(conn: Connection, entry: Provisioned, monday: datetime) -> bool:
    """(Re)build the week from `monday` as the sum of its seven built days; False when one of them is not fresh
    (a writer changed it since: the next refresh rebuilds the day, then the week)."""
    key, end = entry_key(entry), monday + WEEK
    stored, counts = built(conn, entry, monday, end), current_changes(conn, entry, monday, end)
    day_rows = [monday + i * DAY for i in range(7)]
    if not all(is_fresh(stored.get((1, day)), day, 1, counts) for day in day_rows):
        return False
    _forget(conn, key, 7, monday)
    days = ptu_days.c
    summary = conn.execute(
        select(
            func.sum(days.changes),
            func.sum(days.total_tokens),
            func.sum(days.ptu_usd),
            func.sum(days.busy_hours),
            func.max(days.peak_tokens_per_minute),
        ).where(days.entry_key == key, days.days == 1, days.day.in_(day_rows))
    ).one()
    if int(summary[0]) != sum(counts.get(day, 0) for day in day_rows):
        return False
    conn.execute(
        insert(ptu_days),
        {
            "entry_key": key,
            "days": 7,
            "day": monday,
            "changes": int(summary[0]),
            "total_tokens": int(summary[1]),
            "ptu_usd": float(summary[2]),
            "busy_hours": int(summary[3]),
            "peak_tokens_per_minute": int(summary[4]),
        },
    )
    conn.execute(week_shares(key, monday))
    return True


def week_shares(key: str, monday: datetime):
    """`INSERT INTO ptu_day_shares ... SELECT` the week's rows: its seven days' rows summed per cut and key."""
    shares = ptu_day_shares
    kept = [shares.c.cut, shares.c.dims_key, *(shares.c[dim] for dim in ROLLUP_DIMENSIONS)]
    sums = [func.sum(shares.c[m]) for m in ("ptu_usd", "token_cost_usd", "unpriced", "total_tokens")]
    week = (
        select(literal(key), *kept, literal(7), literal(monday, shares.c.day.type), *sums)
        .where(shares.c.entry_key == key, shares.c.days == 1, shares.c.day >= monday, shares.c.day < monday + WEEK)
        .group_by(*kept)
    )
    names = [
        "entry_key",
        *(c.name for c in kept),
        "days",
        "day",
        "ptu_usd",
        "token_cost_usd",
        "unpriced",
        "total_tokens",
    ]
    return insert(shares).from_select(names, week)


def _forget(conn: Connection, key: str, days: int, day: datetime) -> None:
    for table in (ptu_days, ptu_day_shares):
        conn.execute(delete(table).where(table.c.entry_key == key, table.c.days == days, table.c.day == day))


def _changes(conn: Connection, entry: Provisioned, day: datetime) -> int:
    return current_changes(conn, entry, day, day + DAY).get(day, 0)


def _cut_rows(conn: Connection, entry: Provisioned, key: str, cut: str, day: datetime) -> list[dict[str, Any]]:
    """The day's rows of one cut: per key of the cut, the share, per-token cost, unpriced calls and tokens."""
    kept = ROLLUP_CUTS[cut]
    rows = []
    for *values, ptu_usd, token_cost, unpriced, tokens in conn.execute(cut_statement(entry, cut, day)):
        row = _BLANKS | dict(zip(kept, values, strict=True))
        rows.append(
            row
            | {
                "entry_key": key,
                "cut": cut,
                "days": 1,
                "day": day,
                "dims_key": dims_key(tuple(row[dim] for dim in ROLLUP_DIMENSIONS)),
                "ptu_usd": float(ptu_usd or 0.0),
                "token_cost_usd": float(token_cost or 0.0),
                "unpriced": int(unpriced or 0),
                "total_tokens": int(tokens or 0),
            }
        )
    return rows


def cut_statement(entry: Provisioned, cut: str, day: datetime):
    """Per key of the cut, the day's share, per-token cost, unpriced calls and tokens of the entry's calls."""
    table = usage_hourly
    conditions = [table.c.deployment == entry.deployment, table.c.hour >= day, table.c.hour < day + DAY]
    if entry.backend is not None:
        conditions.append(table.c.backend_id == entry.backend)
    denominator = hour_tokens(entry, [(day, day + DAY)]).subquery("den")
    share = case(
        (
            denominator.c.tokens > 0,
            cast(table.c.total_tokens, Float) * literal(entry.hourly_usd, Float) / cast(denominator.c.tokens, Float),
        ),
        else_=literal(0.0, Float),
    )
    dims = [table.c[dim] for dim in ROLLUP_CUTS[cut]]
    return (
        select(
            *dims,
            func.sum(share),
            func.sum(table.c.cost_usd),
            func.sum(table.c.requests - table.c.priced_requests),
            func.sum(table.c.total_tokens),
        )
        .select_from(table.outerjoin(denominator, table.c.hour == denominator.c.hour))
        .where(and_(*conditions))
        .group_by(*dims)
    )
