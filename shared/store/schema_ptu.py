"""Tables of the provisioned-throughput (PTU) read model, added to the ledger's metadata.

`usage_day_changes` counts, per UTC day and deployment, the transactions that changed the rollups of its calls
(written with the rollups, in the same transaction: `rollups.RollupDeltas.apply`). A read model built from a
day's rollups records the count it saw; a different count now means the day changed since (a late call, a merge),
so the read model of that day is stale. No row: no change since the day was generated (0).

`ptu_days` and `ptu_day_shares` hold, per provisioned entry (`entry_key`: a hash of its deployment, backend and
price) and closed UTC day (`days` 1), or week from a Monday (`days` 7, the sum of its seven days), what the
reports need of those provisioned hours: the totals, and each key's share at the grain of every rollup cut
(`schema.ROLLUP_CUTS`). They are derived data (`reports.ptu_days`), never
the only copy: a refresh rebuilds any day from the rollups.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, Integer, PrimaryKeyConstraint, String, Table

from shared.store.schema import NAME, UTC_TIME, dimension_columns, metadata

usage_day_changes = Table(
    "usage_day_changes",
    metadata,
    Column("day", UTC_TIME, nullable=False),
    Column("deployment", NAME, nullable=False),  # '' for calls without one
    Column("changes", BigInteger, nullable=False),
    PrimaryKeyConstraint("day", "deployment", name="pk_usage_day_changes"),
)

ptu_days = Table(
    "ptu_days",
    metadata,
    Column("entry_key", String(32), nullable=False),
    Column("days", Integer, nullable=False),  # 1: a day; 7: the week starting on `day` (a Monday)
    Column("day", UTC_TIME, nullable=False),
    Column("changes", BigInteger, nullable=False),  # usage_day_changes of the deployment's days when built (summed)
    Column("total_tokens", BigInteger, nullable=False),
    Column("ptu_usd", Float, nullable=False),  # the share of the day's hours its calls were charged
    Column("busy_hours", Integer, nullable=False),  # hours with tokens (the others are idle)
    Column("peak_tokens_per_minute", BigInteger, nullable=False),
    PrimaryKeyConstraint("entry_key", "days", "day", name="pk_ptu_days"),
)

ptu_day_shares = Table(
    "ptu_day_shares",
    metadata,
    Column("entry_key", String(32), nullable=False),
    Column("cut", String(32), nullable=False),
    Column("days", Integer, nullable=False),  # as ptu_days'
    Column("day", UTC_TIME, nullable=False),
    Column("dims_key", String(32), nullable=False),  # as the cut rollups' (all dimensions, the cut's kept)
    *dimension_columns(),
    Column("ptu_usd", Float, nullable=False),
    Column("token_cost_usd", Float, nullable=False),  # the per-token cost the report takes out of costUsd
    Column("unpriced", BigInteger, nullable=False),  # calls without a per-token price, priced at 0 here
    Column("total_tokens", BigInteger, nullable=False),
    # (entry, cut, days, day) leads: a report reads one cut of one entry over runs of days or weeks, contiguous slices.
    PrimaryKeyConstraint("entry_key", "cut", "days", "day", "dims_key", name="pk_ptu_day_shares"),
    sqlite_with_rowid=False,
)
