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
from shared.reports.ptu_days import DAY, current_changes, entry_key, whole_days
from shared.reports.ptu_report import peak_tokens_per_minute
from shared.store.rollups import dims_key
from shared.store.schema import ROLLUP_CUTS, ROLLUP_DIMENSIONS, usage_hourly
from shared.store.schema_ptu import ptu_day_shares, ptu_days, usage_day_changes
from shared.store.times import day_start, naive_utc, stored_time

_BLANKS = {dim: 0 if dim == "status" else "" for dim in ROLLUP_DIMENSIONS}


@dataclass
class Refreshed:
    built: int = 0  # days (re)built now
    fresh: int = 0  # days already fresh
    moved: int = 0  # days a writer changed while they were built: left for the next refresh

    def as_json(self) -> dict[str, int]:
        return {"built": self.built, "fresh": self.fresh, "moved": self.moved}


def closed_days(entry: Provisioned, now: datetime) -> tuple[datetime, datetime] | None:
    """[first, last) of the entry's whole days that ended by `now`."""
    end = min(entry.end, day_start(naive_utc(now))) if entry.end is not None else day_start(naive_utc(now))
    return whole_days(entry.start, end) if entry.start < end else None


def stale_days(conn: Connection, entry: Provisioned, now: datetime) -> tuple[list[datetime], int]:
    """The entry's closed days that are not fresh (oldest first), and how many are."""
    days = closed_days(entry, now)
    if days is None:
        return [], 0
    fresh = {
        stored_time(value)
        for (value,) in conn.execute(
            select(ptu_days.c.day).where(
                ptu_days.c.entry_key == entry_key(entry),
                ptu_days.c.day >= days[0],
                ptu_days.c.day < days[1],
                ptu_days.c.changes == current_changes(entry, ptu_days.c.day),
            )
        )
    }
    stale, day = [], days[0]
    while day < days[1]:
        if day not in fresh:
            stale.append(day)
        day += DAY
    return stale, len(fresh)


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
        "day": day,
        "changes": changes,
        "total_tokens": sum(tokens for _, tokens in hours),
        "ptu_usd": busy * entry.hourly_usd,
        "busy_hours": busy,
        "peak_tokens_per_minute": peak_tokens_per_minute(conn, entry, day, day + DAY),
    }
    if _changes(conn, entry, day) != changes:
        return False
    for table in (ptu_days, ptu_day_shares):
        conn.execute(delete(table).where(table.c.entry_key == key, table.c.day == day))
    conn.execute(insert(ptu_days), summary)
    if shares:
        conn.execute(insert(ptu_day_shares), shares)
    return True


def _changes(conn: Connection, entry: Provisioned, day: datetime) -> int:
    count = select(usage_day_changes.c.changes).where(
        usage_day_changes.c.day == day, usage_day_changes.c.deployment == entry.deployment
    )
    return int(conn.execute(count).scalar() or 0)


def _cut_rows(conn: Connection, entry: Provisioned, key: str, cut: str, day: datetime) -> list[dict[str, Any]]:
    """The day's rows of one cut: per key of the cut, the share, per-token cost, unpriced calls and tokens."""
    kept = ROLLUP_CUTS[cut]
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
    dims = [table.c[dim] for dim in kept]
    statement = (
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
    rows = []
    for *values, ptu_usd, token_cost, unpriced, tokens in conn.execute(statement):
        row = _BLANKS | dict(zip(kept, values, strict=True))
        rows.append(
            row
            | {
                "entry_key": key,
                "cut": cut,
                "day": day,
                "dims_key": dims_key(tuple(row[dim] for dim in ROLLUP_DIMENSIONS)),
                "ptu_usd": float(ptu_usd or 0.0),
                "token_cost_usd": float(token_cost or 0.0),
                "unpriced": int(unpriced or 0),
                "total_tokens": int(tokens or 0),
            }
        )
    return rows
