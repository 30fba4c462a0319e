"""`/api/ptu`: each provisioned deployment of `LEDGER_PTU_FILE` over a range, what it cost and who used it.

One item per entry of the file whose window meets the range: its provisioned `hours` (those starting in the
range) and their price (`costUsd`), its calls' `totalTokens`, the share of its hours its calls in the range were
charged (`allocatedUsd`, as the usage rows' `ptuCostUsd`), the price of its hours without tokens (`idleUsd`,
as `ptuIdleCostUsd`), and `peakTokensPerMinute`: the most tokens its calls used within one UTC minute of the
range. Over whole hours, `costUsd` = `allocatedUsd` + `idleUsd`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, select

from shared.reports.ptu import Provisioned, PtuPlan
from shared.reports.ptu_costs import entry_query, idle_usd, live_statement, money
from shared.reports.ptu_days import days_summary, fresh_cover, outside_runs
from shared.reports.usage_query import UsageQuery
from shared.store.expressions import minute_of
from shared.store.schema import calls
from shared.store.times import naive_utc


def ptu_items(conn: Connection, plan: PtuPlan, start: datetime, end: datetime) -> list[dict[str, Any]]:
    items = []
    for entry in plan.entries:
        window = entry.calls_in(naive_utc(start), naive_utc(end))
        if window is None and entry.hours_in(naive_utc(start), naive_utc(end)) is None:
            continue
        hours, idle = idle_usd(conn, entry, start, end)
        allocated, tokens, peak = 0.0, 0, 0
        if window is not None:  # fresh whole days from the read model, the rest live
            cover = fresh_cover(conn, entry, *window)
            tokens, allocated, _, peak = days_summary(conn, entry, cover)
            live = outside_runs(*window, cover.runs)
            scoped = entry_query(UsageQuery(start, end), entry, ())
            statement = live_statement(entry, scoped, (), None, live) if scoped is not None else None
            if statement is not None:
                row = conn.execute(statement).one()
                allocated, tokens = allocated + (row.ptu_usd or 0.0), tokens + int(row.total_tokens or 0)
            peak = max([peak, *(peak_tokens_per_minute(conn, entry, *span) for span in live)])
        items.append(
            {
                "deployment": entry.deployment,
                "backend": entry.backend,
                "ptu": entry.ptu,
                "hours": hours,
                "costUsd": money(hours * entry.hourly_usd),
                "totalTokens": tokens,
                "allocatedUsd": money(allocated),
                "idleUsd": money(idle),
                "peakTokensPerMinute": peak,
            }
        )
    return items


def peak_tokens_per_minute(conn: Connection, entry: Provisioned, start: datetime, end: datetime) -> int:
    """The most tokens the entry's calls in [start, end) used within one UTC minute (0 without calls).

    Read from the raw calls through `ix_calls_deployment_time` (deployment, time, backend, tokens): only the
    deployment's calls of the range, from the index alone."""
    minute = minute_of(calls.c.time)
    conditions = [calls.c.deployment == entry.deployment, calls.c.time >= start, calls.c.time < end]
    if entry.backend is not None:
        conditions.append(calls.c.backend_id == entry.backend)
    per_minute = (
        select(func.sum(calls.c.total_tokens).label("tokens")).where(and_(*conditions)).group_by(minute).subquery()
    )
    return int(conn.execute(select(func.max(per_minute.c.tokens))).scalar() or 0)
